"""Video through OpenCV's VideoCapture/VideoWriter, for machines with no ffmpeg binary at all.

OpenCV's wheels read most videos but write only what their bundled encoders allow (MPEG-4 Part 2
here, 8-bit), and they cannot copy audio or subtitles, so this path says all that out loud.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from uprez.runtime.base import console
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import ENV_VAR
from uprez.runtime.video.job import VideoJob
from uprez.runtime.video.overlap import run_overlapped
from uprez.runtime.video.result import VideoResult
from uprez.runtime.video.sinks import PngSink

# VideoWriter codes that OpenCV's bundled encoders can make, by output extension
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "mp4v",
           ".webm": "VP80"}


class _CaptureSource:
    def __init__(self, path: Path):
        self.path = path
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise VideoError(f"{path}: OpenCV cannot open it as a video")
        self.expected = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = self.capture.get(cv2.CAP_PROP_FPS) or 0.0
        if fps <= 0:
            raise VideoError(f"{path}: OpenCV reports no frame rate")
        self.fps = Fraction(fps).limit_denominator(1001)  # 29.97002997 -> 30000/1001
        self.read = 0

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self.capture.read()
            if not ok:
                return
            self.read += 1
            yield frame

    def skip(self, count: int) -> None:
        """Read past frames already done: OpenCV cannot seek to an exact frame."""
        for _ in range(count):
            if not self.capture.grab():
                return
            self.read += 1

    def check(self) -> None:
        if self.read == 0 or self.read < self.expected - 1:
            raise VideoError(f"{self.path.name} is damaged or truncated: decoding stopped after "
                             f"{self.read} of {self.expected} frames")

    def stop(self) -> None:
        self.capture.release()


class _WriterSink:
    """VideoWriter into a temporary file beside `dst`, renamed over it by `finish()`."""

    def __init__(self, dst: Path, fps: Fraction):
        self.dst, self.fps = dst, fps
        self.tmp = dst.with_name(f".{dst.stem}.uprez-tmp{dst.suffix}")
        self.writer: cv2.VideoWriter | None = None
        self.start_frame = 0
        self.kept_frames = 0  # one file, whole or nothing: no finished parts to keep

    def write(self, frame: np.ndarray) -> None:
        if frame.dtype != np.uint8:
            frame = (frame // 257).astype(np.uint8)
        if self.writer is None:
            height, width = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*_FOURCC[self.dst.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, float(self.fps), (width, height))
            if not self.writer.isOpened():
                raise VideoError(f"OpenCV cannot write {self.dst.suffix} files here")
        self.writer.write(frame)

    def finish(self) -> Path:
        if self.writer is None:
            raise VideoError("no frames to write")
        self.writer.release()
        os.replace(self.tmp, self.dst)
        return self.dst

    def kill(self) -> None:
        pass

    def cleanup(self, *, keep_finished: bool) -> None:
        if self.writer is not None:
            self.writer.release()
        self.tmp.unlink(missing_ok=True)


def upscale_with_opencv(job: VideoJob, frame_fn: Callable, *, batch: int,
                        progress: bool) -> VideoResult:
    src = job.source
    why = f"{ENV_VAR}=none" if os.environ.get(ENV_VAR, "").lower() == "none" else \
        "no ffmpeg found (neither on PATH nor from imageio-ffmpeg)"
    lost = "8-bit PNG frames" if job.to_frames else \
        "audio and subtitles are dropped, the video is MPEG-4 Part 2, 8-bit"
    console.warn(f"{why}: using OpenCV for {src.name}; {lost}")
    if job.encoding.given():
        console.warn(f"OpenCV ignores {', '.join(job.encoding.given())}")
    started = time.perf_counter()
    source = _CaptureSource(src)
    if job.to_frames:
        sink: PngSink | _WriterSink = PngSink(job.output, resume=job.resume)
        source.skip(sink.start_frame)
    else:
        if job.resume:
            console.warn("--resume needs ffmpeg; starting from the first frame")
        if job.container not in _FOURCC:
            raise VideoError(f"cannot write video files ending in {job.output.suffix!r}")
        sink = _WriterSink(job.output, source.fps)
    upscaled = run_overlapped(
        name=src.name, frames=source.frames(), check_source=source.check,
        stop_source=source.stop, sink=sink, frame_fn=frame_fn, batch=batch,
        total=source.expected, start=sink.start_frame, progress=progress,
        keep_finished=job.resume)
    source.stop()
    return VideoResult(job.output, sink.start_frame + upscaled, upscaled,
                       time.perf_counter() - started, "opencv")
