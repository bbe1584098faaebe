"""An animated GIF, APNG or WebP as the frames a viewer shows, with their timing.

Pillow composes each frame onto the canvas as the format says (offsets, disposal, blending), so
every frame here is the whole picture at that moment. Upscaling those, rather than the stored
patches, keeps the model from seeing patch edges and keeps the frames exactly in step.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uprez.runtime.base.image_metadata import (
    NO_METADATA,
    ImageMetadata,
    metadata_of_pillow_image,
)
from uprez.runtime.base.imageio import png_complete

# the formats, by the name sr-run uses for them and Pillow's
PILLOW_FORMATS = {"GIF": "GIF", "PNG": "PNG", "WebP": "WEBP"}
SUFFIX_FORMATS = {".gif": "GIF", ".png": "PNG", ".apng": "PNG", ".webp": "WebP"}
FORMAT_NAMES = {"GIF": "GIF", "PNG": "APNG", "WebP": "WebP"}  # for messages


class AnimationError(Exception):
    """An animation that cannot be read or written; carries a one-line reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Animation:
    """Frames as shown, HxWx3 BGR or (when any pixel is transparent) HxWx4 BGRA, uint8."""

    frames: list[np.ndarray]
    durations: list[float]  # milliseconds each frame is shown
    plays: int  # times the animation plays; 0 = forever
    format: str  # "GIF", "PNG" (APNG) or "WebP"
    metadata: ImageMetadata = field(default=NO_METADATA)

    @property
    def has_alpha(self) -> bool:
        return self.frames[0].ndim == 3 and self.frames[0].shape[2] == 4


class AnimationFile:
    """An animation opened for reading: its size, frame count and format are known before any
    frame is decoded (so the caller can check the memory the upscaled frames will need)."""

    def __init__(self, path: str | os.PathLike, *, keep_metadata: bool = True):
        self.path = Path(path)
        try:
            self._data = self.path.read_bytes()
        except OSError as exc:
            raise AnimationError(exc.strerror or str(exc)) from None
        self.format = _container(self._data)
        self._image = _open(self._data, self.format)
        self._first = 1 if self._image.info.get("default_image") else 0  # APNG's still stand-in
        self.frame_count = self._image.n_frames - self._first
        if self.frame_count < 1:
            raise AnimationError(f"no frames in this {FORMAT_NAMES[self.format]}")
        self.size = self._image.size  # (width, height)
        self.metadata = (metadata_of_pillow_image(self._image, self._data) if keep_metadata
                         else NO_METADATA)

    def read(self) -> Animation:
        """Decode every frame as shown; raises AnimationError naming a frame that cannot be."""
        image, frames, durations = self._image, [], []
        for number in range(self.frame_count):
            try:
                image.seek(self._first + number)
                image.load()
                rgba = np.asarray(image.convert("RGBA"))
            except (OSError, EOFError, ValueError, SyntaxError) as exc:
                raise AnimationError(
                    f"corrupt or truncated {FORMAT_NAMES[self.format]} data: frame "
                    f"{number + 1} of {self.frame_count} cannot be decoded ({exc})") from None
            frames.append(np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]]))
            durations.append(float(image.info.get("duration") or 0))
        if all(bool((frame[:, :, 3] == 255).all()) for frame in frames):
            frames = [np.ascontiguousarray(frame[:, :, :3]) for frame in frames]
        return Animation(frames, durations, self._plays(), self.format, self.metadata)

    def _plays(self) -> int:
        loop = self._image.info.get("loop")
        if self.format != "GIF":
            return int(loop or 0)  # APNG num_plays, WebP loop count: 0 is forever
        # a GIF without a loop extension plays once; its loop count N repeats it N more times
        return 1 if loop is None else (0 if loop == 0 else int(loop) + 1)

    def close(self) -> None:
        self._image.close()

    def __enter__(self) -> AnimationFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _container(data: bytes) -> str:
    if not data:
        raise AnimationError("empty file (0 bytes)")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        # Pillow stops quietly where a cut file ends; a GIF ends with its trailer byte
        if not data.rstrip(b"\0").endswith(b";"):
            raise AnimationError("truncated GIF data (it ends before its end marker)")
        return "GIF"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if not png_complete(data):
            raise AnimationError("corrupt or truncated PNG data (it ends before its last chunk)")
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if int.from_bytes(data[4:8], "little") + 8 > len(data):
            raise AnimationError("truncated WebP data (shorter than its header says)")
        return "WebP"
    raise AnimationError("not an animation (the content is not GIF, PNG or WebP)")


def _open(data: bytes, fmt: str):
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        # the memory the frames take is checked against free memory by the caller, which
        # knows the scale; Pillow's decompression-bomb guess would only warn on the way
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[fmt]])
        image.n_frames  # noqa: B018 - walks the frames, so a damaged one shows here
        return image
    except UnidentifiedImageError:
        raise AnimationError(f"corrupt {FORMAT_NAMES[fmt]} data: no frame can be read") from None
    except Image.DecompressionBombError as exc:
        raise AnimationError(f"too large to read ({exc})") from None
    except (OSError, EOFError, ValueError, SyntaxError) as exc:
        raise AnimationError(f"corrupt or truncated {FORMAT_NAMES[fmt]} data ({exc})") from None
