"""HAT (Hybrid Attention Transformer, Chen et al. 2023), including HAT-S and HAT-L.

Each residual group (RHAG) holds hybrid attention blocks (shifted-window attention plus a
channel-attention conv branch scaled by `conv_scale`) and one overlapping cross-attention block
(OCAB) whose keys and values come from windows enlarged by `overlap_ratio`. Names follow the
public checkpoints (`relative_position_index_SA/OCA` at the top, `layers.i.residual_group.blocks.j
.conv_block.cab`, `...residual_group.overlap_attn`, `conv_after_body`, `upsample`, ...). HAT-L is
the same layout with 12 groups; HAT-S uses compress_ratio=24, squeeze_factor=24, embed_dim=144.

The channel attention pools over the whole input, so a tile sees slightly different statistics
than the whole image (`global_context` in its ArchSpec).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ..typecheck import ConfigError
from .common import image_mean
from .spec import (
    ArchSpec,
    Layout,
    LayoutError,
    LayoutMatch,
    hparams_of,
    pixelshuffle_scale,
    shape,
    square_side,
)
from .swinir import group_depths_and_heads
from .windows import (
    Mlp,
    constant,
    masked_softmax,
    merge,
    pad_to_multiple,
    partition,
    pixelshuffle_stages,
    relative_position_index,
    shifted_window_mask,
    to_image,
    to_tokens,
)

SCALES = (2, 3, 4, 8)
LAYOUT = "HAT"
BLOCK0 = "layers.0.residual_group.blocks.0"
# overlap ratios tried first, since int(window * ratio) maps several ratios to one window size
NICE_RATIOS = (0.5, 0.25, 0.75, 1.0, 0.0)


def overlap_window(window: int, overlap_ratio: float) -> int:
    return int(window * overlap_ratio) + window


def overlap_relative_index(window: int, extended: int) -> torch.Tensor:
    """Bias-table row for each (query in a window, key in its enlarged window) pair."""
    def grid(size: int) -> torch.Tensor:
        index = torch.arange(size)
        return torch.stack(torch.meshgrid(index, index, indexing="ij")).flatten(1)

    relative = (grid(extended)[:, None, :] - grid(window)[:, :, None]).permute(1, 2, 0)
    offset = window - extended + 1
    return (relative[..., 0] + offset) * (window + extended - 1) + relative[..., 1] + offset


class ChannelAttention(nn.Module):
    def __init__(self, num_feat: int, squeeze_factor: int):
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(num_feat, num_feat // squeeze_factor, 1),
            nn.ReLU(inplace=True), nn.Conv2d(num_feat // squeeze_factor, num_feat, 1),
            nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class CAB(nn.Module):
    """Channel attention block: conv (squeezed by compress_ratio), GELU, conv, channel attention."""

    def __init__(self, num_feat: int, compress_ratio: int, squeeze_factor: int):
        super().__init__()
        self.cab = nn.Sequential(
            nn.Conv2d(num_feat, num_feat // compress_ratio, 3, 1, 1), nn.GELU(),
            nn.Conv2d(num_feat // compress_ratio, num_feat, 3, 1, 1),
            ChannelAttention(num_feat, squeeze_factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)


class WindowAttention(nn.Module):
    """Window self-attention; HAT keeps the relative-position index once, at the top level."""

    def __init__(self, dim: int, window: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, index: torch.Tensor, mask) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        bias = self.relative_position_bias_table[index.view(-1)]
        bias = bias.view(tokens, tokens, -1).permute(2, 0, 1)
        attn = masked_softmax(q @ k.transpose(-2, -1) + bias, mask)
        return self.proj((attn @ v).transpose(1, 2).reshape(batch, tokens, channels))


class HAB(nn.Module):
    """Hybrid attention block: (shifted) window attention + scaled CAB, then the MLP."""

    def __init__(self, dim: int, num_heads: int, window: int, shift: int, compress_ratio: int,
                 squeeze_factor: int, conv_scale: float, mlp_ratio: float):
        super().__init__()
        self.window, self.shift, self.conv_scale = window, shift, conv_scale
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads)
        self.conv_block = CAB(dim, compress_ratio, squeeze_factor)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, height, width, index, mask) -> torch.Tensor:
        batch, _, channels = x.shape
        window, shift = (self.window, self.window), self.shift
        shortcut = x
        x = self.norm1(x).view(batch, height, width, channels)
        conv_x = to_tokens(self.conv_block(x.permute(0, 3, 1, 2)))
        if shift:
            x = torch.roll(x, (-shift, -shift), (1, 2))
        windows = partition(x, window).view(-1, self.window * self.window, channels)
        windows = self.attn(windows, index, mask if shift else None)
        x = merge(windows.view(-1, *window, channels), window, height, width)
        if shift:
            x = torch.roll(x, (shift, shift), (1, 2))
        x = shortcut + x.reshape(batch, -1, channels) + conv_x * self.conv_scale
        return x + self.mlp(self.norm2(x))


def overlapping_windows(x: torch.Tensor, window: int, extended: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * windows, extended^2, C): each window enlarged on all sides, zeros
    beyond the image (what nn.Unfold with padding gives), windows in row-major order.

    Gathers rows and columns by index rather than unfolding, so H and W stay dynamic in ONNX.
    """
    pad = (extended - window) // 2
    batch, channels, height, width = x.shape
    x = nn.functional.pad(x, (pad, pad, pad, pad))

    def starts(length) -> torch.Tensor:  # (windows, extended) indices into the padded axis
        first = torch.arange(0, length, window, device=x.device)
        return (first[:, None] + torch.arange(extended, device=x.device)[None, :]).flatten()

    rows, cols = starts(height), starts(width)
    x = x.index_select(2, rows).index_select(3, cols)
    x = x.view(batch, channels, height // window, extended, width // window, extended)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, extended * extended, channels)


class OCAB(nn.Module):
    """Overlapping cross-attention: queries from a window, keys/values from its enlargement."""

    def __init__(self, dim: int, window: int, overlap_ratio: float, num_heads: int,
                 mlp_ratio: float):
        super().__init__()
        self.dim, self.window, self.num_heads = dim, window, num_heads
        self.extended = overlap_window(window, overlap_ratio)
        self.scale = (dim // num_heads) ** -0.5
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((window + self.extended - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, height, width, index: torch.Tensor) -> torch.Tensor:
        batch, _, channels = x.shape
        heads, window, extended = self.num_heads, self.window, self.extended
        shortcut = x
        qkv = self.qkv(self.norm1(x)).view(batch, height, width, 3, channels)
        q = partition(qkv[..., 0, :], (window, window)).reshape(-1, window * window, channels)
        kv = qkv[..., 1:, :].reshape(batch, height, width, 2 * channels).permute(0, 3, 1, 2)
        kv = overlapping_windows(kv, window, extended)
        k, v = kv[..., :channels], kv[..., channels:]

        def split_heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], heads, -1).permute(0, 2, 1, 3)

        q, k, v = split_heads(q) * self.scale, split_heads(k), split_heads(v)
        bias = self.relative_position_bias_table[index.view(-1)]
        bias = bias.view(window * window, extended * extended, -1).permute(2, 0, 1)
        attn = (q @ k.transpose(-2, -1) + bias).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(-1, window, window, self.dim)
        x = merge(out, (window, window), height, width).reshape(batch, -1, self.dim)
        x = self.proj(x) + shortcut
        return x + self.mlp(self.norm2(x))


class AttenBlocks(nn.Module):
    def __init__(self, dim: int, depth: int, num_heads: int, window: int, compress_ratio: int,
                 squeeze_factor: int, conv_scale: float, overlap_ratio: float, mlp_ratio: float):
        super().__init__()
        self.blocks = nn.ModuleList([
            HAB(dim, num_heads, window, 0 if i % 2 == 0 else window // 2, compress_ratio,
                squeeze_factor, conv_scale, mlp_ratio)
            for i in range(depth)])
        self.overlap_attn = OCAB(dim, window, overlap_ratio, num_heads, mlp_ratio)


class RHAG(nn.Module):
    """Residual hybrid attention group: HABs, an OCAB, a conv, and a skip around them."""

    def __init__(self, dim: int, depth: int, num_heads: int, window: int, compress_ratio: int,
                 squeeze_factor: int, conv_scale: float, overlap_ratio: float, mlp_ratio: float,
                 resi_connection: str):
        super().__init__()
        self.residual_group = AttenBlocks(dim, depth, num_heads, window, compress_ratio,
                                          squeeze_factor, conv_scale, overlap_ratio, mlp_ratio)
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1) if resi_connection == "1conv" else nn.Identity()

    def forward(self, x: torch.Tensor, height, width, rpi_sa, rpi_oca, mask) -> torch.Tensor:
        out = x
        for block in self.residual_group.blocks:
            out = block(out, height, width, rpi_sa, mask)
        out = self.residual_group.overlap_attn(out, height, width, rpi_oca)
        return to_tokens(self.conv(to_image(out, height, width))) + x


