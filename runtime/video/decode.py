"""Source frames as BGR numpy arrays from an ffmpeg pipe: bgr24, or bgr48le for >8-bit video."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from uprez.runtime.video.color import ColorPlan
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg
from uprez.runtime.video.probe import VideoInfo
from uprez.runtime.video.procs import FfmpegProcess

SCALE_FLAGS = "bicubic+accurate_rnd+full_chroma_int"
# Which frames a source yields, as a resume key: work from a run that read them differently
# (before version 2, variable-rate sources were read frame for frame) is never continued.
FRAME_READING = 2
# frames flagged interlaced only (DVDs mix them with progressive ones); field order from the flags
DEINTERLACE_FILTER = "bwdif=mode=send_frame:parity=auto:deint=interlaced"


class FrameDecoder:
    """One pass over a video's frames, optionally from frame `start` (for --resume).

    Every decoded frame comes out exactly once, in order, at its own size: no frame-rate
    conversion (`-fps_mode passthrough`), so the output has the same frames as the source.
    Only a variable-rate source is read at its constant `info.fps` (frames repeated or dropped),
    and `start` then counts those constant-rate frames. Frames of a source with a field order
    are deinterlaced first (bwdif, one frame per frame), as enlarged fields would comb.
    """

    def __init__(self, ffmpeg: Ffmpeg, path: str | Path, info: VideoInfo, colors: ColorPlan,
                 start: int = 0):
        self.path, self.info, self.start = Path(path), info, start
        self.dtype = np.uint16 if info.bit_depth > 8 else np.uint8
        pipe_format = "bgr48le" if self.dtype == np.uint16 else "bgr24"
        filters = [DEINTERLACE_FILTER] if info.field_order else []
        if info.variable_rate:
            filters.append(f"fps={info.fps.numerator}/{info.fps.denominator}")
        filters += [f"trim=start_frame={start}"] if start else []
        filters += [f"scale={colors.decode_filter()}:flags={SCALE_FLAGS}",
                    f"format={pipe_format}"]
        self._process = FfmpegProcess(ffmpeg, [
            "-i", str(self.path), "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", ",".join(filters), "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", pipe_format, "pipe:1",
        ], stdout=True)
        self.frames_read = 0

    def frames(self) -> Iterator[np.ndarray]:
        """Yield HxWx3 frames; afterwards `check()` says whether the file was read whole."""
        shape = (self.info.height, self.info.width, 3)
        frame_bytes = int(np.prod(shape)) * np.dtype(self.dtype).itemsize
        stdout = self._process.process.stdout
        while True:
            frame = np.empty(shape, self.dtype)
            view = memoryview(frame.reshape(-1).view(np.uint8))
            filled = 0
            while filled < frame_bytes:
                got = stdout.readinto(view[filled:])
                if not got:
                    break
                filled += got
            if filled < frame_bytes:
                return
            self.frames_read += 1
            yield frame

    def check(self) -> None:
        """Raise VideoError when ffmpeg failed, or reported errors and delivered fewer frames
        than the file promises (a truncated or damaged file)."""
        code = self._process.wait()
        decoded = self.start + self.frames_read
        expected = max(self.info.expected_frames or 0, self.info.frame_count)
        if code != 0 or decoded == 0:
            raise VideoError(self._damaged(decoded, expected))
        # Error lines alone are not enough: streams cut mid-GOP log errors for their first
        # frames and then decode fine. Errors *and* missing frames mean lost video.
        if self._process.messages() and decoded < expected - 1:
            raise VideoError(self._damaged(decoded, expected))

    def _damaged(self, decoded: int, expected: int) -> str:
        return (f"{self.path.name} is damaged or truncated: decoding stopped after {decoded} of "
                f"about {expected} frames ({self._process.first_message()})")

    def messages(self) -> list[str]:
        return self._process.messages()

    def kill(self) -> None:
        self._process.kill()
