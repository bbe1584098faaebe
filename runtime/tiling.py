"""Where the tiles of an image go, and how their outputs are stitched back together.

Every window (a tile plus its context) of an image has the same input shape: the last window on
each axis shifts inward instead of shrinking, so a session sees one shape per image size.
Neighbouring windows overlap by at least twice the pad (plus `blend`). Inside each overlap there
is a cut; around it the two outputs are blended with a linear ramp that only uses output pixels
at least `trusted` input pixels away from a window's inner edge. With trusted >= the model's
receptive field every output pixel equals the whole-image result; when the pad is smaller than
that, `blend` widens the overlaps so that the ramp spreads the small differences out (no seam).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AxisPlan:
    """The windows along one axis. Spans and weights are in output pixels."""

    window: int  # input length of every window
    starts: tuple[int, ...]  # input offset of each window
    spans: tuple[tuple[int, int], ...]  # output range [lo, hi) each window contributes to
    weights: tuple[np.ndarray | None, ...]  # blend weight over the span; None = all ones


@dataclass(frozen=True)
class TilePlan:
    rows: AxisPlan
    cols: AxisPlan

    @property
    def window_shape(self) -> tuple[int, int]:
        return self.rows.window, self.cols.window

    def windows(self) -> list[tuple[int, int]]:
        """(row, col) indices in the order the assembler expects: row by row."""
        return [(r, c) for r in range(len(self.rows.starts)) for c in range(len(self.cols.starts))]


def plan_tiles(height: int, width: int, *, tile: int | tuple[int, int], pad: int, scale: int,
               trusted: int, blend: int = 0, multiple: int = 1, balance: bool = False) -> TilePlan:
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    options = dict(pad=pad, scale=scale, trusted=trusted, blend=blend, multiple=multiple,
                   balance=balance)
    return TilePlan(plan_axis(height, tile=tile_h, **options),
                    plan_axis(width, tile=tile_w, **options))


def plan_axis(length: int, *, tile: int, pad: int, scale: int, trusted: int, blend: int = 0,
              multiple: int = 1, balance: bool = False) -> AxisPlan:
    """Windows of `tile + 2*pad` (0 = whole length) covering `length`; see module docstring.

    `balance` shrinks the windows to the smallest size that still needs no more of them, so a
    length just over one window costs two half-size windows rather than two full ones.
    """
    window = length if tile <= 0 else min(_round_up(tile + 2 * pad, multiple), length)
    if window >= length:
        return AxisPlan(length, (0,), ((0, length * scale),), (None,))
    # neighbours at most `step` apart overlap by >= 2*pad + blend even after aligning starts down
    margin = 2 * pad + blend + (multiple - 1)
    step = max(1, window - margin)
    count = 1 + math.ceil((length - window) / step)
    if balance and window - margin >= 1:
        # smallest window w with (length - w) / (count - 1) <= w - margin
        window = _round_up(-(-(length + (count - 1) * margin) // count), multiple)
    starts = [round(i * (length - window) / (count - 1)) // multiple * multiple
              for i in range(count)]
    starts[-1] = length - window
    cuts, halves = [], []
    for left, right in zip(starts, starts[1:], strict=False):
        overlap = left + window - right
        cuts.append(right + overlap // 2)
        halves.append(max(0, overlap // 2 - trusted))
    for i in range(len(cuts)):  # ramps of neighbouring cuts must not overlap
        if i > 0:
            halves[i] = min(halves[i], (cuts[i] - cuts[i - 1]) // 2)
        if i + 1 < len(cuts):
            halves[i] = min(halves[i], (cuts[i + 1] - cuts[i]) // 2)
    spans, weights = [], []
    for i in range(count):
        lo = (cuts[i - 1] - halves[i - 1]) * scale if i > 0 else 0
        hi = (cuts[i] + halves[i]) * scale if i < count - 1 else length * scale
        spans.append((lo, hi))
        weight = np.ones(hi - lo, np.float32)
        if i > 0 and halves[i - 1] > 0:
            weight *= _ramp_up(lo, hi, cuts[i - 1] * scale, halves[i - 1] * scale)
        if i < count - 1 and halves[i] > 0:
            weight *= 1.0 - _ramp_up(lo, hi, cuts[i] * scale, halves[i] * scale)
        weights.append(None if bool(np.all(weight == 1.0)) else weight)
    return AxisPlan(window, tuple(starts), tuple(spans), tuple(weights))


def _ramp_up(lo: int, hi: int, cut: int, half: int) -> np.ndarray:
    """0 -> 1 across [cut - half, cut + half), sampled at pixel centres of [lo, hi)."""
    centres = np.arange(lo, hi, dtype=np.float64) + 0.5
    return np.clip((centres - (cut - half)) / (2 * half), 0.0, 1.0).astype(np.float32)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class Assembler:
    """Stitches window outputs (CxHxW model tiles, in plan order) into an image, band by band.

    Bands are accumulated planar (channel-first, as the model writes them), so adding a tile is
    a run of contiguous row copies; `finish` turns a finished band (C x rows x W float) into
    output rows (rows x W x C). Only one row of windows is held in float at a time, plus the
    rows it shares with the next row, so a large image never needs a full-size float buffer.
    """

    def __init__(self, plan: TilePlan, out: np.ndarray, scale: int,
                 finish: Callable[[np.ndarray], np.ndarray]):
        self.plan, self.out, self.scale, self.finish = plan, out, scale, finish
        self._band: np.ndarray | None = None
        self._carry: np.ndarray | None = None
        self._added = 0

    def add(self, row: int, col: int, tile: np.ndarray) -> None:
        rows, cols, s = self.plan.rows, self.plan.cols, self.scale
        (y_lo, y_hi), (x_lo, x_hi) = rows.spans[row], cols.spans[col]
        if self._band is None:
            self._band = np.zeros((tile.shape[0], y_hi - y_lo, self.out.shape[1]), np.float32)
        y0, x0 = rows.starts[row] * s, cols.starts[col] * s
        part = tile[:, y_lo - y0:y_hi - y0, x_lo - x0:x_hi - x0]
        weight_y, weight_x = rows.weights[row], cols.weights[col]
        if weight_x is not None:
            part = part * weight_x[None, None, :]
        if weight_y is not None:
            part = part * weight_y[None, :, None]
        self._band[:, :, x_lo:x_hi] += part
        self._added += 1
        if col == len(cols.starts) - 1:
            self._finish_band(row)

    def _finish_band(self, row: int) -> None:
        spans = self.plan.rows.spans
        lo, hi = spans[row]
        band, self._band = self._band, None
        if self._carry is not None:
            band[:, :self._carry.shape[1]] += self._carry
        final_hi = spans[row + 1][0] if row + 1 < len(spans) else hi
        self.out[lo:final_hi] = self.finish(band[:, :final_hi - lo])
        self._carry = band[:, final_hi - lo:].copy() if final_hi < hi else None

    @property
    def complete(self) -> bool:
        return self._added == len(self.plan.rows.starts) * len(self.plan.cols.starts)
