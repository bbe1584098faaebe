"""EXIF orientation: find the tag in JPEG, PNG, WebP and TIFF bytes and apply it.

OpenCV applies EXIF orientation only when it also converts the image to 8-bit BGR; reading
unchanged (16-bit, alpha, gray) ignores it. So the runtime reads unchanged and rotates itself.
"""

from __future__ import annotations

import struct

import numpy as np

ORIENTATION_TAG = 0x0112
_EXIF_PREFIX = b"Exif\x00\x00"


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1..8) stored in an encoded image; 1 (upright) when absent."""
    block = exif_block(data)
    if block is None:
        return 1
    try:
        return _orientation_in_tiff(block)
    except (struct.error, IndexError):
        return 1  # a damaged EXIF block must not make a readable image unreadable


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a decoded image upright, as viewers do for the given EXIF orientation."""
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: a.swapaxes(0, 1)[::-1],
    }
    turned = transforms.get(orientation, transforms[1])(image)
    return np.ascontiguousarray(turned)


def exif_block(data: bytes) -> bytes | None:
    """The EXIF block (TIFF-structured, no 'Exif' prefix) of an encoded image, or None; for a
    TIFF file, the file itself, whose first IFD holds its EXIF tags."""
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_exif(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_exif(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_exif(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return data
    return None


def _jpeg_exif(data: bytes) -> bytes | None:
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no more headers
            return None
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and segment.startswith(_EXIF_PREFIX):
            return segment[len(_EXIF_PREFIX):]
        pos += 2 + length
    return None


def _png_exif(data: bytes) -> bytes | None:
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"eXIf":
            return _strip_prefix(data[pos + 8:pos + 8 + length])
        if kind == b"IEND":
            return None
        pos += 12 + length
    return None


def _webp_exif(data: bytes) -> bytes | None:
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[pos:pos + 8])
        if kind == b"EXIF":
            return _strip_prefix(data[pos + 8:pos + 8 + length])
        pos += 8 + length + (length & 1)
    return None


def _strip_prefix(block: bytes) -> bytes:
    return block[len(_EXIF_PREFIX):] if block.startswith(_EXIF_PREFIX) else block


def _orientation_in_tiff(block: bytes) -> int:
    order = {b"II": "<", b"MM": ">"}.get(block[:2])
    if order is None:
        return 1
    (ifd,) = struct.unpack(order + "I", block[4:8])
    (entries,) = struct.unpack(order + "H", block[ifd:ifd + 2])
    for i in range(entries):
        entry = ifd + 2 + 12 * i
        tag, _kind, _count = struct.unpack(order + "HHI", block[entry:entry + 8])
        if tag == ORIENTATION_TAG:
            (value,) = struct.unpack(order + "H", block[entry + 8:entry + 10])
            return value if 1 <= value <= 8 else 1
    return 1
