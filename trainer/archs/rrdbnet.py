"""ESRGAN generator: Residual-in-Residual Dense Blocks, residual scaling 0.2, small init.

Parameter names match BasicSR/Real-ESRGAN (`conv_first`, `body.N.rdb1.conv1`, `conv_body`,
`conv_up1`, ...). For x2 and x1 the input is pixel-unshuffled first (Real-ESRGAN's x2plus), so the
body always works at 1/4 of the output size and the two x2 upsampling stages stay the same.
The original ESRGAN repository's two key layouts are renamed to these (esrgan_keys).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import esrgan_keys
from .common import scaled_kaiming_init
from .spec import ArchSpec, Layout, LayoutError, LayoutMatch, hparams_of, indices, shape

# x2/x1: trade resolution for channels so the body runs at 1/4 of the output size; the input
# sides must then be multiples of this factor
UNSHUFFLE = {2: 2, 1: 4}
BASICSR = "RRDBNet (BasicSR/Real-ESRGAN)"
ESRGAN_OLD = "ESRGAN old layout (model.N)"
ESRGAN_NEW = "ESRGAN RRDB_trunk layout"


@dataclass(frozen=True)
class RRDBNetParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    scale: int = 4


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        scaled_kaiming_init(self, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, params: RRDBNetParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale = p.scale
        self.unshuffle = UNSHUFFLE.get(p.scale, 1)
        self.conv_first = nn.Conv2d(p.num_in_ch * self.unshuffle**2, p.num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(p.num_feat, p.num_grow_ch) for _ in range(p.num_block)])
        self.conv_body = nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1)
        # upsampling: x3 is one nearest x3 stage; x8 adds a third x2 stage (ESRGAN x8 layout)
        self.up_factors = {3: (3,), 8: (2, 2, 2)}.get(p.scale, (2, 2))
        self.conv_up1 = nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1)
        if len(self.up_factors) > 1:
            self.conv_up2 = nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1)
        if len(self.up_factors) > 2:
            self.conv_up3 = nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(p.num_feat, p.num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        up_convs = (self.conv_up1, getattr(self, "conv_up2", None), getattr(self, "conv_up3", None))
        for factor, conv in zip(self.up_factors, up_convs, strict=False):
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=factor, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


def _read(state_dict: dict, layout: str) -> LayoutMatch:
    """Hyperparameters of RRDBNet weights in BasicSR names (`layout` names them in messages)."""
    if "conv_first.weight" not in state_dict or "body.0.rdb1.conv1.weight" not in state_dict:
        return None
    num_feat, in_channels = shape(state_dict, "conv_first.weight")[:2]
    num_out_ch = shape(state_dict, "conv_last.weight")[0]
    stages = 1 + ("conv_up2.weight" in state_dict) + ("conv_up3.weight" in state_dict)
    if stages == 2:
        # x2 and x1 pixel-unshuffle the input first (Real-ESRGAN x2plus): 4x / 16x the channels
        by_ratio = {UNSHUFFLE.get(scale, 1) ** 2: scale for scale in (1, 2, 4)}
        ratio = in_channels / num_out_ch
        if ratio not in by_ratio:
            raise LayoutError(
                f"{layout}: conv_first takes {in_channels} channels, which fits no RRDBNet scale "
                f"for {num_out_ch} output channels (expected 1x, 4x or 16x)"
            )
        scale, num_in_ch = by_ratio[ratio], num_out_ch
    else:
        scale, num_in_ch = {1: 3, 3: 8}[stages], in_channels
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                   num_block=len(indices(state_dict, r"^body\.(\d+)\.rdb1\.conv1\.weight$")),
                   num_grow_ch=shape(state_dict, "body.0.rdb1.conv1.weight")[0], scale=scale)
    return hparams, state_dict


def detect_basicsr(state_dict: dict) -> LayoutMatch:
    return _read(state_dict, BASICSR)


def detect_esrgan_old(state_dict: dict) -> LayoutMatch:
    if not esrgan_keys.is_old_layout(state_dict):
        return None
    return _read(esrgan_keys.rename_old_layout(state_dict), ESRGAN_OLD)


def detect_esrgan_new(state_dict: dict) -> LayoutMatch:
    if not esrgan_keys.is_new_layout(state_dict):
        return None
    return _read(esrgan_keys.rename_new_layout(state_dict), ESRGAN_NEW)


SPEC = ArchSpec(
    name="rrdbnet", module=RRDBNet, params=RRDBNetParams, scales=(1, 2, 3, 4, 8),
    layouts=(Layout(BASICSR, detect_basicsr), Layout(ESRGAN_OLD, detect_esrgan_old),
             Layout(ESRGAN_NEW, detect_esrgan_new)),
    size_multiples=UNSHUFFLE,
)
