"""The perceptual loss and its backbones, by name (`gan.perceptual_backbone`): VGG19 (vgg.py)
and ResNet-50/152 (resnet.py), all with torchvision's ImageNet weights, from a file the config
names or else torch's hub cache (downloaded there when online)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from . import resnet, vgg
from .backbone import BackboneWeightsError, FrozenFeatures
from .checkpoint import load_dict


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    title: str  # as messages name it, e.g. "ResNet-50"
    layer_names: Callable[[], list[str]]
    layer_help: str  # the names in words, for errors
    build: Callable[[list[str]], FrozenFeatures]
    weights_url: str
    weights_key: str  # the config key of a weights file
    weights_option: str = ""  # the sr-train option that sets it, if any

    @property
    def weights_file(self) -> str:
        """The file name in torch's hub cache (the URL's, as torch.hub stores it)."""
        return self.weights_url.rsplit("/", 1)[1]


def _resnet(name: str, title: str) -> BackboneSpec:
    return BackboneSpec(name, title, lambda: resnet.layer_names(name), resnet.LAYER_HELP,
                        lambda layers: resnet.ResNetFeatures(name, layers),
                        resnet.WEIGHTS_URLS[name], "gan.resnet_weights")


BACKBONES: dict[str, BackboneSpec] = {
    "vgg19": BackboneSpec("vgg19", "VGG19", vgg.layer_names, vgg.LAYER_HELP, vgg.VGG19Features,
                          vgg.WEIGHTS_URL, "gan.vgg_weights", "--vgg-weights"),
    "resnet50": _resnet("resnet50", "ResNet-50"),
    "resnet152": _resnet("resnet152", "ResNet-152"),
}


def load_backbone(name: str, layers: list[str], weights: str = "", *,
                  allow_download: bool = True) -> FrozenFeatures:
    """Backbone `name` with weights from `weights`, else torch's hub cache, else a download."""
    spec = BACKBONES[name]
    model = spec.build(layers)
    if weights:
        path = Path(weights)
        if not path.is_file():
            raise BackboneWeightsError(f"{spec.title} weights {path} do not exist")
    else:
        path = Path(torch.hub.get_dir()) / "checkpoints" / spec.weights_file
        if not path.is_file():
            if not allow_download:
                raise BackboneWeightsError(_how_to_supply(spec, path, "downloads are off"))
            try:
                state = torch.hub.load_state_dict_from_url(
                    spec.weights_url, progress=True, check_hash=True, map_location="cpu",
                    weights_only=True)
            except Exception as exc:  # offline: URLError, socket errors, HTTP errors, ...
                raise BackboneWeightsError(
                    _how_to_supply(spec, path, f"the download failed: {exc}")) from None
            model.load_torchvision_state_dict(state, spec.weights_url)
            return model
    state = load_dict(path, BackboneWeightsError, f"cannot load {spec.title} weights from {path}",
                      f"{path} does not hold a state dict")
    model.load_torchvision_state_dict(state, str(path))
    return model


def _how_to_supply(spec: BackboneSpec, cache_path: Path, why: str) -> str:
    option = f"pass {spec.weights_option} PATH (or set {spec.weights_key})" \
        if spec.weights_option else f"set {spec.weights_key} (--set {spec.weights_key}=PATH)"
    return (f"the perceptual loss needs ImageNet {spec.title} weights, and none are at "
            f"{cache_path} ({why}).\nDownload {spec.weights_url} on a machine with internet "
            f"access, then either {option} or copy the file to {cache_path}.")


def unknown_layers(backbone: str, layers: list[str]) -> list[str]:
    names = BACKBONES[backbone].layer_names()
    return [layer for layer in layers if layer not in names]


class PerceptualLoss(nn.Module):
    """Weighted distance between backbone features of the output and of the target."""

    def __init__(self, backbone: FrozenFeatures, layer_weights: dict[str, float],
                 criterion: str = "l1"):
        super().__init__()
        self.backbone = backbone
        self.layer_weights = dict(layer_weights)
        self.distance = F.l1_loss if criterion == "l1" else F.mse_loss

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out_features = self.backbone(output)
        with torch.no_grad():
            target_features = self.backbone(target.detach())
        return sum(weight * self.distance(out_features[name], target_features[name])
                   for name, weight in self.layer_weights.items())
