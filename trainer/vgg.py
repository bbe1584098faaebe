"""VGG19 features for the perceptual loss, defined here (no torchvision), with torchvision's
weights.

The layers are torchvision's `vgg19().features`, so its state dict (`features.N.weight`) loads as
it is. Layer names follow the papers: `conv5_4` is the 4th conv of block 5 before its ReLU (as
ESRGAN uses), `relu5_4` the same after the ReLU (as SRGAN used).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import load_dict

# torchvision's VGG19 configuration "E": conv widths, "M" = 2x2 max pool
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M")
WEIGHTS_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
# ImageNet statistics the weights were trained with (RGB, 0..1 input)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGGWeightsError(RuntimeError):
    """VGG19 weights that cannot be found or do not fit."""


def layer_names() -> list[str]:
    """Names of the entries of `features`, in order: conv1_1, relu1_1, conv1_2, ..., pool5."""
    names, block, conv = [], 1, 0
    for item in _VGG19:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return names


class VGG19Features(nn.Module):
    """Frozen VGG19 feature extractor returning the named layers' outputs for 0..1 RGB input."""

    def __init__(self, layers: list[str]):
        super().__init__()
        names = layer_names()
        unknown = [name for name in layers if name not in names]
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {', '.join(unknown)}; "
                             f"use names like conv5_4 (before ReLU) or relu5_4 (after)")
        self.layers = list(layers)
        depth = max(names.index(name) for name in layers) + 1
        modules: list[nn.Module] = []
        in_ch = 3
        for item in _VGG19:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                # not in-place: a conv output we return must not be overwritten by its ReLU
                modules += [nn.Conv2d(in_ch, item, 3, 1, 1), nn.ReLU()]
                in_ch = item
        self.features = nn.Sequential(*modules[:depth])
        self._index = {name: names.index(name) for name in layers}
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        return super().train(False)  # always frozen

    def load_torchvision_state_dict(self, state: dict, source: str) -> None:
        own = self.features.state_dict()
        for key, tensor in own.items():
            theirs = state.get(f"features.{key}")
            if theirs is None:
                raise VGGWeightsError(f"{source} has no features.{key}: not a torchvision vgg19 "
                                      "state dict")
            if theirs.shape != tensor.shape:
                raise VGGWeightsError(f"{source}: features.{key} has shape {tuple(theirs.shape)}, "
                                      f"expected {tuple(tensor.shape)} (is it vgg19, not "
                                      "vgg16/vgg19_bn?)")
        self.features.load_state_dict({key: state[f"features.{key}"] for key in own})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (x - self.mean) / self.std
        wanted = {index: name for name, index in self._index.items()}
        out = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


def load_vgg19(layers: list[str], weights: str = "", *,
               allow_download: bool = True) -> VGG19Features:
    """VGG19 features with weights from `weights`, else torch's hub cache, else a download."""
    model = VGG19Features(layers)
    if weights:
        path = Path(weights)
        if not path.is_file():
            raise VGGWeightsError(f"VGG19 weights {path} do not exist")
    else:
        path = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
        if not path.is_file():
            if not allow_download:
                raise VGGWeightsError(_how_to_supply(path, "downloads are off"))
            try:
                state = torch.hub.load_state_dict_from_url(
                    WEIGHTS_URL, progress=True, check_hash=True, map_location="cpu",
                    weights_only=True)
            except Exception as exc:  # offline: URLError, socket errors, HTTP errors, ...
                raise VGGWeightsError(_how_to_supply(path, f"the download failed: {exc}")) from None
            model.load_torchvision_state_dict(state, WEIGHTS_URL)
            return model
    state = load_dict(path, VGGWeightsError, f"cannot load VGG19 weights from {path}",
                      f"{path} does not hold a state dict")
    model.load_torchvision_state_dict(state, str(path))
    return model


def _how_to_supply(cache_path: Path, why: str) -> str:
    return (f"the perceptual loss needs ImageNet VGG19 weights, and none are at {cache_path} "
            f"({why}).\nDownload {WEIGHTS_URL} on a machine with internet access, then either "
            f"pass --vgg-weights PATH (or set gan.vgg_weights) or copy the file to {cache_path}.")


class PerceptualLoss(nn.Module):
    """Weighted distance between VGG19 features of the output and of the target."""

    def __init__(self, vgg: VGG19Features, layer_weights: dict[str, float], criterion: str = "l1"):
        super().__init__()
        self.vgg = vgg
        self.layer_weights = dict(layer_weights)
        self.distance = F.l1_loss if criterion == "l1" else F.mse_loss

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out_features = self.vgg(output)
        with torch.no_grad():
            target_features = self.vgg(target.detach())
        return sum(weight * self.distance(out_features[name], target_features[name])
                   for name, weight in self.layer_weights.items())
