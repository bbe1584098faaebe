"""SRGAN generator (SRResNet): 9x9 head, residual blocks, PixelShuffle upsampling, PReLU.

BatchNorm is optional and off by default, as in modern practice (EDSR, ESRGAN): it costs
quality and brings train/eval mismatch artifacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .common import scaled_kaiming_init
from .spec import ArchSpec, Layout, LayoutError, LayoutMatch, hparams_of, indices, shape

UPREZ = "SRResNet (uprez)"


@dataclass(frozen=True)
class SRResNetParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64
    num_block: int = 16
    scale: int = 4
    batch_norm: bool = False


class ResidualBlock(nn.Module):
    def __init__(self, num_feat: int, batch_norm: bool):
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(num_feat)) if batch_norm else nn.Identity
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn1 = norm()
        self.act = nn.PReLU(num_feat)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn2 = norm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class SRResNet(nn.Module):
    def __init__(self, params: SRResNetParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale = p.scale
        self.conv_first = nn.Conv2d(p.num_in_ch, p.num_feat, 9, 1, 4)
        self.act_first = nn.PReLU(p.num_feat)
        self.body = nn.Sequential(*[ResidualBlock(p.num_feat, p.batch_norm)
                                    for _ in range(p.num_block)])
        self.conv_body = nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1)
        self.bn_body = nn.BatchNorm2d(p.num_feat) if p.batch_norm else nn.Identity()
        upsample: list[nn.Module] = []
        for factor in upsampling_stages(p.scale):
            upsample += [nn.Conv2d(p.num_feat, p.num_feat * factor * factor, 3, 1, 1),
                         nn.PixelShuffle(factor), nn.PReLU(p.num_feat)]
        self.upsample = nn.Sequential(*upsample)
        self.conv_last = nn.Conv2d(p.num_feat, p.num_out_ch, 9, 1, 4)
        scaled_kaiming_init(self.body, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.act_first(self.conv_first(x))
        feat = feat + self.bn_body(self.conv_body(self.body(feat)))
        return self.conv_last(self.upsample(feat))


def upsampling_stages(scale: int) -> tuple[int, ...]:
    """PixelShuffle factors: one x3 stage, else x2 stages."""
    return (3,) if scale == 3 else (2,) * {2: 1, 4: 2, 8: 3}[scale]


def detect_uprez(state_dict: dict) -> LayoutMatch:
    if not {"conv_first.weight", "act_first.weight", "upsample.0.weight"} <= state_dict.keys():
        return None
    num_feat, num_in_ch = shape(state_dict, "conv_first.weight")[:2]
    scale = 1
    for index in indices(state_dict, r"^upsample\.(\d+)\.weight$"):
        weight = shape(state_dict, f"upsample.{index}.weight")
        if len(weight) == 4:  # the PReLUs between them are 1-D
            factor = math.isqrt(weight[0] // num_feat)
            if factor not in (2, 3) or factor * factor * num_feat != weight[0]:
                raise LayoutError(f"{UPREZ}: upsample.{index} has {weight[0]} output channels, "
                                  f"not {num_feat} x 4 or x 9")
            scale *= factor
    if scale not in SPEC.scales:
        raise LayoutError(f"{UPREZ}: upsampling stages multiply to x{scale}, not one of "
                          f"{SPEC.scales}")
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=shape(state_dict, "conv_last.weight")[0],
                   num_feat=num_feat,
                   num_block=len(indices(state_dict, r"^body\.(\d+)\.conv1\.weight$")),
                   scale=scale, batch_norm="body.0.bn1.weight" in state_dict)
    return hparams, state_dict


SPEC = ArchSpec(
    name="srresnet", module=SRResNet, params=SRResNetParams, scales=(2, 3, 4, 8),
    layouts=(Layout(UPREZ, detect_uprez),),
)
