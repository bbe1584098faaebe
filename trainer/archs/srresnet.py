"""SRGAN generator (SRResNet): 9x9 head, residual blocks, PixelShuffle upsampling, PReLU.

BatchNorm is optional and off by default, as in modern practice (EDSR, ESRGAN): it costs
quality and brings train/eval mismatch artifacts.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import check_scale, scaled_kaiming_init


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
    def __init__(self, *, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_block: int = 16, scale: int = 4, batch_norm: bool = False):
        super().__init__()
        check_scale("srresnet", scale, (2, 3, 4, 8))
        self.hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                            num_block=num_block, scale=scale, batch_norm=batch_norm)
        self.scale = scale
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 9, 1, 4)
        self.act_first = nn.PReLU(num_feat)
        self.body = nn.Sequential(*[ResidualBlock(num_feat, batch_norm) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.bn_body = nn.BatchNorm2d(num_feat) if batch_norm else nn.Identity()
        stages = (3,) if scale == 3 else (2,) * {2: 1, 4: 2, 8: 3}[scale]
        upsample: list[nn.Module] = []
        for factor in stages:
            upsample += [nn.Conv2d(num_feat, num_feat * factor * factor, 3, 1, 1),
                         nn.PixelShuffle(factor), nn.PReLU(num_feat)]
        self.upsample = nn.Sequential(*upsample)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)
        scaled_kaiming_init(self.body, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.act_first(self.conv_first(x))
        feat = feat + self.bn_body(self.conv_body(self.body(feat)))
        return self.conv_last(self.upsample(feat))
