"""SRVGG-style compact generator (Real-ESRGAN's SRVGGNetCompact), cheap enough for CPU inference.

Parameter names match Real-ESRGAN's so its `realesr-general-x4v3` / `animevideov3` checkpoints
load as they are: `body` holds conv, activation, conv, activation, ..., last conv.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from .spec import ArchSpec, Layout, LayoutError, LayoutMatch, hparams_of, indices, shape

_KEY = re.compile(r"^body\.\d+\.(weight|bias)$")
REAL_ESRGAN = "SRVGGNetCompact (Real-ESRGAN)"


@dataclass(frozen=True)
class CompactParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64
    num_conv: int = 16  # convs between the first and the last
    scale: int = 4
    act_type: Literal["prelu", "relu", "leakyrelu"] = "prelu"


class Compact(nn.Module):
    def __init__(self, params: CompactParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale = p.scale
        layers: list[nn.Module] = [nn.Conv2d(p.num_in_ch, p.num_feat, 3, 1, 1),
                                   self._act(p.act_type, p.num_feat)]
        for _ in range(p.num_conv):
            layers += [nn.Conv2d(p.num_feat, p.num_feat, 3, 1, 1),
                       self._act(p.act_type, p.num_feat)]
        layers.append(nn.Conv2d(p.num_feat, p.num_out_ch * p.scale * p.scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(p.scale)

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


def detect_real_esrgan(state_dict: dict) -> LayoutMatch:
    first = state_dict.get("body.0.weight")
    if first is None or len(first.shape) != 4 or any(not _KEY.match(k) for k in state_dict):
        return None
    convs = [i for i in indices(state_dict, r"^body\.(\d+)\.weight$")
             if len(state_dict[f"body.{i}.weight"].shape) == 4]
    if convs != list(range(0, 2 * len(convs), 2)) or len(convs) < 2:
        raise LayoutError(f"{REAL_ESRGAN}: convs at body.{convs}, expected body.0, body.2, ...")
    num_feat, num_in_ch = shape(state_dict, "body.0.weight")[:2]
    if "body.1.weight" not in state_dict:
        raise LayoutError(
            f"{REAL_ESRGAN} without PReLU weights: its activation (relu or leakyrelu) cannot be "
            "read from the weights; export the uprez checkpoint (it records the activation) "
            "instead"
        )
    last_out = shape(state_dict, f"body.{convs[-1]}.weight")[0]
    scale = math.isqrt(last_out // num_in_ch)
    if scale * scale * num_in_ch != last_out or scale not in SPEC.scales:
        raise LayoutError(
            f"{REAL_ESRGAN}: the last conv has {last_out} output channels, which is not "
            f"{num_in_ch} x scale^2 for a supported scale {SPEC.scales}"
        )
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_in_ch, num_feat=num_feat,
                   num_conv=len(convs) - 2, scale=scale, act_type="prelu")
    return hparams, state_dict


SPEC = ArchSpec(
    name="compact", module=Compact, params=CompactParams, scales=(1, 2, 3, 4, 8),
    layouts=(Layout(REAL_ESRGAN, detect_real_esrgan),),
)
