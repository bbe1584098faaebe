"""SwinIR (Liang et al. 2021): residual groups of shifted-window transformer blocks.

Parameter and buffer names follow the public checkpoints (`conv_first`, `patch_embed.norm`,
`layers.i.residual_group.blocks.j.attn.qkv`, `...attn.relative_position_index`,
`...blocks.j.attn_mask`, `conv_after_body`, ...), so the released classical, lightweight,
real-world, denoising and JPEG models load strictly. The variants differ in the upsampler:

- "pixelshuffle" (classical SR): conv, LeakyReLU, x2/x3 conv+PixelShuffle stages, conv
- "pixelshuffledirect" (lightweight SR): one conv + PixelShuffle straight to the image
- "nearest+conv" (real-world SR): nearest x2 stages with convs, as ESRGAN
- "" (denoising/JPEG, x1): a residual conv on top of the input

Inputs of any size are reflect-padded to a window multiple and cropped back afterwards. The
`attn_mask` buffers (shaped by the training patch size, `img_size`) are kept for the key layout;
the mask actually used is computed for the input size.
"""

from __future__ import annotations

import re
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

SCALES = (1, 2, 3, 4, 8)
UPSAMPLERS = {  # upsampler -> scales it can make
    "pixelshuffle": (2, 3, 4, 8),
    "pixelshuffledirect": (1, 2, 3, 4, 8),
    "nearest+conv": (2, 4, 8),
    "": (1,),
}
LAYOUT = "SwinIR"
BLOCK0 = "layers.0.residual_group.blocks.0"


