"""DAT (Dual Aggregation Transformer, Chen et al. 2023), including DAT-S, DAT-2 and DAT-light.

Blocks alternate between spatial window attention (half the channels in `split_size` windows,
half in the transposed windows, some of them shifted) and channel attention over the whole
image, each with a convolutional branch that gates it ("adaptive interaction"); the feed-forward
is a spatial-gate FFN. Names follow the public checkpoints (`before_RG.1`, `layers.i.blocks.j
.attn.attns.k.pos.pos_proj`, `...attns.k.rpe_biases`, `...attn.attn_mask_0`, `.ffn.sg.conv`, ...).
DAT-light is the same layout with `pixelshuffledirect` and `3conv`.

The window attention zero-pads its q/k/v to a multiple of the largest split size inside the
model, so any input size runs. Channel attention and the interaction branches use statistics of
the whole input (`global_context` in its ArchSpec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from ..typecheck import ConfigError
from .common import image_mean
from .spec import (
    ArchSpec,
    Layout,
    LayoutError,
    LayoutMatch,
    direct_scale,
    hparams_of,
    indices,
    pixelshuffle_scale,
    shape,
    square_side,
)
from .swinir import residual_conv, residual_kind
from .windows import (
    constant,
    masked_softmax,
    merge,
    partition,
    pixelshuffle_stages,
    relative_position_index,
    shifted_window_mask,
    to_image,
    to_tokens,
)

SCALES = (1, 2, 3, 4, 8)
UPSAMPLERS = {"pixelshuffle": (2, 3, 4, 8), "pixelshuffledirect": (1, 2, 3, 4, 8)}
LAYOUT = "DAT"
SPATIAL = "layers.0.blocks.0.attn"


def is_shifted(group: int, block: int) -> bool:
    """Which spatial-attention blocks shift their windows (the published schedule)."""
    if group % 2 == 0:
        return block > 0 and (block - 2) % 4 == 0
    return block % 4 == 0


def interaction(dim: int, reduce_by: int, pooled: bool) -> nn.Sequential:
    """1x1 conv, BN, GELU, 1x1 conv: per channel (after global pooling) or per pixel."""
    if pooled:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, dim // reduce_by, 1),
                             nn.BatchNorm2d(dim // reduce_by), nn.GELU(),
                             nn.Conv2d(dim // reduce_by, dim, 1))
    return nn.Sequential(nn.Conv2d(dim, dim // reduce_by, 1), nn.BatchNorm2d(dim // reduce_by),
                         nn.GELU(), nn.Conv2d(dim // reduce_by, 1, 1))


def depthwise_branch(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1, groups=dim), nn.BatchNorm2d(dim), nn.GELU())


def window_offsets(window_h: int, window_w: int) -> torch.Tensor:
    """Every (dy, dx) between two tokens of a window, as floats: the position MLP's inputs."""
    offsets = torch.stack(torch.meshgrid(torch.arange(1 - window_h, window_h),
                                         torch.arange(1 - window_w, window_w), indexing="ij"))
    return offsets.flatten(1).t().contiguous().float()


