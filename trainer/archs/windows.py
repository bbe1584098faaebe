"""Pieces the window-attention transformers (SwinIR, HAT, DAT, OmniSR) share.

Everything that depends on the input size is computed from the traced shape with tensor ops, so
an ONNX export keeps height and width dynamic: padding to a window multiple, the shifted-window
attention mask, window partitioning. The reference implementations build the mask with Python
slice assignments, which a trace would freeze to the export size.
"""

from __future__ import annotations

import torch
from torch import nn

# logit added between tokens that a cyclic shift brought together from opposite image edges
MASKED = -100.0


def reflect_indices(length, padded, device) -> torch.Tensor:
    """Indices 0..padded-1 into an axis of `length`, mirrored at the end (edge not repeated).

    Equals F.pad(mode="reflect") where that works, and keeps mirroring back and forth where the
    pad is longer than the axis (F.pad refuses), so inputs smaller than a window still run.
    """
    index = torch.arange(padded, device=device)
    period = torch.clamp(torch.as_tensor(2 * length - 2, device=device), min=1)
    folded = torch.remainder(index, period)
    return torch.where(folded < length, folded, period - folded)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad the bottom and right of an NCHW tensor up to multiples of `multiple`."""
    if multiple <= 1:
        return x
    height, width = x.shape[-2], x.shape[-1]
    padded_h = (height + multiple - 1) // multiple * multiple
    padded_w = (width + multiple - 1) // multiple * multiple
    x = x.index_select(-2, reflect_indices(height, padded_h, x.device))
    return x.index_select(-1, reflect_indices(width, padded_w, x.device))


def constant(make, shape: tuple[int, ...], dtype=torch.float32) -> torch.Tensor:
    """A buffer holding a constant of the layout (index table, mask): `make()` computes it on the
    CPU; a meta-device build (sr-export's, whose loading replaces every buffer) gets an empty
    one of the same shape instead, which costs nothing."""
    if torch.empty(0).device.type == "meta":
        return torch.empty(shape, dtype=dtype)
    return make()


def relative_position_index(window_h: int, window_w: int, device="cpu") -> torch.Tensor:
    """For each pair of tokens in a window, the row of its relative-position bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_h, device=device),
                                        torch.arange(window_w, device=device),
                                        indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rows, cols = relative[..., 0] + window_h - 1, relative[..., 1] + window_w - 1
    return rows * (2 * window_w - 1) + cols


def _shift_regions(length, window: int, shift: int, device) -> torch.Tensor:
    # 0 = untouched, 1 = last window before the wrap, 2 = rows that wrapped around
    index = torch.arange(length, device=device)
    return (index >= length - window).long() + (index >= length - shift).long()


def shifted_window_mask(height, width, window: tuple[int, int], shift: tuple[int, int],
                        device) -> torch.Tensor:
    """(windows, tokens, tokens) additive mask for attention after a cyclic shift.

    Tokens may only attend to tokens of the same region; regions are cut where the cyclic
    shift joined the far edges of the image. Height and width are multiples of the window.
    """
    rows = _shift_regions(height, window[0], shift[0], device)
    cols = _shift_regions(width, window[1], shift[1], device)
    label = rows[:, None] * 3 + cols[None, :]
    labels = partition(label[None, :, :, None], window).flatten(1)
    different = labels[:, None, :] != labels[:, :, None]
    return torch.where(different, MASKED, 0.0)


def partition(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, C) -> (B * windows, wh, ww, C), windows in row-major order."""
    batch, height, width, channels = x.shape
    wh, ww = window
    x = x.view(batch, height // wh, wh, width // ww, ww, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, wh, ww, channels)


def merge(windows: torch.Tensor, window: tuple[int, int], height, width) -> torch.Tensor:
    """Inverse of `partition`: (B * windows, wh, ww, C) -> (B, H, W, C)."""
    wh, ww = window
    channels = windows.shape[-1]
    x = windows.view(-1, height // wh, width // ww, wh, ww, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, channels)


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over (B * windows, heads, N, M) logits, adding a (windows, N, M) mask per image."""
    if mask is None:
        return logits.softmax(-1)
    windows, heads, n, m = mask.shape[0], logits.shape[1], logits.shape[2], logits.shape[3]
    logits = logits.view(-1, windows, heads, n, m) + mask[None, :, None]
    return logits.view(-1, heads, n, m).softmax(-1)


class Mlp(nn.Module):
    """Linear, GELU, linear: the transformer feed-forward (names fc1/fc2 as in Swin)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def pixelshuffle_stages(scale: int, num_feat: int) -> list[nn.Module]:
    """Conv + PixelShuffle stages for x2^n (one per factor 2) or x3: the `upsample` of SwinIR,
    HAT and DAT (convs at even indices)."""
    if scale == 3:
        return [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"pixelshuffle upsampling supports x2, x3, x4, x8, not x{scale}")
    layers: list[nn.Module] = []
    for _ in range(scale.bit_length() - 1):
        layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
    return layers


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C)."""
    return x.flatten(2).transpose(1, 2)


def to_image(x: torch.Tensor, height, width) -> torch.Tensor:
    """(B, H*W, C) -> (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], height, width)
