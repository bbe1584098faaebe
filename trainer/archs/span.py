"""SPAN (Swift Parameter-free Attention Network, Wan et al. 2024): the fast one, used for video.

Six attention blocks whose "attention" is parameter-free (sigmoid of the features themselves),
every conv a re-parameterisable Conv3XC. Parameter names follow the public checkpoints
(`conv_1`, `block_1..6.c1_r..c3_r`, `conv_cat`, `conv_2`, `upsampler.0`), so released SPAN
.pth/.safetensors files load strictly. The input is normalised with the DIV2K mean and scaled
to 0..255 (`norm`); models trained without that carry a `no_norm` buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .common import image_mean
from .spec import (
    ArchSpec,
    Layout,
    LayoutError,
    LayoutMatch,
    direct_scale,
    hparams_of,
    indices,
    shape,
)

SCALES = (1, 2, 3, 4, 8)
LAYOUT = "SPAN"
BLOCKS = 6


class Conv3XC(nn.Module):
    """A 3x3 conv trained as 1x1 -> 3x3 -> 1x1 (widened by `gain`) plus a 1x1 skip.

    The branches are linear, so they collapse into one 3x3 kernel; that kernel is what runs, in
    training too (differentiably), so training and inference compute the same function. In eval
    mode it is written into `eval_conv` outside autograd first, as the reference code does before
    every inference: stored `eval_conv` values are never trusted, and an ONNX trace sees one conv
    with constant weights (the exporter cannot take a kernel computed in the graph).
    """

    def __init__(self, c_in: int, c_out: int, gain: int = 2):
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in * gain, 1),
            nn.Conv2d(c_in * gain, c_out * gain, 3),
            nn.Conv2d(c_out * gain, c_out, 1),
        )
        self.eval_conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.eval_conv.requires_grad_(False)

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 kernel and bias equal to sk + conv."""
        first, middle, last = self.conv
        w1, w3 = first.weight[:, :, 0, 0], last.weight[:, :, 0, 0]
        weight = torch.einsum("om,mnhw,ni->oihw", w3, middle.weight, w1)
        bias = w3 @ (middle.weight.sum((2, 3)) @ first.bias + middle.bias) + last.bias
        weight = weight + F.pad(self.sk.weight, (1, 1, 1, 1))
        return weight, bias + self.sk.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            weight, bias = self.fused()
            return F.conv2d(x, weight, bias, padding=1)
        with torch.no_grad():
            weight, bias = self.fused()
        self.eval_conv.weight.data = weight
        self.eval_conv.bias.data = bias
        return self.eval_conv(x)


class SPAB(nn.Module):
    """Three Conv3XC with SiLU, then the parameter-free attention (sigmoid(x) - 0.5) gating."""

    def __init__(self, channels: int):
        super().__init__()
        self.c1_r = Conv3XC(channels, channels)
        self.c2_r = Conv3XC(channels, channels)
        self.c3_r = Conv3XC(channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # the reference applies SiLU in place, so the first conv's output it hands on to
        # conv_cat is the activated one; trained weights expect that
        out1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(out1)))
        attention = torch.sigmoid(out3) - 0.5
        return (out3 + x) * attention, out1


@dataclass(frozen=True)
class SPANParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    feature_channels: int = 48
    scale: int = 4
    norm: bool = True  # subtract the DIV2K mean and scale to 0..255 first
    img_range: float = 255.0


class SPAN(nn.Module):
    def __init__(self, params: SPANParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale, self.norm, self.img_range = p.scale, p.norm, p.img_range
        if not p.norm:  # the public layout marks un-normalised models with this key
            self.register_buffer("no_norm", torch.zeros(1))
        f = p.feature_channels
        self.conv_1 = Conv3XC(p.num_in_ch, f)
        for i in range(1, BLOCKS + 1):
            self.add_module(f"block_{i}", SPAB(f))
        self.conv_cat = nn.Conv2d(f * 4, f, 1)
        self.conv_2 = Conv3XC(f, f)
        self.upsampler = nn.Sequential(
            nn.Conv2d(f, p.num_out_ch * p.scale * p.scale, 3, padding=1),
            nn.PixelShuffle(p.scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - image_mean(x)) * self.img_range
        first = self.conv_1(x)
        out = first
        for i in range(1, BLOCKS + 1):
            out, out1 = getattr(self, f"block_{i}")(out)
            if i == 1:
                after_first_block = out
        # the last block's activated first conv is the fourth input of conv_cat (as published)
        out = self.conv_cat(torch.cat([first, self.conv_2(out), after_first_block, out1], 1))
        return self.upsampler(out)


def detect(state_dict: dict) -> LayoutMatch:
    """(hparams, state dict) of a SPAN checkpoint, None when its signature keys are absent."""
    if not {"conv_1.sk.weight", "block_1.c1_r.sk.weight", "conv_cat.weight",
            "upsampler.0.weight"} <= state_dict.keys():
        return None
    feature_channels, num_in_ch = shape(state_dict, "conv_1.sk.weight")[:2]
    blocks = indices(state_dict, r"^block_(\d+)\.c1_r\.sk\.weight$")
    if blocks != list(range(1, BLOCKS + 1)):
        raise LayoutError(f"{LAYOUT}: blocks {blocks}, the published layout has block_1 to "
                          f"block_{BLOCKS}")
    out = shape(state_dict, "upsampler.0.weight")[0]
    scale = direct_scale(out, num_in_ch, LAYOUT, "upsampler.0")
    if scale not in SCALES:
        raise LayoutError(f"{LAYOUT}: upsampler makes x{scale}, not one of {SCALES}")
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_in_ch,
                   feature_channels=feature_channels, scale=scale,
                   norm="no_norm" not in state_dict, img_range=255.0)
    return hparams, state_dict


SPEC = ArchSpec(name="span", module=SPAN, params=SPANParams, scales=SCALES,
                layouts=(Layout(LAYOUT, detect),))
