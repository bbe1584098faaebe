"""Line charts drawn with OpenCV (no matplotlib): training losses and validation PSNR over steps."""

from __future__ import annotations

import math

import cv2
import numpy as np

_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
            (140, 86, 75)]  # RGB
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_GREY = (60, 60, 60)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], size: float,
          colour: tuple[int, int, int]) -> None:
    cv2.putText(image, text, origin, _FONT, size, colour, 1, cv2.LINE_AA)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def line_chart(series: dict[str, tuple[list[float], list[float]]], *, title: str,
               log_y: bool = False, references: dict[str, float] | None = None,
               size=(900, 320)) -> np.ndarray:
    """An RGB uint8 image of named (steps, values) series, plus dashed horizontal references."""
    def plottable(v: float) -> bool:
        return math.isfinite(v) and (v > 0 or not log_y)

    references = {k: v for k, v in (references or {}).items() if plottable(v)}
    width, height = size
    image = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 30, 40
    _text(image, title, (left, 20), 0.55, (0, 0, 0))
    points = {name: [(x, y) for x, y in zip(xs, ys, strict=True) if plottable(y)]
              for name, (xs, ys) in series.items()}
    points = {name: p for name, p in points.items() if p}
    if not points:
        _text(image, "no data yet", (left, height // 2), 0.5, (120, 120, 120))
        return image

    def fy(v: float) -> float:
        return math.log10(v) if log_y else v

    xs = [x for p in points.values() for x, _ in p]
    ys = [fy(y) for p in points.values() for _, y in p] + [fy(v) for v in references.values()]
    x_lo, x_hi = min(xs), max(max(xs), min(xs) + 1)
    y_lo, y_hi = min(ys), max(ys)
    pad = (y_hi - y_lo) * 0.05 or 0.5
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def to_px(x: float, y: float) -> tuple[int, int]:
        px = left + (x - x_lo) / (x_hi - x_lo) * (width - left - right)
        py = height - bottom - (fy(y) - y_lo) / (y_hi - y_lo) * (height - top - bottom)
        return int(round(px)), int(round(py))

    cv2.rectangle(image, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    for tick in _ticks(y_lo, y_hi):
        py = to_px(x_lo, 10**tick if log_y else tick)[1]
        cv2.line(image, (left, py), (width - right, py), (225, 225, 225), 1)
        label = f"{10**tick:.3g}" if log_y else f"{tick:.4g}"
        _text(image, label, (4, py + 4), 0.4, _GREY)
    for tick in _ticks(x_lo, x_hi):
        px = to_px(tick, 10**y_lo if log_y else y_lo)[0]
        _text(image, f"{tick:g}", (px - 12, height - bottom + 16), 0.4, _GREY)
    _text(image, "step", (width - right - 40, height - 6), 0.4, _GREY)
    for i, (name, pts) in enumerate(points.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        pixels = np.array([to_px(x, y) for x, y in pts], np.int32)
        cv2.polylines(image, [pixels], False, colour, 2, cv2.LINE_AA)
        if len(pixels) == 1:
            cv2.circle(image, tuple(int(v) for v in pixels[0]), 3, colour, -1)
        _text(image, name, (left + 10 + 170 * i, top + 18), 0.45, colour)
    for j, (name, value) in enumerate(references.items()):
        colour = _COLOURS[(len(points) + j) % len(_COLOURS)]
        py = to_px(x_lo, value)[1]
        for px in range(left, width - right, 16):
            cv2.line(image, (px, py), (min(px + 8, width - right), py), colour, 1, cv2.LINE_AA)
        _text(image, name, (left + 10 + 170 * (len(points) + j), top + 18), 0.45, colour)
    return image
