"""Transparency: keep colour under transparent pixels from darkening the upscaled edges.

Fully transparent pixels often store black (or garbage). An upscaler blends them into the
visible edge pixels, and the upscaled alpha there is partial, so edges get a dark fringe. Filling
transparent pixels with the colour of the nearest visible ones first (pull-push over an image
pyramid, as texture tools do) removes it; what they held was invisible anyway.
"""

from __future__ import annotations

import numpy as np


def bleed_colour(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`colour` (HxWx3, uint) with fully transparent pixels filled from visible neighbours."""
    import cv2

    hidden = alpha == 0
    if not hidden.any() or hidden.all():
        return colour
    weight = (~hidden).astype(np.float32)
    premultiplied = colour.astype(np.float32) * weight[:, :, None]
    levels = [(premultiplied, weight)]
    while max(levels[-1][1].shape) > 1:  # pull: average visible colour down a pyramid
        c, w = levels[-1]
        size = ((w.shape[1] + 1) // 2, (w.shape[0] + 1) // 2)
        levels.append((cv2.resize(c, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(w, size, interpolation=cv2.INTER_AREA)))
    filled = None
    for c, w in reversed(levels):  # push: each level's holes take the coarser level's colour
        here = c / np.maximum(w, 1e-12)[:, :, None]
        if filled is not None:
            coarse = cv2.resize(filled, (w.shape[1], w.shape[0]), interpolation=cv2.INTER_LINEAR)
            here = np.where((w > 0)[:, :, None], here, coarse)
        filled = here
    result = colour.copy()
    maxval = np.iinfo(colour.dtype).max
    result[hidden] = np.clip(filled[hidden] + 0.5, 0, maxval).astype(colour.dtype)
    return result
