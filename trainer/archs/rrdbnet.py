"""ESRGAN generator: Residual-in-Residual Dense Blocks, residual scaling 0.2, small init.

Parameter names match BasicSR/Real-ESRGAN (`conv_first`, `body.N.rdb1.conv1`, `conv_body`,
`conv_up1`, ...). For x2 and x1 the input is pixel-unshuffled first (Real-ESRGAN's x2plus), so the
body always works at 1/4 of the output size and the two x2 upsampling stages stay the same.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_scale, scaled_kaiming_init


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
    def __init__(self, *, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_block: int = 23, num_grow_ch: int = 32, scale: int = 4):
        super().__init__()
        check_scale("rrdbnet", scale, (1, 2, 3, 4, 8))
        self.hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                            num_block=num_block, num_grow_ch=num_grow_ch, scale=scale)
        self.scale = scale
        # x2/x1: trade resolution for channels so the body runs at 1/4 of the output size
        self.unshuffle = {2: 2, 1: 4}.get(scale, 1)
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        # upsampling: x3 is one nearest x3 stage; x8 adds a third x2 stage (ESRGAN x8 layout)
        self.up_factors = {3: (3,), 8: (2, 2, 2)}.get(scale, (2, 2))
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        if len(self.up_factors) > 1:
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        if len(self.up_factors) > 2:
            self.conv_up3 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
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