class DynamicPosBias(nn.Module):
    """Relative-position bias from an MLP over the (dy, dx) offsets, not a lookup table."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        pos_dim = dim // 4
        self.pos_proj = nn.Linear(2, pos_dim)
        self.pos1 = nn.Sequential(nn.LayerNorm(pos_dim), nn.ReLU(inplace=True),
                                  nn.Linear(pos_dim, pos_dim))
        self.pos2 = nn.Sequential(nn.LayerNorm(pos_dim), nn.ReLU(inplace=True),
                                  nn.Linear(pos_dim, pos_dim))
        self.pos3 = nn.Sequential(nn.LayerNorm(pos_dim), nn.ReLU(inplace=True),
                                  nn.Linear(pos_dim, num_heads))

    def forward(self, offsets: torch.Tensor) -> torch.Tensor:
        return self.pos3(self.pos2(self.pos1(self.pos_proj(offsets))))


class SpatialAttention(nn.Module):
    """Attention inside (window_h x window_w) windows, over channels already split into heads."""

    def __init__(self, dim: int, window: tuple[int, int], num_heads: int):
        super().__init__()
        self.window, self.num_heads = window, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.pos = DynamicPosBias(dim // 4, num_heads)
        wh, ww = window
        self.register_buffer("rpe_biases", constant(
            lambda: window_offsets(wh, ww), ((2 * wh - 1) * (2 * ww - 1), 2)))
        self.register_buffer("relative_position_index", constant(
            lambda: relative_position_index(wh, ww), (wh * ww,) * 2, torch.long))

    def forward(self, qkv: torch.Tensor, height, width, mask) -> torch.Tensor:
        """qkv: (3, B, H, W, C) -> (B, H, W, C)."""
        channels = qkv.shape[-1]
        tokens = self.window[0] * self.window[1]

        def heads(t: torch.Tensor) -> torch.Tensor:
            t = partition(t, self.window).reshape(-1, tokens, self.num_heads,
                                                  channels // self.num_heads)
            return t.permute(0, 2, 1, 3)

        q, k, v = heads(qkv[0]) * self.scale, heads(qkv[1]), heads(qkv[2])
        bias = self.pos(self.rpe_biases)[self.relative_position_index.view(-1)]
        bias = bias.view(tokens, tokens, -1).permute(2, 0, 1)
        attn = masked_softmax(q @ k.transpose(-2, -1) + bias, mask)
        out = (attn @ v).transpose(1, 2).reshape(-1, *self.window, channels)
        return merge(out, self.window, height, width)


class AdaptiveSpatialAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, split_size: tuple[int, int], shifted: bool,
                 qkv_bias: bool, img_size: int):
        super().__init__()
        self.split = tuple(split_size)
        self.shift = (split_size[0] // 2, split_size[1] // 2) if shifted else None
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attns = nn.ModuleList([
            SpatialAttention(dim // 2, self.split, num_heads // 2),
            SpatialAttention(dim // 2, self.split[::-1], num_heads // 2)])
        if self.shift:  # kept for the checkpoint layout; forward computes them per input size
            for i, window in enumerate((self.split, self.split[::-1])):
                shift = self.shift if i == 0 else self.shift[::-1]
                windows = (img_size // window[0]) * (img_size // window[1])
                self.register_buffer(f"attn_mask_{i}", constant(
                    lambda w=window, s=shift: shifted_window_mask(img_size, img_size, w, s, "cpu"),
                    (windows, window[0] * window[1], window[0] * window[1])))
        self.dwconv = depthwise_branch(dim)
        self.channel_interaction = interaction(dim, 8, pooled=True)
        self.spatial_interaction = interaction(dim, 16, pooled=False)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, height, width, 3, channels).permute(3, 0, 1, 2, 4)
        v = qkv[2].permute(0, 3, 1, 2)
        multiple = max(self.split)
        pad_h = (multiple - height % multiple) % multiple
        pad_w = (multiple - width % multiple) % multiple
        qkv = F.pad(qkv, (0, 0, 0, pad_w, 0, pad_h))  # zero q/k/v tokens, as published
        padded_h, padded_w = height + pad_h, width + pad_w
        halves = []
        for i, attn in enumerate(self.attns):
            part = qkv[..., i * (channels // 2):(i + 1) * (channels // 2)]
            if self.shift:
                shift = self.shift if i == 0 else self.shift[::-1]
                part = torch.roll(part, (-shift[0], -shift[1]), (2, 3))
                mask = shifted_window_mask(padded_h, padded_w, attn.window, shift, x.device)
                out = attn(part, padded_h, padded_w, mask.to(x.dtype))
                out = torch.roll(out, shift, (1, 2))
            else:
                out = attn(part, padded_h, padded_w, None)
            halves.append(out[:, :height, :width].reshape(batch, tokens, channels // 2))
        attended = torch.cat(halves, 2)
        conv_x = self.dwconv(v)
        channel_map = self.channel_interaction(conv_x).view(batch, 1, channels)
        spatial_map = self.spatial_interaction(to_image(attended, height, width))
        attended = attended * torch.sigmoid(channel_map)
        conv_x = to_tokens(torch.sigmoid(spatial_map) * conv_x)
        return self.proj(attended + conv_x)


class AdaptiveChannelAttention(nn.Module):
    """Attention between channels (a C/heads x C/heads map per head, over all pixels)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.dwconv = depthwise_branch(dim)
        self.channel_interaction = interaction(dim, 8, pooled=True)
        self.spatial_interaction = interaction(dim, 16, pooled=False)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 4, 1)
        q, k, v = F.normalize(qkv[0], dim=-1), F.normalize(qkv[1], dim=-1), qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(-1)
        attended = (attn @ v).permute(0, 3, 1, 2).reshape(batch, tokens, channels)
        conv_x = self.dwconv(v.reshape(batch, channels, height, width))
        channel_map = self.channel_interaction(to_image(attended, height, width))
        spatial_map = to_tokens(self.spatial_interaction(conv_x))
        attended = attended * torch.sigmoid(spatial_map)
        conv_x = to_tokens(conv_x * torch.sigmoid(channel_map))
        return self.proj(attended + conv_x)


