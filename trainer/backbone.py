"""What the perceptual loss's feature networks share: frozen, ImageNet-normalised input, and
weights from a torchvision state dict, checked key by key."""

from __future__ import annotations

import torch
from torch import nn

# ImageNet statistics torchvision's weights were trained with (RGB, 0..1 input)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class BackboneWeightsError(RuntimeError):
    """Backbone weights that cannot be found or do not fit."""


class FrozenFeatures(nn.Module):
    """A frozen feature network whose own state dict keys are torchvision's (a network built only
    as deep as its layers need has a subset of them). Subclasses build the layers and call
    `freeze()` at the end of __init__."""

    name = ""  # as in the error messages, e.g. "vgg19"
    wrong_file_hint = ""  # what a shape mismatch may mean, e.g. "(is it vgg19, not vgg16?)"

    def _normalisation(self) -> None:
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def freeze(self) -> None:
        self._normalisation()
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenFeatures:
        return super().train(False)  # always frozen (BatchNorm keeps its ImageNet statistics)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def load_torchvision_state_dict(self, state: dict, source: str) -> None:
        """Every tensor this network has from `state` (torchvision's keys); others are ignored
        (the classifier, deeper layers)."""
        own = self.state_dict()
        for key, tensor in own.items():
            theirs = state.get(key)
            if theirs is None:
                raise BackboneWeightsError(f"{source} has no {key}: not a torchvision "
                                           f"{self.name} state dict")
            if theirs.shape != tensor.shape:
                raise BackboneWeightsError(
                    f"{source}: {key} has shape {tuple(theirs.shape)}, expected "
                    f"{tuple(tensor.shape)} {self.wrong_file_hint}".rstrip())
        self.load_state_dict({key: state[key] for key in own})
