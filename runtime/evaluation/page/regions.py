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

from uprez.runtime.evaluation.page import CROP, FULL_SIZE, MAX_CROPS

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


class Differences:
    """How two views of one image differ: |a - b| averaged over the colour channels, kept as its
    integral image sampled every `step` pixels (the scale). That is all the means over windows
    with corners on the step grid need, and every crop and focus window has them there."""

    def __init__(self, a: np.ndarray, b: np.ndarray, step: int):
        import cv2

        diff = cv2.absdiff(a, b)  # uint8 images of one shape
        if diff.ndim == 3:
            total = diff[..., 0].astype(np.uint16)
            for channel in range(1, diff.shape[2]):
                total += diff[..., channel]
            channels = diff.shape[2]
        else:
            total, channels = diff, 1
        self.step = step
        self.sums = cv2.integral(total, sdepth=cv2.CV_64F)[::step, ::step] / channels

    def window_means(self, height: int, width: int) -> np.ndarray:
        """Mean over every height x width window (multiples of the step) whose top-left corner
        is on the grid: result[i, j] is the window at (x, y) = (j * step, i * step)."""
        h, w = height // self.step, width // self.step
        rows, cols = self.sums.shape[0] - h, self.sums.shape[1] - w
        s = self.sums
        total = s[h:h + rows, w:w + cols] - s[:rows, w:w + cols] - s[h:h + rows, :cols] \
            + s[:rows, :cols]
        return total / (height * width)

    def mean(self, region: Region) -> float:
        s, step = self.sums, self.step
        top, left = region.y // step, region.x // step
        bottom, right = top + region.height // step, left + region.width // step
        total = s[bottom, right] - s[top, right] - s[bottom, left] + s[top, left]
        return float(total) / (region.width * region.height)


def crop_size(height: int, width: int, scale: int) -> tuple[int, int] | None:
    """(crop height, crop width) for an image of this size, or None to show it whole."""
    if max(height, width) <= FULL_SIZE:
        return None
    size = CROP - CROP % scale
    return min(size, height), min(size, width)


def choose_regions(height: int, width: int, scale: int,
                   differences: Iterator[Differences]) -> list[Region]:
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

    def crop_x(col: np.ndarray) -> np.ndarray:  # where a crop centred on a window goes
        x = np.clip(col * scale + focus // 2 - crop_w // 2, 0, width - crop_w)
        return x - x % scale

    def crop_y(row: np.ndarray) -> np.ndarray:
        y = np.clip(row * scale + focus // 2 - crop_h // 2, 0, height - crop_h)
        return y - y % scale

    def centred(windows: np.ndarray) -> Region:
        row, col = np.unravel_index(int(np.argmax(windows)), windows.shape)
        return Region(int(crop_x(np.array(col))), int(crop_y(np.array(row))), crop_w, crop_h)

    for diff in differences:
        windows = diff.window_means(focus, focus)
        first = windows if first is None else first
        best = float(windows.max())
        if best <= 0:
            continue  # the two views are identical
        if any(_inside(windows, region, focus, focus, scale).max(initial=0) >= SERVED * best
               for region in chosen):
            continue
        chosen.append(centred(windows))
        if len(chosen) == MAX_CROPS:
            return chosen
    # room left: more places where the first pair (the page's default comparison) differs,
    # each crop sharing at most a quarter of itself with any other
    if first is None:
        return chosen
    xs, ys = crop_x(np.arange(first.shape[1])), crop_y(np.arange(first.shape[0]))
    while len(chosen) < MAX_CROPS:
        for region in chosen:
            shared = np.outer(np.maximum(0, crop_h - np.abs(ys - region.y)),
                              np.maximum(0, crop_w - np.abs(xs - region.x)))
            first[shared > crop_h * crop_w / 4] = -1.0
        if first.max() <= 0:
            break  # nowhere else differs
        chosen.append(centred(first))
    return chosen


def _focus_size(scale: int) -> int:
    return max(scale, FOCUS - FOCUS % scale)


def _inside(windows: np.ndarray, region: Region, height: int, width: int,
            scale: int) -> np.ndarray:
    """The entries of a `window_means(height, width)` grid whose windows lie inside `region`
    (whose corners are on the grid)."""
    top, left = region.y // scale, region.x // scale
    rows = (region.height - height) // scale + 1
    cols = (region.width - width) // scale + 1
    return windows[top:top + rows, left:left + cols]


@dataclass(frozen=True)
class PairStats:
    """For one pair of views under one condition: per region, the mean difference and the
    (x, y) centre, in image pixels, of the FOCUS window that differs most."""

    means: tuple[float, ...]
    focus: tuple[tuple[int, int], ...]


def pair_stats(diff: Differences, regions: Sequence[Region], scale: int) -> PairStats:
    means, focus = [], []
    for region in regions:
        means.append(round(diff.mean(region), 3))
        size_h = min(_focus_size(scale), region.height)
        size_w = min(_focus_size(scale), region.width)
        windows = _inside(diff.window_means(size_h, size_w), region, size_h, size_w, scale)
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
