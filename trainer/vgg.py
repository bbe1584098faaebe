"""VGG19 features for the perceptual loss, defined here (no torchvision), with torchvision's
weights.

The layers are torchvision's `vgg19().features`, so its state dict (`features.N.weight`) loads as
it is. Layer names follow the papers: `conv5_4` is the 4th conv of block 5 before its ReLU (as
ESRGAN uses), `relu5_4` the same after the ReLU (as SRGAN used).
"""

from __future__ import annotations

import torch
from torch import nn

from .backbone import FrozenFeatures

# torchvision's VGG19 configuration "E": conv widths, "M" = 2x2 max pool
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M")
WEIGHTS_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
LAYER_HELP = "conv1_1 .. conv5_4 (before ReLU) or relu1_1 .. relu5_4"


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


class VGG19Features(FrozenFeatures):
    """Frozen VGG19 feature extractor returning the named layers' outputs for 0..1 RGB input."""

    name = "vgg19"
    wrong_file_hint = "(is it vgg19, not vgg16/vgg19_bn?)"

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
        self.freeze()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.normalise(x)
        wanted = {index: name for name, index in self._index.items()}
        out = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return out
