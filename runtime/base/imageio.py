"""Image files: listing a folder, reading and writing in OpenCV layout (bit depth, alpha and
gray kept), for every command that touches images.

Images are HxW (gray), HxWx2 (gray and alpha), HxWx3 (BGR) or HxWx4 (BGRA), uint8 or uint16.
Reading applies EXIF orientation; writing is atomic (a temp file in the same folder, then
os.replace), so an output file that exists is always complete. The colour profile, EXIF and
XMP travel beside the pixels (`read_image_and_metadata`, `write_image(..., metadata=)`; see
image_metadata.py).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from uprez.runtime.base import atomic
from uprez.runtime.base.exif import apply_orientation, exif_orientation
from uprez.runtime.base.image_metadata import (
    NO_METADATA,
    ImageMetadata,
    encode_with_metadata,
    gray_alpha_png,
    read_metadata,
)

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
# files that are always animations; a .png or .webp is one when its content says so
ANIMATION_SUFFIXES = frozenset({".gif", ".apng"})
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
    return _decode(path, _read_bytes(path))


def read_image_and_metadata(path: str | os.PathLike) -> tuple[np.ndarray, ImageMetadata]:
    """`read_image`, and the colour profile, EXIF and XMP for `write_image` to carry over."""
    data = _read_bytes(path)
    image = _decode(path, data)
    return image, read_metadata(data, sniff_format(data))


def _read_bytes(path: str | os.PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from None


def _decode(path: str | os.PathLike, data: bytes) -> np.ndarray:
    cv2 = _cv2()
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    animation = animation_format(io.BytesIO(data))
    if animation is not None:
        raise ImageReadError(path, f"animated {animation}: {_STILLS_ONLY}")
    kind = sniff_format(data)
    if kind is None:
        raise ImageReadError(path, "not a readable image: the content is not an image in PNG, "
                                   "JPEG, WebP, BMP or TIFF format")
    if kind == "JPEG" and _jpeg_truncated(data):
        raise ImageReadError(path, "corrupt or truncated JPEG data")
    # checked before decoding: libpng would print its own error line on the terminal
    if kind == "PNG" and not png_complete(data):
        raise ImageReadError(path, "corrupt or truncated PNG data (it ends before its "
                                   "last chunk)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
            raise ImageReadError(path, _too_large(data, kind)) from None
        image = None
    if image is None:
        size = pixel_size(data, kind)
        if size is not None and size[0] * size[1] > max_decoded_pixels():
            raise ImageReadError(path, _too_large(data, kind))
        raise ImageReadError(path, f"corrupt or truncated {kind} data")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(path, f"unsupported pixel type {image.dtype} "
                                   "(8- and 16-bit images only)")
    if image.ndim == 3 and image.shape[2] not in (3, 4):
        raise ImageReadError(path, f"unsupported channel count {image.shape[2]}")
    if kind == "PNG" and _png_colour_type(data) == _GRAY_ALPHA and image.ndim == 3:
        image = np.ascontiguousarray(image[:, :, (0, 3)])  # OpenCV spreads the gray over BGR
    return apply_orientation(image, exif_orientation(data))


_GRAY_ALPHA = 4  # PNG colour type of gray with alpha


def _png_colour_type(data: bytes) -> int | None:
    return data[25] if len(data) > 25 and data[12:16] == b"IHDR" else None


# OpenCV refuses to decode images with more pixels than this (a guard against decompression
# bombs); the variable is read once, when OpenCV loads
_PIXEL_LIMIT_VARIABLE = "OPENCV_IO_MAX_IMAGE_PIXELS"


def max_decoded_pixels() -> int:
    """The most pixels OpenCV decodes in one image."""
    try:
        return int(os.environ.get(_PIXEL_LIMIT_VARIABLE, "").strip() or 1 << 30)
    except ValueError:
        return 1 << 30


def _too_large(data: bytes, kind: str) -> str:
    limit = max_decoded_pixels()
    size = pixel_size(data, kind)
    found = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "its size"
    return (f"too large: {found} is over OpenCV's limit of {limit:,} pixels per image "
            f"({_PIXEL_LIMIT_VARIABLE} raises it, if the memory is there)")


def pixel_size(data: bytes, kind: str | None) -> tuple[int, int] | None:
    """(width, height) from an image file's header, without decoding it; None if unreadable.
    Pillow's format readers are used directly, so its own size guard does not stand between."""
    from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

    readers = {"PNG": PngImagePlugin.PngImageFile, "JPEG": JpegImagePlugin.JpegImageFile,
               "BMP": BmpImagePlugin.BmpImageFile, "TIFF": TiffImagePlugin.TiffImageFile}
    if kind == "WebP":
        from PIL import WebPImagePlugin

        readers["WebP"] = WebPImagePlugin.WebPImageFile
    if kind not in readers:
        return None
    try:
        with readers[kind](io.BytesIO(data)) as header:
            return header.size
    except Exception:  # noqa: BLE001 - a header Pillow cannot read: the size stays unknown
        return None


