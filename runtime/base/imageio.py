"""Image files: listing a folder, reading and writing in OpenCV layout (bit depth, alpha and
gray kept), for every command that touches images.

Images are HxW (gray), HxWx3 (BGR) or HxWx4 (BGRA), uint8 or uint16. Reading applies EXIF
orientation; writing is atomic (a temp file in the same folder, then os.replace), so an output
file that exists is always complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from uprez.runtime.base import atomic
from uprez.runtime.base.exif import apply_orientation, exif_orientation

# suffix -> format name; the formats sr-run reads and writes
FORMATS = {
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
}
IMAGE_SUFFIXES = frozenset(FORMATS)
HOLDS_16_BIT = frozenset({"png", "tiff"})
HOLDS_ALPHA = frozenset({"png", "webp", "tiff", "bmp"})
DEFAULT_QUALITY = 95  # JPEG and WebP

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


class ImageReadError(Exception):
    """An input that cannot be read as an image; carries the path and a one-line reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class ImageWriteError(Exception):
    """An output that could not be written; nothing is left at the path."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def format_of(path: str | os.PathLike) -> str | None:
    return FORMATS.get(Path(path).suffix.lower())


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in `folder` (not its subfolders), sorted by name; hidden files (a
    leading dot: macOS `._name` forks, temp files of unfinished writes) are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(folder, "not a folder")
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and not path.name.startswith(".")
                  and path.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file, upright (EXIF orientation applied), at its own depth and channels."""
    cv2 = _cv2()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from None
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    kind = sniff_format(data)
    if kind is None:
        raise ImageReadError(path, "not a readable image: the content is not an image in PNG, "
                                   "JPEG, WebP, BMP or TIFF format")
    if kind == "JPEG" and _jpeg_truncated(data):
        raise ImageReadError(path, "corrupt or truncated JPEG data")
    # checked before decoding: libpng would print its own error line on the terminal, and
    # OpenCV would quietly return only the first frame of an animation
    if kind == "PNG":
        chunks = _png_chunk_types(data)
        if chunks[-1:] != [b"IEND"]:
            raise ImageReadError(path, "corrupt or truncated PNG data (it ends before its "
                                       "last chunk)")
        if b"acTL" in chunks:
            raise ImageReadError(path, f"animated PNG: {_STILLS_ONLY}")
    if kind == "WebP" and data[12:16] == b"VP8X" and len(data) > 20 and data[20] & 0x02:
        raise ImageReadError(path, f"animated WebP: {_STILLS_ONLY}")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None:
        raise ImageReadError(path, f"corrupt or truncated {kind} data")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(path, f"unsupported pixel type {image.dtype} "
                                   "(8- and 16-bit images only)")
    if image.ndim == 3 and image.shape[2] not in (3, 4):
        raise ImageReadError(path, f"unsupported channel count {image.shape[2]}")
    return apply_orientation(image, exif_orientation(data))


def sniff_format(data: bytes) -> str | None:
    """The image format the leading bytes announce, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def write_image(path: str | os.PathLike, image: np.ndarray, *, quality: int | None = None) -> None:
    """Encode by the path's suffix and write atomically; converts depth/alpha the format lacks."""
    cv2 = _cv2()
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise ImageWriteError(path, f"unknown image format {path.suffix!r}")
    image = fit_to_format(image, fmt)
    params: list[int] = []
    if fmt == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, quality or DEFAULT_QUALITY]
    elif fmt == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality or DEFAULT_QUALITY]
    try:
        ok, encoded = cv2.imencode(path.suffix.lower(), image, params)
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1]  # OpenCV's last line names the problem
        raise ImageWriteError(path, f"cannot encode as {fmt}: {reason}") from None
    if not ok:
        raise ImageWriteError(path, f"cannot encode as {fmt}")
    write_bytes_atomic(path, encoded.tobytes())


def fit_to_format(image: np.ndarray, fmt: str) -> np.ndarray:
    """Drop what a format cannot hold: 16-bit becomes 8-bit, alpha is dropped for JPEG."""
    if image.dtype == np.uint16 and fmt not in HOLDS_16_BIT:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4 and fmt not in HOLDS_ALPHA:
        image = image[:, :, :3]
    return image


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a hidden temp file beside `path`, then rename it over `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(path, f"cannot create folder: {exc.strerror or exc}") from None
    try:
        atomic.write_bytes(path, data)
    except OSError as exc:
        raise ImageWriteError(path, exc.strerror or str(exc)) from None


_STILLS_ONLY = ("sr-run upscales still images and would keep only the first frame; "
                "make it a video or split its frames first")


def _png_chunk_types(data: bytes) -> list[bytes]:
    """The chunk types in order, up to IEND; a chunk that runs past the end stops the list."""
    types, offset = [], 8
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8]
        offset += 12 + length
        if offset > len(data):
            break
        types.append(kind)
        if kind == b"IEND":
            break
    return types


def _jpeg_truncated(data: bytes) -> bool:
    # In entropy-coded data 0xFF is always stuffed, so the last EOI marker must follow the last
    # start-of-scan; an EOI only before it belongs to an embedded thumbnail.
    return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")


_cv2_module = None


def _cv2():
    """OpenCV, with its own warnings silenced: uprez reports read/write problems itself."""
    global _cv2_module
    if _cv2_module is None:
        import cv2

        try:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        except AttributeError:
            pass
        _cv2_module = cv2
    return _cv2_module
