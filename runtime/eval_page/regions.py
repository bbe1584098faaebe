"""Where to look: the parts of an image the comparison page shows, and where two results differ.

An HR image up to FULL_SIZE pixels on both sides is shown whole. A larger one is shown as up to
MAX_CROPS crops of CROP x CROP pixels, placed where the compared results differ most: each pair
of views (bicubic against each model first, then each model against HR, the models against each
other, bicubic against HR, and the nearest-upscaled LR last) under each LR condition finds its
hot spot, the FOCUS x FOCUS window where its mean absolute difference is largest, and gets a
crop centred there unless a crop already chosen holds a spot nearly as hot; crops left over
go to the next hottest places of the first pair, apart from the others. Crops are the same for
every condition, so switching conditions shows the same place. Every position is a multiple of
the scale, so an LR crop is exact.

Then, for every pair, condition and region: the mean absolute difference (grey levels of 255,
averaged over the colour channels), by which the page orders the crops, largest first; and the
centre of the FOCUS x FOCUS window that differs most, where its zoom starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

FULL_SIZE = 640
CROP = 256
MAX_CROPS = 4
FOCUS = 32
SERVED = 0.9  # a crop whose hottest spot differs this much of the image's hottest will do


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]


def to_display(image: np.ndarray) -> np.ndarray:
    """8-bit for the page (browsers show 8 bits; 16-bit PNGs would be twice the size)."""
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 or uint16 image, not {image.dtype}")
    return image


def nearest_upscale(image: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| averaged over the channels, float32, HxW (uint8 images of one shape)."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).astype(np.float32)
    return diff.mean(axis=2) if diff.ndim == 3 else diff


def _window_means(diff: np.ndarray, height: int, width: int, step: int) -> np.ndarray:
    """Mean of `diff` over every height x width window whose top-left corner is on the `step`
    grid: result[i, j] is the window at (x, y) = (j * step, i * step)."""
    integral = np.zeros((diff.shape[0] + 1, diff.shape[1] + 1), np.float64)
    integral[1:, 1:] = diff.cumsum(axis=0, dtype=np.float64).cumsum(axis=1)
    ys = np.arange(0, diff.shape[0] - height + 1, step)
    xs = np.arange(0, diff.shape[1] - width + 1, step)
    top, bottom = integral[ys][:, xs], integral[ys + height][:, xs]
    top_right, bottom_right = integral[ys][:, xs + width], integral[ys + height][:, xs + width]
    return (bottom_right - bottom - top_right + top) / (height * width)


def crop_size(height: int, width: int, scale: int) -> tuple[int, int] | None:
    """(crop height, crop width) for an image of this size, or None to show it whole."""
    if max(height, width) <= FULL_SIZE:
        return None
    size = CROP - CROP % scale
    return min(size, height), min(size, width)


def choose_regions(height: int, width: int, scale: int,
                   differences: Iterator[np.ndarray]) -> list[Region]:
    """The regions to show: the whole image, or crops from `differences` (maps in priority
    order, made lazily: only while crops remain to be placed).

    Each map's hot spot (its FOCUS window of largest mean difference) gets a crop centred on
    it, unless a crop already chosen holds a window that differs nearly as much (SERVED).
    Crops left over go where the first map differs most, apart from the others.
    """
    size = crop_size(height, width, scale)
    if size is None:
        return [Region(0, 0, width, height)]
    crop_h, crop_w = size
    focus = min(_focus_size(scale), height, width)
    chosen: list[Region] = []
    first: np.ndarray | None = None

    def centred(windows: np.ndarray) -> Region:
        row, col = np.unravel_index(int(np.argmax(windows)), windows.shape)
        x = min(max(0, int(col) * scale + focus // 2 - crop_w // 2), width - crop_w)
        y = min(max(0, int(row) * scale + focus // 2 - crop_h // 2), height - crop_h)
        return Region(x - x % scale, y - y % scale, crop_w, crop_h)

    for diff in differences:
        windows = _window_means(diff, focus, focus, scale)
        first = windows if first is None else first
        best = float(windows.max())
        if best <= 0:
            continue  # the two views are identical
        if any(_inside(windows, region, focus, scale).max(initial=0) >= SERVED * best
               for region in chosen):
            continue
        chosen.append(centred(windows))
        if len(chosen) == MAX_CROPS:
            return chosen
    # room left: more places where the first pair (the page's default comparison) differs,
    # each at least three quarters of a crop from the others
    while first is not None and len(chosen) < MAX_CROPS:
        centres_y = np.arange(first.shape[0]) * scale + focus // 2
        centres_x = np.arange(first.shape[1]) * scale + focus // 2
        for region in chosen:
            near_y = np.abs(centres_y - (region.y + crop_h / 2)) < 0.75 * crop_h
            near_x = np.abs(centres_x - (region.x + crop_w / 2)) < 0.75 * crop_w
            first[np.ix_(near_y, near_x)] = -1.0
        if first.max() <= 0:
            break  # nowhere else differs
        chosen.append(centred(first))
    return chosen


def _focus_size(scale: int) -> int:
    return max(scale, FOCUS - FOCUS % scale)


def _inside(windows: np.ndarray, region: Region, focus: int, scale: int) -> np.ndarray:
    """The entries of a `_window_means` grid whose windows lie inside `region`."""
    top, left = -(-region.y // scale), -(-region.x // scale)
    bottom = (region.y + region.height - focus) // scale
    right = (region.x + region.width - focus) // scale
    return windows[top:bottom + 1, left:right + 1]


@dataclass(frozen=True)
class PairStats:
    """For one pair of views under one condition: per region, the mean difference and the
    (x, y) centre, in image pixels, of the FOCUS window that differs most."""

    means: tuple[float, ...]
    focus: tuple[tuple[int, int], ...]


def pair_stats(diff: np.ndarray, regions: Sequence[Region], scale: int) -> PairStats:
    means, focus = [], []
    for region in regions:
        part = diff[region.y:region.y + region.height, region.x:region.x + region.width]
        means.append(round(float(part.mean()), 3))
        size_h = min(_focus_size(scale), region.height)
        size_w = min(_focus_size(scale), region.width)
        windows = _window_means(part, size_h, size_w, scale)
        row, col = np.unravel_index(int(np.argmax(windows)), windows.shape)
        focus.append((region.x + int(col) * scale + size_w // 2,
                      region.y + int(row) * scale + size_h // 2))
    return PairStats(tuple(means), tuple(focus))


def pair_priority(models: int) -> list[tuple[int, int]]:
    """Pairs of view indices (views: 0 LR, 1 bicubic, 2.. models, then HR), most telling first."""
    lr, bicubic, hr = 0, 1, models + 2
    model_views = list(range(2, models + 2))
    pairs = [(bicubic, m) for m in model_views] + [(m, hr) for m in model_views]
    pairs += [(a, b) for i, a in enumerate(model_views) for b in model_views[i + 1:]]
    pairs += [(bicubic, hr)] + [(lr, v) for v in range(1, hr + 1)]
    return pairs
