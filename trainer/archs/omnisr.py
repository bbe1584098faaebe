"""Omni-SR (Wang et al. 2023): omni self-attention groups for lightweight SR.

Each OSA block runs an MBConv, then attention in local windows and in a sparse grid spanning
the image, each followed by channel attention (per window, resp. across windows) and gated
feed-forwards; each group ends in a 1x1 conv and an ESA (enhanced spatial attention) block.
Names follow the public checkpoints (`input`, `residual_layer.i.residual_layer.j.layer.k`,
`...esa.conv1`, `output`, `up.0`); the layer indices inside a block are the published
Sequential positions (the rearranges between them hold no weights). Inputs are zero-padded to a
window multiple and cropped back, as published.

The grid attention and the grid channel attention mix pixels across the whole input, and ESA
pools it coarsely, so this model has whole-image context (`global_context` in its ArchSpec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..typecheck import ConfigError
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
from .windows import partition, relative_position_index

SCALES = (1, 2, 3, 4, 8)
LAYOUT = "OmniSR"
FIRST_BLOCK = "residual_layer.0.residual_layer.0.layer"
# counters the thop profiler leaves in the published checkpoints
PROFILER_KEYS = ("total_ops", "total_params")


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW tensor."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * x + self.bias.view(1, -1, 1, 1)


class SqueezeExcitation(nn.Module):
    def __init__(self, dim: int, shrinkage: float = 0.25):
        super().__init__()
        hidden = int(dim * shrinkage)
        # indices 1 and 3 as published (0 is the mean, 2 and 4 the activations)
        self.gate = nn.Sequential(nn.Identity(), nn.Linear(dim, hidden, bias=False), nn.SiLU(),
                                  nn.Linear(hidden, dim, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean((2, 3)))[:, :, None, None]


class MBConv(nn.Module):
    """Inverted-residual conv (expansion 1): 1x1, GELU, depthwise 3x3, GELU, SE, 1x1, + input."""

    def __init__(self, dim: int):
        super().__init__()
        self.fn = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.GELU(),
                                nn.Conv2d(dim, dim, 3, padding=1, groups=dim), nn.GELU(),
                                SqueezeExcitation(dim), nn.Conv2d(dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


class Attention(nn.Module):
    """Self-attention within groups of window x window tokens, (B, X, Y, w, w, C) in and out."""

    def __init__(self, dim: int, window: int, with_pe: bool):
        super().__init__()
        self.heads, self.window = 4, window
        self.scale = (dim // self.heads) ** -0.5
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim, bias=False))
        self.rel_pos_bias = nn.Embedding((2 * window - 1) ** 2, self.heads) if with_pe else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = self.window * self.window
        q, k, v = self.to_qkv(x.reshape(-1, tokens, shape[-1])).chunk(3, dim=-1)

        def split_heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], tokens, self.heads, -1).transpose(1, 2)

        q, k, v = split_heads(q) * self.scale, split_heads(k), split_heads(v)
        logits = q @ k.transpose(-2, -1)
        if self.rel_pos_bias is not None:
            index = relative_position_index(self.window, self.window, x.device)
            logits = logits + self.rel_pos_bias(index).permute(2, 0, 1)
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(shape)
        return self.to_out(out)


class PreNormResidual(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x)) + x


class ConvPreNormResidual(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = LayerNorm2d(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x)) + x


class GatedConvFeedForward(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.project_in = nn.Conv2d(dim, dim * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(dim * 2, dim * 2, 3, padding=1, groups=dim * 2, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class ChannelAttention(nn.Module):
    """Attention between channels, per head, within each window (`grid`: across the windows,
    for pixels at the same position inside them)."""

    def __init__(self, dim: int, window: int, grid: bool, heads: int = 4):
        super().__init__()
        self.heads, self.window, self.grid = heads, window, grid
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def _groups(self, t: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, groups, heads, C/heads, members)."""
        b, c, h, w = t.shape
        p = self.window
        t = t.reshape(b, self.heads, c // self.heads, h // p, p, w // p, p)
        if self.grid:  # groups: position inside a window; members: the windows
            t = t.permute(0, 4, 6, 1, 2, 3, 5)
            return t.reshape(b, p * p, self.heads, c // self.heads, -1)
        t = t.permute(0, 3, 5, 1, 2, 4, 6)
        return t.reshape(b, -1, self.heads, c // self.heads, p * p)

    def _ungroup(self, t: torch.Tensor, h, w) -> torch.Tensor:
        b, p = t.shape[0], self.window
        d = t.shape[3]
        if self.grid:
            t = t.reshape(b, p, p, self.heads, d, h // p, w // p).permute(0, 3, 4, 5, 1, 6, 2)
        else:
            t = t.reshape(b, h // p, w // p, self.heads, d, p, p).permute(0, 3, 4, 1, 5, 2, 6)
        return t.reshape(b, self.heads * d, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        q, k, v = (self._groups(t) for t in self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(-1)
        return self.project_out(self._ungroup(attn @ v, h, w))


class BlockWindows(nn.Module):
    """(B, C, H, W) <-> (B, X, Y, w, w, C): local windows, or (`grid`) pixels H/w apart."""

    def __init__(self, window: int, grid: bool, inverse: bool):
        super().__init__()
        self.window, self.grid, self.inverse = window, grid, inverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.window
        if self.inverse:
            b, nx, ny, _, _, c = x.shape
            order = (0, 5, 3, 1, 4, 2) if self.grid else (0, 5, 1, 3, 2, 4)
            return x.permute(*order).reshape(b, c, nx * p, ny * p)
        b, c, h, w = x.shape
        if self.grid:
            return x.reshape(b, c, p, h // p, p, w // p).permute(0, 3, 5, 2, 4, 1)
        windows = partition(x.permute(0, 2, 3, 1), (p, p))
        return windows.reshape(b, h // p, w // p, p, p, c)


class OSABlock(nn.Module):
    def __init__(self, dim: int, window: int, with_pe: bool):
        super().__init__()
        self.layer = nn.Sequential(
            MBConv(dim),
            BlockWindows(window, grid=False, inverse=False),
            PreNormResidual(dim, Attention(dim, window, with_pe)),
            BlockWindows(window, grid=False, inverse=True),
            ConvPreNormResidual(dim, GatedConvFeedForward(dim)),
            ConvPreNormResidual(dim, ChannelAttention(dim, window, grid=False)),
            ConvPreNormResidual(dim, GatedConvFeedForward(dim)),
            BlockWindows(window, grid=True, inverse=False),
            PreNormResidual(dim, Attention(dim, window, with_pe)),
            BlockWindows(window, grid=True, inverse=True),
            ConvPreNormResidual(dim, GatedConvFeedForward(dim)),
            ConvPreNormResidual(dim, ChannelAttention(dim, window, grid=True)),
            ConvPreNormResidual(dim, GatedConvFeedForward(dim)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class ESA(nn.Module):
    """Enhanced spatial attention: a strided, max-pooled, upsampled mask over the features."""

    def __init__(self, channels: int, n_feats: int):
        super().__init__()
        self.conv1 = nn.Conv2d(n_feats, channels, 1)
        self.conv_f = nn.Conv2d(channels, channels, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2)
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv4 = nn.Conv2d(channels, n_feats, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = self.conv1(x)
        coarse = self.conv3(F.max_pool2d(self.conv2(c1), kernel_size=7, stride=3))
        coarse = F.interpolate(coarse, (x.shape[-2], x.shape[-1]), mode="bilinear",
                               align_corners=False)
        return x * torch.sigmoid(self.conv4(coarse + self.conv_f(c1)))


class OSAG(nn.Module):
    def __init__(self, dim: int, block_num: int, window: int, with_pe: bool, bias: bool):
        super().__init__()
        self.residual_layer = nn.Sequential(
            *[OSABlock(dim, window, with_pe) for _ in range(block_num)],
            nn.Conv2d(dim, dim, 1, bias=bias))
        self.esa = ESA(max(dim // 4, 16), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.esa(self.residual_layer(x) + x)


@dataclass(frozen=True)
class OmniSRParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64
    block_num: int = 1  # OSA blocks per group
    pe: bool = True  # relative position biases in the attention
    window_size: int = 8
    res_num: int = 5  # groups
    bias: bool = True
    scale: int = 4

    def __post_init__(self):
        if self.num_feat % 4:
            raise ConfigError("omnisr num_feat must be a multiple of 4 (four attention heads)")


class OmniSR(nn.Module):
    def __init__(self, params: OmniSRParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale, self.window_size = p.scale, p.window_size
        self.input = nn.Conv2d(p.num_in_ch, p.num_feat, 3, padding=1, bias=p.bias)
        self.residual_layer = nn.Sequential(*[
            OSAG(p.num_feat, p.block_num, p.window_size, p.pe, p.bias)
            for _ in range(p.res_num)])
        self.output = nn.Conv2d(p.num_feat, p.num_feat, 3, padding=1, bias=p.bias)
        self.up = nn.Sequential(
            nn.Conv2d(p.num_feat, p.num_out_ch * p.scale * p.scale, 3, padding=1, bias=p.bias),
            nn.PixelShuffle(p.scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        m = self.window_size
        x = F.pad(x, (0, (m - width % m) % m, 0, (m - height % m) % m))
        residual = self.input(x)
        out = self.output(self.residual_layer(residual)) + residual
        return self.up(out)[:, :, :height * self.scale, :width * self.scale]


LAYOUT_WITHOUT_PE = f"{LAYOUT} without position biases (window size 8 assumed: not stored)"
BIAS_KEY = f"{FIRST_BLOCK}.2.fn.rel_pos_bias.weight"


def detect_with_pe(state_dict: dict) -> LayoutMatch:
    """(hparams, state dict) of an OmniSR checkpoint, None when its signature keys are absent."""
    return _detect(state_dict) if BIAS_KEY in state_dict else None


def detect_without_pe(state_dict: dict) -> LayoutMatch:
    """The same without position biases: the window size is not stored, and 8, the published
    one, is assumed (the layout's name says so)."""
    return _detect(state_dict) if BIAS_KEY not in state_dict else None


def _detect(state_dict: dict) -> LayoutMatch:
    if not {f"{FIRST_BLOCK}.0.fn.0.weight", "input.weight", "up.0.weight"} <= state_dict.keys():
        return None
    state_dict = {k: v for k, v in state_dict.items() if not k.endswith(PROFILER_KEYS)}
    num_feat, num_in_ch = shape(state_dict, "input.weight")[:2]
    scale = direct_scale(shape(state_dict, "up.0.weight")[0], num_in_ch, LAYOUT, "up.0")
    if scale not in SCALES:
        raise LayoutError(f"{LAYOUT}: up.0 makes x{scale}, not one of {SCALES}")
    window = 8
    if BIAS_KEY in state_dict:
        rows = shape(state_dict, BIAS_KEY)[0]
        side = math.isqrt(rows)
        if side * side != rows or side % 2 == 0:
            raise LayoutError(f"{LAYOUT}: rel_pos_bias has {rows} rows, not (2w - 1)^2")
        window = (side + 1) // 2
    blocks = indices(state_dict,
                     r"^residual_layer\.0\.residual_layer\.(\d+)\.layer\.0\.fn\.0\.weight$")
    groups = indices(state_dict, r"^residual_layer\.(\d+)\.esa\.conv1\.weight$")
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_in_ch, num_feat=num_feat,
                   block_num=len(blocks), pe=BIAS_KEY in state_dict, window_size=window,
                   res_num=len(groups), bias="input.bias" in state_dict, scale=scale)
    return hparams, state_dict


SPEC = ArchSpec(name="omnisr", module=OmniSR, params=OmniSRParams, scales=SCALES,
                layouts=(Layout(LAYOUT, detect_with_pe),
                         Layout(LAYOUT_WITHOUT_PE, detect_without_pe)),
                window_grid=lambda hparams: hparams["window_size"],
                global_context=True)  # grid attention and ESA span the whole input