class SpatialGate(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=-1)
        return x1 * to_tokens(self.conv(to_image(self.norm(x2), height, width)))


class SGFN(nn.Module):
    """Spatial-gate feed-forward: fc1, GELU, half the channels gate the other half, fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.sg = SpatialGate(hidden // 2)
        self.fc2 = nn.Linear(hidden // 2, dim)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        return self.fc2(self.sg(self.act(self.fc1(x)), height, width))


class DATB(nn.Module):
    def __init__(self, dim: int, num_heads: int, split_size: tuple[int, int],
                 expansion_factor: float, qkv_bias: bool, img_size: int, group: int, index: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        if index % 2 == 0:
            self.attn = AdaptiveSpatialAttention(dim, num_heads, split_size,
                                                 is_shifted(group, index), qkv_bias, img_size)
        else:
            self.attn = AdaptiveChannelAttention(dim, num_heads, qkv_bias)
        self.ffn = SGFN(dim, int(dim * expansion_factor))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), height, width)
        return x + self.ffn(self.norm2(x), height, width)


class ResidualGroup(nn.Module):
    def __init__(self, dim: int, depth: int, num_heads: int, split_size: tuple[int, int],
                 expansion_factor: float, qkv_bias: bool, img_size: int, resi_connection: str,
                 group: int):
        super().__init__()
        self.blocks = nn.ModuleList([
            DATB(dim, num_heads, split_size, expansion_factor, qkv_bias, img_size, group, i)
            for i in range(depth)])
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x: torch.Tensor, height, width) -> torch.Tensor:
        out = x
        for block in self.blocks:
            out = block(out, height, width)
        return x + to_tokens(self.conv(to_image(out, height, width)))


@dataclass(frozen=True)
class DATParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    embed_dim: int = 180
    split_size: list[int] = field(default_factory=lambda: [8, 32])  # window: height, width
    depth: list[int] = field(default_factory=lambda: [6] * 6)  # blocks per residual group
    num_heads: list[int] = field(default_factory=lambda: [6] * 6)  # per residual group
    expansion_factor: float = 4.0
    qkv_bias: bool = True
    img_size: int = 64  # the training patch size (shapes the attn_mask buffers only)
    upsampler: Literal["pixelshuffle", "pixelshuffledirect"] = "pixelshuffle"
    resi_connection: Literal["1conv", "3conv"] = "1conv"
    num_feat: int = 64
    img_range: float = 1.0
    scale: int = 4

    def __post_init__(self):
        if self.scale not in UPSAMPLERS[self.upsampler]:
            raise ConfigError(f"dat upsampler {self.upsampler!r} makes scales "
                              f"{', '.join(map(str, UPSAMPLERS[self.upsampler]))}, "
                              f"not {self.scale}")
        if len(self.depth) != len(self.num_heads) or len(self.split_size) != 2:
            raise ConfigError("dat needs one num_heads per depth entry and two split sizes")


class DAT(nn.Module):
    def __init__(self, params: DATParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale, self.img_range, self.upsampler = p.scale, p.img_range, p.upsampler
        self.conv_first = nn.Conv2d(p.num_in_ch, p.embed_dim, 3, 1, 1)
        self.before_RG = nn.Sequential(nn.Identity(), nn.LayerNorm(p.embed_dim))
        self.layers = nn.ModuleList([
            ResidualGroup(p.embed_dim, blocks, heads, tuple(p.split_size), p.expansion_factor,
                          p.qkv_bias, p.img_size, p.resi_connection, i)
            for i, (blocks, heads) in enumerate(zip(p.depth, p.num_heads, strict=True))])
        self.norm = nn.LayerNorm(p.embed_dim)
        self.conv_after_body = residual_conv(p.embed_dim, p.resi_connection)
        if p.upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(
                nn.Conv2d(p.embed_dim, p.num_feat, 3, 1, 1), nn.LeakyReLU(inplace=True))
            self.upsample = nn.Sequential(*pixelshuffle_stages(p.scale, p.num_feat))
            self.conv_last = nn.Conv2d(p.num_feat, p.num_out_ch, 3, 1, 1)
        else:
            self.upsample = nn.Sequential(
                nn.Conv2d(p.embed_dim, p.num_out_ch * p.scale**2, 3, 1, 1),
                nn.PixelShuffle(p.scale))
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        tokens = self.before_RG(to_tokens(x))
        for layer in self.layers:
            tokens = layer(tokens, height, width)
        return to_image(self.norm(tokens), height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = image_mean(x)
        x = (x - mean) * self.img_range
        feat = self.conv_first(x)
        body = self.conv_after_body(self.forward_features(feat)) + feat
        if self.upsampler == "pixelshuffle":
            out = self.conv_last(self.upsample(self.conv_before_upsample(body)))
        else:
            out = self.upsample(body)
        return out / self.img_range + mean


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _split_size(state_dict: dict) -> list[int]:
    """The two window sides, from the shapes of the first spatial attention's buffers: a * b
    tokens and (2a - 1)(2b - 1) offsets. Their order (which side is the height of the first
    branch) is read from the offsets' values when the weights are real; on meta tensors, and in
    every public model, the smaller comes first."""
    tokens = shape(state_dict, f"{SPATIAL}.attns.0.relative_position_index")[0]
    offsets = shape(state_dict, f"{SPATIAL}.attns.0.rpe_biases")[0]
    total = (4 * tokens + 1 - offsets) // 2  # a + b
    root = math.isqrt(max(total * total - 4 * tokens, 0))
    a, b = (total - root) // 2, (total + root) // 2
    if a < 1 or a * b != tokens or (2 * a - 1) * (2 * b - 1) != offsets:
        raise LayoutError(f"{LAYOUT}: attns.0 has {tokens} tokens and {offsets} offsets, which "
                          "fit no window size")
    biases = state_dict[f"{SPATIAL}.attns.0.rpe_biases"]
    if not biases.is_meta:
        last = [int(v) + 1 for v in biases[-1].tolist()]
        if sorted(last) == [a, b]:
            return last
    return [a, b]


def detect(state_dict: dict) -> LayoutMatch:
    """(hparams, state dict) of a DAT checkpoint, None when its signature keys are absent."""
    if not {"before_RG.1.weight", f"{SPATIAL}.attns.0.rpe_biases",
            f"{SPATIAL}.qkv.weight"} <= state_dict.keys():
        return None
    embed_dim, num_in_ch = shape(state_dict, "conv_first.weight")[:2]
    split = _split_size(state_dict)
    depth, heads = [], []
    for group in indices(state_dict, r"^layers\.(\d+)\.blocks\."):
        blocks = len(indices(state_dict, rf"^layers\.{group}\.blocks\.(\d+)\.norm1\.weight$"))
        depth.append(blocks)
        if blocks >= 2:
            heads.append(shape(state_dict, f"layers.{group}.blocks.1.attn.temperature")[0])
        else:  # each spatial branch has half the heads
            key = f"layers.{group}.blocks.0.attn.attns.0.pos.pos3.2.weight"
            heads.append(2 * shape(state_dict, key)[0])
    img_size = 64  # the training patch size; only the unused attn_mask buffers depend on it
    masks = sorted(k for k in state_dict if k.endswith(".attn.attn_mask_0"))
    if masks:
        img_size = square_side(shape(state_dict, masks[0])[0] * split[0] * split[1],
                               "attn_mask_0", LAYOUT)
    hparams = dict(num_in_ch=num_in_ch, embed_dim=embed_dim, split_size=split, depth=depth,
                   num_heads=heads,
                   expansion_factor=shape(state_dict, "layers.0.blocks.0.ffn.fc1.weight")[0]
                   / embed_dim,
                   qkv_bias=f"{SPATIAL}.qkv.bias" in state_dict, img_size=img_size,
                   resi_connection=residual_kind(state_dict, "conv_after_body", LAYOUT),
                   img_range=1.0)
    if "conv_last.weight" in state_dict:
        num_feat = shape(state_dict, "conv_before_upsample.0.weight")[0]
        hparams.update(upsampler="pixelshuffle", num_feat=num_feat,
                       num_out_ch=shape(state_dict, "conv_last.weight")[0],
                       scale=pixelshuffle_scale(state_dict, "upsample", num_feat, LAYOUT))
    else:
        out = shape(state_dict, "upsample.0.weight")[0]
        hparams.update(upsampler="pixelshuffledirect", num_out_ch=num_in_ch,
                       scale=direct_scale(out, num_in_ch, LAYOUT, "upsample.0"))
    return hparams, state_dict


SPEC = ArchSpec(name="dat", module=DAT, params=DATParams, scales=SCALES,
                layouts=(Layout(LAYOUT, detect),),
                # both branches' windows (and their transposes) stay on the grid
                window_grid=lambda hparams: math.lcm(*hparams["split_size"]),
                global_context=True)  # channel attention and the interaction branches span it
