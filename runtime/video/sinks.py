"""Where upscaled frames go: encoded segments of a video, or numbered PNG files.

A sink is written to from one thread (the encoder thread). `kill()` may come from another
thread to unblock it; `cleanup()` runs after that thread has stopped.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from uprez.runtime.base import atomic, console
from uprez.runtime.video.codecs import EncoderSettings
from uprez.runtime.video.color import ColorPlan
from uprez.runtime.video.encode import SegmentEncoder, needs_even_size
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg
from uprez.runtime.video.segments import ResumePoint, WorkFolder


class SegmentSink:
    """Frames into segments of `segment_frames` frames in the work folder."""

    def __init__(self, ffmpeg: Ffmpeg, work: WorkFolder, *, settings: EncoderSettings,
                 colors: ColorPlan, fps: Fraction, sample_aspect: Fraction | None,
                 segment_frames: int, resume_from: ResumePoint | None):
        self._ffmpeg, self._work, self._settings = ffmpeg, work, settings
        self._colors, self._fps, self._sample_aspect = colors, fps, sample_aspect
        self._segment_frames = segment_frames
        self.finished: list[int] = list(resume_from.segment_frames) if resume_from else []
        self.start_frame = sum(self.finished)
        self._current: SegmentEncoder | None = None

    @property
    def kept_frames(self) -> int:
        return sum(self.finished)

    def write(self, frame: np.ndarray) -> None:
        if self._current is None:
            self._current = self._open(frame)
        self._current.write(frame)
        if self._current.frames == self._segment_frames:
            self._close_current(complete=False)

    def _open(self, frame: np.ndarray) -> SegmentEncoder:
        height, width = frame.shape[:2]
        made = self._work.output_size()
        if self.finished and made and made != [width, height]:
            raise VideoError(f"the finished segments are {made[0]}x{made[1]} but this run makes "
                             f"{width}x{height}; delete {self._work.root} or run without --resume")
        if not self.finished:
            self._work.set_output_size(width, height)
            if needs_even_size(self._settings.pix_fmt) and (width % 2 or height % 2):
                console.warn(f"{self._settings.pix_fmt} needs even sizes: the {width}x{height} "
                             f"frames are cropped to {width - width % 2}x{height - height % 2} "
                             f"(--pix-fmt yuv444p keeps every pixel)")
        return SegmentEncoder(self._ffmpeg, self._work.segment_path(len(self.finished)),
                              width=width, height=height, dtype=frame.dtype, fps=self._fps,
                              settings=self._settings, colors=self._colors,
                              sample_aspect=self._sample_aspect)

    def _close_current(self, *, complete: bool) -> None:
        segment, self._current = self._current, None
        if segment is not None:
            segment.finish()
            self.finished.append(segment.frames)
        self._work.record(self.finished, complete=complete)

    def finish(self) -> list[Path]:
        """Close the last segment; the finished segments, in order."""
        self._close_current(complete=True)
        return self._work.segments(len(self.finished))

    def kill(self) -> None:
        current = self._current
        if current is not None:
            current.kill()

    def cleanup(self, *, keep_finished: bool) -> None:
        if self._current is not None:
            self._current.discard()
            self._current = None
        if not keep_finished:
            self._work.remove()


class PngSink:
    """Frames as `frame_000001.png`, ... (1-based, as ffmpeg's image2 reader expects), from
    frame `first` on (0-based; a range of the video, ranges.py, ends before `end`)."""

    def __init__(self, folder: Path, *, resume: bool, first: int = 0, end: int | None = None):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.start_frame = self._first = first
        if resume:
            while (end is None or self.start_frame < end) and \
                    self._path(self.start_frame).is_file():
                self.start_frame += 1
        self._next = self.start_frame

    @property
    def kept_frames(self) -> int:
        return self._next

    def _path(self, index: int) -> Path:
        return self.folder / f"frame_{index + 1:06d}.png"

    def write(self, frame: np.ndarray) -> None:
        final = self._path(self._next)
        # encoded in memory, so a full disk is an OSError with its reason (cv2.imwrite would
        # only say False, and libpng would print to the terminal)
        ok, encoded = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise VideoError(f"cannot encode frame {self._next + 1} as PNG")
        try:
            atomic.write_bytes(final, encoded.tobytes())
        except OSError as exc:
            raise VideoError(f"cannot write {final}: {exc.strerror or exc}") from None
        self._next += 1

    def finish(self) -> list[Path]:
        return [self._path(i) for i in range(self._next)]

    def kill(self) -> None:
        pass

    def cleanup(self, *, keep_finished: bool) -> None:
        for tmp in self.folder.glob(".frame_*"):
            if atomic.is_temp_file(tmp):  # left by a kill mid-write
                tmp.unlink(missing_ok=True)
        if not keep_finished:  # as a video's segments go: a failed run leaves no output
            for index in range(self._first, self._next):
                self._path(index).unlink(missing_ok=True)
