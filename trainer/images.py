"""Image files for training: decoding to RGB uint8 and a RAM cache of decoded images.

Listing a folder is the shared `uprez.runtime.base.imageio.list_images`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uprez.runtime.base import atomic
from uprez.runtime.base.imageio import ImageReadError, ImageWriteError, read_image, to_8_bit


def read_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB, read by the runtime's reader (so every command reads, refuses and names
    image files alike). Grey images become three channels; alpha is dropped; 16-bit is rounded to
    8-bit. ImageReadError says why a file cannot be used."""
    image = to_8_bit(read_image(path))
    if image.ndim == 3 and image.shape[2] == 2:  # gray and alpha
        image = np.ascontiguousarray(image[:, :, 0])
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def write_rgb(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageWriteError(path, "OpenCV cannot encode this format")
    atomic.write_bytes(path, encoded.tobytes())


@dataclass(frozen=True)
class Rejected:
    path: Path
    reason: str


class ImageStore:
    """Decoded images by index, kept in RAM up to `cache_bytes`, the rest decoded on each use.

    Read-only after construction, so loader worker processes share it (copy-on-write on fork).
    """

    def __init__(self, paths: list[Path], cache_bytes: int, keep=lambda image: None):
        """Decode every file once; `keep(image)` returns None or a reason to reject the file."""
        self.paths: list[Path] = []
        self.shapes: list[tuple[int, int]] = []
        self.rejected: list[Rejected] = []
        self._cached: list[np.ndarray | None] = []
        used = 0
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for path, image in zip(paths, pool.map(_try_read, paths), strict=True):
                if isinstance(image, str):
                    self.rejected.append(Rejected(path, image))
                    continue
                reason = keep(image)
                if reason:
                    self.rejected.append(Rejected(path, reason))
                    continue
                fits = used + image.nbytes <= cache_bytes
                used += image.nbytes if fits else 0
                self.paths.append(path)
                self.shapes.append(image.shape[:2])
                self._cached.append(image if fits else None)
        self.cached_bytes = used

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, index: int) -> np.ndarray:
        image = self._cached[index]
        return image if image is not None else read_rgb(self.paths[index])


def _try_read(path: Path) -> np.ndarray | str:
    try:
        return read_rgb(path)
    except ImageReadError as exc:
        return exc.reason
