"""ResNet-50 and ResNet-152 features for the perceptual loss, defined here (no torchvision) in
torchvision's module layout (`conv1`, `bn1`, `layer3.35.conv2.weight`, ...; ResNet v1.5, the
stride in each block's 3x3 conv), so its ImageNet state dicts load as they are.

Layer names: `stem` (conv1, BatchNorm and ReLU, half the input size), `layer1` .. `layer4` (the
outputs of the four stages: 1/4 .. 1/32 of the input size, after their last ReLU), and
`layer<stage>_<block>` for the output of one block, counted from 1 (`layer3_36` is resnet152's
`layer3`).
"""

from __future__ import annotations

import torch
from torch import nn

from .backbone import FrozenFeatures

# blocks per stage, the stage widths (bottleneck in, out = 4x), and torchvision's ImageNet
# weights (IMAGENET1K_V1, the original recipe)
BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet152": (3, 8, 36, 3)}
WEIGHTS_URLS = {"resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
                "resnet152": "https://download.pytorch.org/models/resnet152-394f9c45.pth"}
_WIDTHS = (64, 128, 256, 512)
_EXPANSION = 4
LAYER_HELP = "stem, layer1 .. layer4 (stage outputs) or layer<stage>_<block> (one block's)"


def layer_names(name: str) -> list[str]:
    """The layers of ResNet `name` in order: stem, layer1_1, ..., layer1 (= its last block), ..."""
    names = ["stem"]
    for stage, blocks in enumerate(BLOCKS[name], 1):
        names += [f"layer{stage}_{block}" for block in range(1, blocks + 1)] + [f"layer{stage}"]
    return names


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (with the stride), 1x1 expand, each with BatchNorm; plus the shortcut."""

    def __init__(self, in_ch: int, width: int, stride: int):
        super().__init__()
        out_ch = width * _EXPANSION
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()  # not in-place: a block output we return must stay as it is
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                            nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNetFeatures(FrozenFeatures):
    """Frozen ResNet feature extractor returning the named layers' outputs for 0..1 RGB input;
    built only as deep as the deepest of them."""

    wrong_file_hint = "(is it the same ResNet depth?)"

    def __init__(self, name: str, layers: list[str]):
        super().__init__()
        if name not in BLOCKS:
            raise ValueError(f"unknown ResNet {name!r}; known: {', '.join(BLOCKS)}")
        self.name = name
        names = layer_names(name)
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            raise ValueError(f"unknown {name} layer(s) {', '.join(unknown)}; names are "
                             f"{LAYER_HELP}")
        self.layers = list(layers)
        deepest = max(names.index(layer) for layer in layers)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self._stages = 0
        in_ch = 64
        for stage, (blocks, width) in enumerate(zip(BLOCKS[name], _WIDTHS, strict=True), 1):
            if names.index(f"layer{stage}_1") > deepest:
                break
            stride = 1 if stage == 1 else 2
            modules = []
            for block in range(blocks):
                modules.append(Bottleneck(in_ch, width, stride if block == 0 else 1))
                in_ch = width * _EXPANSION
            setattr(self, f"layer{stage}", nn.Sequential(*modules))
            self._stages = stage
        self.freeze()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = set(self.layers)
        out = {}
        x = self.relu(self.bn1(self.conv1(self.normalise(x))))
        if "stem" in wanted:
            out["stem"] = x
        x = self.maxpool(x)
        for stage in range(1, self._stages + 1):
            for block, module in enumerate(getattr(self, f"layer{stage}"), 1):
                x = module(x)
                if f"layer{stage}_{block}" in wanted:
                    out[f"layer{stage}_{block}"] = x
            if f"layer{stage}" in wanted:
                out[f"layer{stage}"] = x
            if len(out) == len(wanted):
                break  # deeper blocks of this stage are not needed
        return out
