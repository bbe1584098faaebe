"""SRVGG-style compact generator (Real-ESRGAN's SRVGGNetCompact), cheap enough for CPU inference.

Parameter names match Real-ESRGAN's so its `realesr-general-x4v3` / `animevideov3` checkpoints
load as they are: `body` holds conv, activation, conv, activation, ..., last conv.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_scale

ACTIVATIONS = ("prelu", "relu", "leakyrelu")


class Compact(nn.Module):
    def __init__(self, *, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_conv: int = 16, scale: int = 4, act_type: str = "prelu"):
        super().__init__()
        check_scale("compact", scale, (1, 2, 3, 4, 8))
        if act_type not in ACTIVATIONS:
            raise ValueError(f"compact act_type must be one of {ACTIVATIONS}, not {act_type!r}")
        self.hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                            num_conv=num_conv, scale=scale, act_type=act_type)
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), self._act(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), self._act(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    @staticmethod
    def _act(act_type: str, num_feat: int) -> nn.Module:
        if act_type == "prelu":
            return nn.PReLU(num_parameters=num_feat)
        if act_type == "relu":
            return nn.ReLU(inplace=True)
        return nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        # learn the residual over a nearest upsample of the input
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")
