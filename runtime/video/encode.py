"""BGR frames into one video-only segment file through an ffmpeg pipe."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from uprez.runtime.video.codecs import EncoderSettings
from uprez.runtime.video.color import ColorPlan
from uprez.runtime.video.decode import SCALE_FLAGS
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg
from uprez.runtime.video.procs import FfmpegProcess

SEGMENT_FORMAT = "mp4"  # exact frame timing through the concat demuxer (MKV rounds to 1 ms)


def needs_even_size(pix_fmt: str) -> bool:
    """Chroma-subsampled formats cannot hold odd widths/heights."""
    return any(tag in pix_fmt for tag in ("420", "422", "440", "411", "410")) or \
        pix_fmt.startswith(("nv", "p0"))


class SegmentEncoder:
    """Encodes frames to `path`, written under a temporary name until `finish()` succeeds."""

    def __init__(self, ffmpeg: Ffmpeg, path: Path, *, width: int, height: int, dtype: np.dtype,
                 fps: Fraction, settings: EncoderSettings, colors: ColorPlan,
                 sample_aspect: Fraction | None):
        self.path = path
        self.tmp_path = path.with_name(f".{path.stem}.tmp{path.suffix}")
        self.frames = 0
        self._frame_shape = (height, width, 3)
        self._dtype = np.dtype(dtype)
        pipe_format = "bgr48le" if self._dtype == np.uint16 else "bgr24"
        filters = []
        if needs_even_size(settings.pix_fmt) and (width % 2 or height % 2):
            filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2")
        filters += [f"scale={colors.encode_filter()}:flags={SCALE_FLAGS}",
                    f"format={settings.pix_fmt}", colors.setparams_filter()]
        if sample_aspect is not None and sample_aspect != 1:
            filters.append(f"setsar={sample_aspect.numerator}/{sample_aspect.denominator}")
        self._process = FfmpegProcess(ffmpeg, [
            "-f", "rawvideo", "-pix_fmt", pipe_format, "-s", f"{width}x{height}",
            "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0",
            "-vf", ",".join(filters), *settings.ffmpeg_args(), *colors.tag_args(),
            "-an", "-f", SEGMENT_FORMAT, "-y", str(self.tmp_path),
        ], stdin=True)

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != self._frame_shape or frame.dtype != self._dtype:
            raise VideoError(f"frame {frame.shape} {frame.dtype} does not match the video's "
                             f"{self._frame_shape} {self._dtype}")
        try:
            self._process.process.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError, ValueError):
            self._process.kill()
            raise VideoError(f"the encoder stopped: {self._process.first_message()}") from None
        self.frames += 1

    def finish(self) -> Path:
        """Close the pipe, wait for ffmpeg, and give the segment its final name."""
        try:
            self._process.process.stdin.close()
        except OSError:
            pass
        if self._process.wait() != 0:
            self.discard()
            raise VideoError(f"the encoder failed: {self._process.first_message()}")
        os.replace(self.tmp_path, self.path)
        return self.path

    def kill(self) -> None:
        self._process.kill()

    def discard(self) -> None:
        self.kill()
        self.tmp_path.unlink(missing_ok=True)