def sniff_format(data: bytes) -> str | None:
    """The image format the leading bytes announce, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def write_image(path: str | os.PathLike, image: np.ndarray, *, quality: int | None = None,
                metadata: ImageMetadata = NO_METADATA) -> None:
    """Encode by the path's suffix and write atomically; converts depth/alpha the format lacks.

    `metadata` (from `read_image_and_metadata`) is written where the format holds it, with the
    EXIF orientation reset and the pixel dimensions updated (`image_metadata.losses` says what
    a format drops)."""
    cv2 = _cv2()
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise ImageWriteError(path, f"unknown image format {path.suffix!r}")
    image = fit_to_format(image, fmt)
    if image.ndim == 3 and image.shape[2] == 2:  # gray and alpha: only PNG keeps it
        write_bytes_atomic(path, gray_alpha_png(image, metadata))
        return
    if metadata:
        try:
            encoded_with = encode_with_metadata(image, fmt, metadata, quality or DEFAULT_QUALITY)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on odd tags
            raise ImageWriteError(path, f"cannot encode as {fmt} with its metadata: "
                                        f"{str(exc).strip() or type(exc).__name__} "
                                        "(--strip-metadata writes it without)") from None
        if encoded_with is not None:
            write_bytes_atomic(path, encoded_with)
            return
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
    """Drop what a format cannot hold: 16-bit becomes 8-bit, alpha is dropped for JPEG, and gray
    with alpha is kept as such only in PNG (elsewhere it is gray for JPEG, else BGRA)."""
    if image.dtype == np.uint16 and fmt not in HOLDS_16_BIT:
        image = to_8_bit(image)
    if image.ndim == 3 and image.shape[2] == 2 and fmt != "png":
        gray, alpha = image[:, :, 0], image[:, :, 1]
        if fmt not in HOLDS_ALPHA:
            return np.ascontiguousarray(gray)
        image = np.dstack([gray, gray, gray, alpha])
    if image.ndim == 3 and image.shape[2] == 4 and fmt not in HOLDS_ALPHA:
        image = image[:, :, :3]
    return image


def to_8_bit(image: np.ndarray) -> np.ndarray:
    """uint16 rounded to uint8 (65535 -> 255); uint8 as it is."""
    if image.dtype != np.uint16:
        return image
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)


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


_STILLS_ONLY = ("only still images are read here, and an animation would keep only its first "
                "frame (sr-run upscales animations whole)")


def animation_format(stream: BinaryIO) -> str | None:
    """'GIF', 'PNG' or 'WebP' when the stream (at its start) holds an animation, else None.

    Any GIF counts, one frame or many: sr-run writes GIFs back only through the animation
    path. Only the head is read (for PNG, the chunk headers up to the image data)."""
    head = stream.read(32)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP" if head[12:16] == b"VP8X" and len(head) > 20 and head[20] & 0x02 else None
    if head.startswith(_PNG_MAGIC):
        stream.seek(0)
        return "PNG" if b"acTL" in _png_chunk_types(stream, until=b"IDAT") else None
    return None


def is_animation_file(path: str | os.PathLike) -> bool:
    """A file sr-run upscales as an animation: by its suffix, or by its content."""
    path = Path(path)
    if path.suffix.lower() in ANIMATION_SUFFIXES:
        return True
    try:
        with open(path, "rb") as stream:
            return animation_format(stream) is not None
    except OSError:
        return False  # reading it later says what is wrong


def png_complete(data: bytes) -> bool:
    """Whether a PNG's chunks run whole up to IEND (a cut file ends inside one)."""
    return _png_chunk_types(io.BytesIO(data))[-1:] == [b"IEND"]


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_chunk_types(stream: BinaryIO, until: bytes = b"IEND") -> list[bytes]:
    """The chunk types in order, up to `until`; a chunk that runs past the end stops the list.
    Only the chunk headers are read."""
    size = stream.seek(0, os.SEEK_END)
    types, offset = [], 8
    while offset + 12 <= size:
        stream.seek(offset)
        header = stream.read(8)
        length, kind = int.from_bytes(header[:4], "big"), header[4:8]
        offset += 12 + length
        if offset > size:
            break
        types.append(kind)
        if kind in (until, b"IEND"):
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