@dataclass(frozen=True)
class HATParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    embed_dim: int = 180
    depths: list[int] = field(default_factory=lambda: [6] * 6)  # blocks per residual group
    num_heads: list[int] = field(default_factory=lambda: [6] * 6)  # per residual group
    window_size: int = 16
    compress_ratio: int = 3  # channel-attention branch width: embed_dim // compress_ratio
    squeeze_factor: int = 30
    conv_scale: float = 0.01  # weight of the channel-attention branch
    overlap_ratio: float = 0.5  # OCAB windows are enlarged by window_size * overlap_ratio
    mlp_ratio: float = 2.0
    resi_connection: Literal["1conv", "identity"] = "1conv"
    num_feat: int = 64
    img_range: float = 1.0
    scale: int = 4

    def __post_init__(self):
        if len(self.depths) != len(self.num_heads):
            raise ConfigError("hat depths and num_heads need one entry per residual group")
        if (overlap_window(self.window_size, self.overlap_ratio) - self.window_size) % 2:
            raise ConfigError("hat overlap_ratio must enlarge the window by an even number")


class HAT(nn.Module):
    def __init__(self, params: HATParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale, self.window_size, self.img_range = p.scale, p.window_size, p.img_range
        window, extended = p.window_size, overlap_window(p.window_size, p.overlap_ratio)
        self.register_buffer("relative_position_index_SA", constant(
            lambda: relative_position_index(window, window), (window**2,) * 2, torch.long))
        self.register_buffer("relative_position_index_OCA", constant(
            lambda: overlap_relative_index(window, extended), (window**2, extended**2),
            torch.long))
        self.conv_first = nn.Conv2d(p.num_in_ch, p.embed_dim, 3, 1, 1)
        self.patch_embed = nn.Module()
        self.patch_embed.norm = nn.LayerNorm(p.embed_dim)
        self.layers = nn.ModuleList([
            RHAG(p.embed_dim, depth, heads, window, p.compress_ratio, p.squeeze_factor,
                 p.conv_scale, p.overlap_ratio, p.mlp_ratio, p.resi_connection)
            for depth, heads in zip(p.depths, p.num_heads, strict=True)])
        self.norm = nn.LayerNorm(p.embed_dim)
        self.conv_after_body = (nn.Conv2d(p.embed_dim, p.embed_dim, 3, 1, 1)
                                if p.resi_connection == "1conv" else nn.Identity())
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(p.embed_dim, p.num_feat, 3, 1, 1),
                                                  nn.LeakyReLU(inplace=True))
        self.upsample = nn.Sequential(*pixelshuffle_stages(p.scale, p.num_feat))
        self.conv_last = nn.Conv2d(p.num_feat, p.num_out_ch, 3, 1, 1)
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        window, shift = self.window_size, self.window_size // 2
        mask = shifted_window_mask(height, width, (window, window), (shift, shift), x.device)
        tokens = self.patch_embed.norm(to_tokens(x))
        for layer in self.layers:
            tokens = layer(tokens, height, width, self.relative_position_index_SA,
                           self.relative_position_index_OCA, mask.to(x.dtype))
        return to_image(self.norm(tokens), height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        x = pad_to_multiple(x, self.window_size)
        mean = image_mean(x)
        x = (x - mean) * self.img_range
        feat = self.conv_first(x)
        body = self.conv_after_body(self.forward_features(feat)) + feat
        out = self.conv_last(self.upsample(self.conv_before_upsample(body)))
        out = out / self.img_range + mean
        return out[:, :, :height * self.scale, :width * self.scale]


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _ratio(whole: int, part: int, what: str) -> int:
    """The integer r with whole // r == part (a channel ratio), preferring exact division."""
    if part <= 0 or part > whole:
        raise LayoutError(f"{LAYOUT}: {what} has {part} channels for embed_dim {whole}")
    candidates = [whole // part] + list(range(1, whole + 1))
    return next(r for r in candidates if whole // r == part)


def detect(state_dict: dict) -> LayoutMatch:
    """(hparams, state dict) of a HAT checkpoint, None when its signature keys are absent."""
    if not {"relative_position_index_SA", "relative_position_index_OCA",
            "layers.0.residual_group.overlap_attn.qkv.weight"} <= state_dict.keys():
        return None
    if "absolute_pos_embed" in state_dict or "patch_embed.norm.weight" not in state_dict:
        raise LayoutError(f"{LAYOUT} with absolute_pos_embed or without patch_embed.norm: that "
                          "variant is not supported")
    if f"{BLOCK0}.attn.qkv.bias" not in state_dict:
        raise LayoutError(f"{LAYOUT} without qkv biases: that variant is not supported")
    embed_dim, num_in_ch = shape(state_dict, "conv_first.weight")[:2]
    window = square_side(shape(state_dict, "relative_position_index_SA")[0],
                         "relative_position_index_SA", LAYOUT)
    extended = square_side(shape(state_dict, "relative_position_index_OCA")[1],
                           "relative_position_index_OCA", LAYOUT)
    ratios = [r for r in NICE_RATIOS if overlap_window(window, r) == extended]
    overlap_ratio = ratios[0] if ratios else (extended - window) / window
    depths, heads = group_depths_and_heads(state_dict, "residual_group.blocks",
                                           "residual_group.overlap_attn"
                                           ".relative_position_bias_table")
    if not all(depths):
        raise LayoutError(f"{LAYOUT}: a residual group without blocks (depths {depths})")
    num_feat = shape(state_dict, "conv_last.weight")[1]
    scale = pixelshuffle_scale(state_dict, "upsample", num_feat, LAYOUT)
    if scale not in SCALES:
        raise LayoutError(f"{LAYOUT}: the upsample stages make x{scale}, not one of {SCALES}")
    hparams = dict(
        num_in_ch=num_in_ch, num_out_ch=shape(state_dict, "conv_last.weight")[0],
        embed_dim=embed_dim, depths=depths, num_heads=heads, window_size=window,
        compress_ratio=_ratio(embed_dim, shape(state_dict, f"{BLOCK0}.conv_block.cab.0.weight")[0],
                              "conv_block.cab.0"),
        squeeze_factor=_ratio(embed_dim, shape(
            state_dict, f"{BLOCK0}.conv_block.cab.3.attention.1.weight")[0],
            "conv_block.cab.3.attention.1"),
        conv_scale=0.01,  # not stored; every public HAT uses 0.01
        overlap_ratio=overlap_ratio,
        mlp_ratio=shape(state_dict, f"{BLOCK0}.mlp.fc1.weight")[0] / embed_dim,
        resi_connection="1conv" if "conv_after_body.weight" in state_dict else "identity",
        num_feat=num_feat, img_range=1.0, scale=scale)
    return hparams, state_dict


SPEC = ArchSpec(name="hat", module=HAT, params=HATParams, scales=SCALES,
                layouts=(Layout(LAYOUT, detect),),
                window_grid=lambda hparams: hparams["window_size"],
                global_context=True)  # the channel attention pools over the whole input
