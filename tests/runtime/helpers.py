"""Image makers shared by the runtime tests."""

from __future__ import annotations

import numpy as np


def noise(rng, shape, dtype=np.uint8):
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def smooth(height: int, width: int) -> np.ndarray:
    """A smooth colour gradient: seams would be the only sharp features in its upscale."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.dstack([40 + 1.5 * xx, 30 + 1.2 * yy + 0.8 * xx, 200 - 1.0 * yy])
    return np.clip(image, 0, 255).astype(np.uint8)