def residual_conv(dim: int, kind: str) -> nn.Module:
    """The conv closing each residual group: one 3x3, or a 3x3-1x1-3x3 bottleneck (dim/4)."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    return nn.Sequential(
        nn.Conv2d(dim, dim // 4, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(dim // 4, dim // 4, 1, 1, 0), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(dim // 4, dim, 3, 1, 1),
    )


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", constant(
            lambda: relative_position_index(window, window), (window**2,) * 2, torch.long))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(tokens, tokens, -1).permute(2, 0, 1)
        attn = masked_softmax(q @ k.transpose(-2, -1) + bias, mask)
        return self.proj((attn @ v).transpose(1, 2).reshape(batch, tokens, channels))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, window: int, shift: int, mlp_ratio: float,
                 img_size: int):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        if shift:  # kept for the checkpoint layout; forward computes the mask per input size
            self.register_buffer("attn_mask", constant(
                lambda: shifted_window_mask(img_size, img_size, (window, window), (shift, shift),
                                            "cpu"),
                ((img_size // window) ** 2, window**2, window**2)))

    def forward(self, x: torch.Tensor, height, width, mask: torch.Tensor) -> torch.Tensor:
        batch, _, channels = x.shape
        window, shift = (self.window, self.window), self.shift
        shortcut = x
        x = self.norm1(x).view(batch, height, width, channels)
        if shift:
            x = torch.roll(x, (-shift, -shift), (1, 2))
        windows = partition(x, window).view(-1, self.window * self.window, channels)
        windows = self.attn(windows, mask if shift else None)
        x = merge(windows.view(-1, *window, channels), window, height, width)
        if shift:
            x = torch.roll(x, (shift, shift), (1, 2))
        x = shortcut + x.reshape(batch, -1, channels)
        return x + self.mlp(self.norm2(x))


class BlockList(nn.Module):
    def __init__(self, blocks: list[nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


class RSTB(nn.Module):
    """Residual Swin Transformer Block: transformer blocks, a conv, and a skip around both."""

    def __init__(self, dim: int, depth: int, num_heads: int, window: int, mlp_ratio: float,
                 img_size: int, resi_connection: str):
        super().__init__()
        self.residual_group = BlockList([
            SwinBlock(dim, num_heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio,
                      img_size)
            for i in range(depth)])
        self.conv = residual_conv(dim, resi_connection)

    def forward(self, x: torch.Tensor, height, width, mask: torch.Tensor) -> torch.Tensor:
        out = x
        for block in self.residual_group.blocks:
            out = block(out, height, width, mask)
        return to_tokens(self.conv(to_image(out, height, width))) + x


@dataclass(frozen=True)
class SwinIRParams:
    num_in_ch: int = 3
    num_out_ch: int = 3
    embed_dim: int = 180
    depths: list[int] = field(default_factory=lambda: [6] * 6)  # blocks per residual group
    num_heads: list[int] = field(default_factory=lambda: [6] * 6)  # per residual group
    window_size: int = 8
    mlp_ratio: float = 2.0
    img_size: int = 64  # the training patch size (shapes the attn_mask buffers only)
    upsampler: Literal["pixelshuffle", "pixelshuffledirect", "nearest+conv", ""] = "pixelshuffle"
    resi_connection: Literal["1conv", "3conv"] = "1conv"
    num_feat: int = 64
    img_range: float = 1.0
    scale: int = 4

    def __post_init__(self):
        if self.scale not in UPSAMPLERS[self.upsampler]:
            raise ConfigError(f"swinir upsampler {self.upsampler!r} makes scales "
                              f"{', '.join(map(str, UPSAMPLERS[self.upsampler]))}, "
                              f"not {self.scale}")
        if len(self.depths) != len(self.num_heads):
            raise ConfigError("swinir depths and num_heads need one entry per residual group")
        if self.upsampler == "" and self.num_in_ch != self.num_out_ch:
            raise ConfigError("swinir without upsampler adds its input: num_in_ch == num_out_ch")


class SwinIR(nn.Module):
    def __init__(self, params: SwinIRParams):
        super().__init__()
        p = params
        self.hparams = hparams_of(p)
        self.scale, self.window_size, self.img_range = p.scale, p.window_size, p.img_range
        self.upsampler = p.upsampler
        self.conv_first = nn.Conv2d(p.num_in_ch, p.embed_dim, 3, 1, 1)
        self.patch_embed = nn.Module()
        self.patch_embed.norm = nn.LayerNorm(p.embed_dim)
        self.layers = nn.ModuleList([
            RSTB(p.embed_dim, depth, heads, p.window_size, p.mlp_ratio, p.img_size,
                 p.resi_connection)
            for depth, heads in zip(p.depths, p.num_heads, strict=True)])
        self.norm = nn.LayerNorm(p.embed_dim)
        self.conv_after_body = residual_conv(p.embed_dim, p.resi_connection)
        self._build_upsampler(p.embed_dim, p.num_feat, p.num_out_ch, p.scale)
        self.apply(_init_weights)

    def _build_upsampler(self, embed_dim: int, num_feat: int, num_out_ch: int,
                         scale: int) -> None:
        if self.upsampler in ("pixelshuffle", "nearest+conv"):
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1),
                                                      nn.LeakyReLU(inplace=True))
        if self.upsampler == "pixelshuffle":
            self.upsample = nn.Sequential(*pixelshuffle_stages(scale, num_feat))
            self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        elif self.upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(embed_dim, num_out_ch * scale**2, 3, 1, 1),
                                          nn.PixelShuffle(scale))
        elif self.upsampler == "nearest+conv":
            self.up_convs = [f"conv_up{i + 1}" for i in range(scale.bit_length() - 1)]
            for name in self.up_convs:
                setattr(self, name, nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        else:
            self.conv_last = nn.Conv2d(embed_dim, num_out_ch, 3, 1, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        window, shift = self.window_size, self.window_size // 2
        mask = shifted_window_mask(height, width, (window, window), (shift, shift), x.device)
        tokens = self.patch_embed.norm(to_tokens(x))
        for layer in self.layers:
            tokens = layer(tokens, height, width, mask.to(x.dtype))
        return to_image(self.norm(tokens), height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        x = pad_to_multiple(x, self.window_size)
        mean = image_mean(x)
        x = (x - mean) * self.img_range
        feat = self.conv_first(x)
        body = self.conv_after_body(self.forward_features(feat)) + feat
        if self.upsampler == "pixelshuffle":
            out = self.conv_last(self.upsample(self.conv_before_upsample(body)))
        elif self.upsampler == "pixelshuffledirect":
            out = self.upsample(body)
        elif self.upsampler == "nearest+conv":
            out = self.conv_before_upsample(body)
            for name in self.up_convs:
                out = F.leaky_relu(getattr(self, name)(
                    F.interpolate(out, scale_factor=2, mode="nearest")), 0.2)
            out = self.conv_last(F.leaky_relu(self.conv_hr(out), 0.2))
        else:
            out = x + self.conv_last(body)
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


def window_from_bias_table(rows: int, layout: str, key: str) -> int:
    """w for a relative-position bias table of (2w - 1)^2 rows."""
    side = square_side(rows, key, layout)
    if side % 2 == 0:
        raise LayoutError(f"{layout}: {key} has {rows} rows, not (2 * window - 1)^2")
    return (side + 1) // 2


def residual_kind(state_dict: dict, prefix: str, layout: str, *, identity_ok: bool = False) -> str:
    if f"{prefix}.weight" in state_dict:
        return "1conv"
    if f"{prefix}.4.weight" in state_dict:
        return "3conv"
    if identity_ok:
        return "identity"
    raise LayoutError(f"{layout}: no {prefix}.weight (1conv) or {prefix}.4.weight (3conv)")


def group_depths_and_heads(state_dict: dict, blocks: str, table: str) -> tuple[list, list]:
    """Blocks per residual group and heads (bias-table columns) of each, from the keys
    layers.i.{blocks}.j... and layers.i.{table}."""
    depths, heads = [], []
    for group in indices(state_dict, r"^layers\.(\d+)\."):
        prefix = f"layers.{group}.{blocks}"
        depths.append(len(indices(state_dict, rf"^{re.escape(prefix)}\.(\d+)\.norm1\.weight$")))
        heads.append(shape(state_dict, f"layers.{group}.{table}")[1])
    return depths, heads


def detect(state_dict: dict) -> LayoutMatch:
    """(hparams, state dict) of a SwinIR checkpoint, None when its signature keys are absent."""
    if not {f"{BLOCK0}.attn.relative_position_index", f"{BLOCK0}.attn.qkv.weight",
            f"{BLOCK0}.norm1.weight"} <= state_dict.keys():
        return None
    if "conv_first.1.weight" in state_dict or "absolute_pos_embed" in state_dict:
        extra = "conv_first.1 (pixel-unshuffled input)" if "conv_first.1.weight" in state_dict \
            else "absolute_pos_embed"
        raise LayoutError(f"{LAYOUT} with {extra}: that variant is not supported")
    if "patch_embed.norm.weight" not in state_dict:
        raise LayoutError(f"{LAYOUT} without patch_embed.norm: only patch_norm=True is supported")
    embed_dim, num_in_ch = shape(state_dict, "conv_first.weight")[:2]
    table = shape(state_dict, f"{BLOCK0}.attn.relative_position_bias_table")[0]
    window = window_from_bias_table(table, LAYOUT, "relative_position_bias_table")
    depths, heads = group_depths_and_heads(state_dict, "residual_group.blocks",
                                           "residual_group.blocks.0.attn"
                                           ".relative_position_bias_table")
    img_size = 64  # the training patch size; only the unused attn_mask buffers depend on it
    if "layers.0.residual_group.blocks.1.attn_mask" in state_dict:
        windows = shape(state_dict, "layers.0.residual_group.blocks.1.attn_mask")[0]
        img_size = square_side(windows, "attn_mask", LAYOUT) * window
    hparams = dict(num_in_ch=num_in_ch, embed_dim=embed_dim, depths=depths, num_heads=heads,
                   window_size=window,
                   mlp_ratio=shape(state_dict, f"{BLOCK0}.mlp.fc1.weight")[0] / embed_dim,
                   img_size=img_size,
                   resi_connection=residual_kind(state_dict, "conv_after_body", LAYOUT))
    hparams.update(_upsampler(state_dict, num_in_ch))
    # the colour JPEG models (window 7, no upsampler) work on 0..255, which only their window
    # size gives away; every other public SwinIR works on 0..1
    hparams["img_range"] = 255.0 if window == 7 and hparams["upsampler"] == "" else 1.0
    return hparams, state_dict


def _upsampler(state_dict: dict, num_in_ch: int) -> dict:
    num_out_ch = shape(state_dict, "conv_last.weight")[0] if "conv_last.weight" in state_dict \
        else num_in_ch
    found = dict(num_out_ch=num_out_ch)
    if "conv_before_upsample.0.weight" in state_dict:
        num_feat = shape(state_dict, "conv_before_upsample.0.weight")[0]
        found["num_feat"] = num_feat
        if "conv_up1.weight" in state_dict:
            stages = len(indices(state_dict, r"^conv_up(\d+)\.weight$"))
            return dict(found, upsampler="nearest+conv", scale=2**stages)
        scale = pixelshuffle_scale(state_dict, "upsample", num_feat, LAYOUT)
        return dict(found, upsampler="pixelshuffle", scale=scale)
    if "upsample.0.weight" in state_dict:
        out = shape(state_dict, "upsample.0.weight")[0]
        return dict(found, upsampler="pixelshuffledirect",
                    scale=direct_scale(out, num_out_ch, LAYOUT, "upsample.0"))
    return dict(found, upsampler="", scale=1)


SPEC = ArchSpec(name="swinir", module=SwinIR, params=SwinIRParams, scales=SCALES,
                layouts=(Layout(LAYOUT, detect),),
                # no whole-image statistics: tiles on the window grid reproduce a whole-image run
                window_grid=lambda hparams: hparams["window_size"])
