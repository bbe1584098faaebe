"""A video's frames in ranges that can be upscaled apart (on other machines) and joined exactly.

Range `i` holds frames `i * segment_frames` up to the next range, so it is exactly segment `i`
of a one-machine run (`segments.WorkFolder`): the join, the resume keys and the work folder stay
those of `pipeline.run_video`, and only who makes each segment changes. The last range reads to
the end of the video, so a frame count that was an estimate (variable-rate sources) loses no
frame. A `RangeTask` is plain data: a worker that sees the same files runs it with
`run_range` and its own frame function.

Each range decodes from the start of the video and drops the frames before its own
(`FrameDecoder(start=...)`, as `--resume` does), so its frames are exactly those of a whole run,
deinterlacing and variable-rate reading included; the price is decoding the earlier frames again.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from uprez.runtime.base import console
from uprez.runtime.video.codecs import EncoderSettings
from uprez.runtime.video.color import ColorPlan
from uprez.runtime.video.decode import FrameDecoder
from uprez.runtime.video.encode import SegmentEncoder
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg, find_ffmpeg
from uprez.runtime.video.job import VideoJob
from uprez.runtime.video.overlap import run_overlapped
from uprez.runtime.video.probe import VideoInfo
from uprez.runtime.video.repeats import reuse_repeats
from uprez.runtime.video.segments import WorkFolder
from uprez.runtime.video.sinks import PngSink

FrameFn = Callable[[list[np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class FrameRange:
    index: int  # the segment it becomes
    start: int  # first frame (0-based)
    count: int | None  # frames in it; None: to the end of the video


def split(frame_count: int, segment_frames: int) -> list[FrameRange]:
    """The ranges of a video of about `frame_count` frames, the last one open-ended."""
    ranges = max(1, -(-frame_count // segment_frames))
    return [FrameRange(i, i * segment_frames, segment_frames if i < ranges - 1 else None)
            for i in range(ranges)]


@dataclass(frozen=True)
class RangeTask:
    """One range of one video, and where its frames go: a segment file (`settings` given) or
    the PNG files of a frames folder (`settings` None)."""

    source: Path
    info: VideoInfo  # as the run reads the source (field order cleared without deinterlacing)
    colors: ColorPlan
    frames: FrameRange
    output: Path  # the segment file, or the frames folder
    settings: EncoderSettings | None = None
    keep_written: bool = False  # PNGs: frames already there are kept (--resume)

    @property
    def name(self) -> str:
        end = "end" if self.frames.count is None else self.frames.start + self.frames.count
        return f"{self.source.name} frames {self.frames.start}..{end}"


# Runs the tasks (anywhere), calling `done(task, (frames, upscaled))` on this thread as each
# one finishes (the result of `run_range`); raises the first VideoError, or KeyboardInterrupt,
# once no task of the list runs any more.
RangeDone = Callable[[RangeTask, tuple[int, int]], None]
RangeRunner = Callable[[list[RangeTask], RangeDone], None]


def segments_in_ranges(job: VideoJob, info: VideoInfo, colors: ColorPlan,
                       settings: EncoderSettings, work: WorkFolder, runner: RangeRunner,
                       progress: bool) -> tuple[int, int, int]:
    """Make the segments of `work` that are missing, as ranges (each recorded as it finishes,
    for --resume); (frames in the video, frames upscaled now, segments in the video)."""
    ranges = split(info.frame_count, job.segment_frames)
    finished = work.finished_ranges() if job.resume else {}
    if finished:
        console.info(f"{job.source.name}: {len(finished)} of {len(ranges)} ranges were "
                     "finished before; resuming")
    # absolute: a worker elsewhere has its own working folder
    tasks = [RangeTask(job.source.absolute(), info, colors, r,
                       work.segment_path(r.index).absolute(), settings)
             for r in ranges if r.index not in finished]
    made = _run_ranges(job.source.name, tasks, runner, info.frame_count,
                       sum(finished.values()), progress,
                       lambda task, frames: work.record_range(task.frames.index, frames))
    frames = _joined(job.source.name, ranges, {**finished, **{i: n for i, (n, _) in
                                                               made.items()}})
    return sum(frames), sum(up for _, up in made.values()), len(frames)


def frames_in_ranges(job: VideoJob, info: VideoInfo, colors: ColorPlan, runner: RangeRunner,
                     progress: bool) -> tuple[int, int]:
    """The PNG frames of `job`, as ranges; (frames in the folder, frames upscaled now). A run
    that fails without --resume leaves no frame behind."""
    ranges = split(info.frame_count, job.segment_frames)
    tasks = [RangeTask(job.source.absolute(), info, colors, r, job.output.absolute(),
                       keep_written=job.resume) for r in ranges]
    try:
        made = _run_ranges(job.source.name, tasks, runner, info.frame_count, 0, progress)
        frames = _joined(job.source.name, ranges, {i: n for i, (n, _) in made.items()})
    except BaseException:
        if not job.resume:
            for path in job.output.glob("*frame_[0-9]*.png*"):
                path.unlink(missing_ok=True)
        raise
    return sum(frames), sum(up for _, up in made.values())


def _run_ranges(name: str, tasks: list[RangeTask], runner: RangeRunner, total: int,
                already: int, progress: bool,
                record: Callable[[RangeTask, int], None] | None = None
                ) -> dict[int, tuple[int, int]]:
    """Run the tasks with one progress bar counting frames; their results by range index."""
    bar = console.progress(total=max(total, already), desc=name, unit="frame") \
        if progress else None
    if bar is not None and already:
        bar.update(already)
    results: dict[int, tuple[int, int]] = {}

    def done(task: RangeTask, result: tuple[int, int]) -> None:
        results[task.frames.index] = result
        if record is not None:
            record(task, result[0])
        if bar is not None:
            bar.update(result[0])

    try:
        runner(tasks, done)
    finally:
        if bar is not None:
            bar.close()
    return results


def _joined(name: str, ranges: list[FrameRange], frames: dict[int, int]) -> list[int]:
    """The frames of each range that has any, in order, checked to follow on one another: full
    ranges, then possibly a short one where the video ended, then only empty ones."""
    counts = [frames.get(r.index, 0) for r in ranges]
    ended = False
    for r, count in zip(ranges, counts, strict=True):
        if ended and count:
            raise VideoError(f"{name}: frames {r.start}.. were read after the video had ended "
                             "in an earlier range; the source changed during the run?")
        ended = r.count is not None and count < r.count
    made = [count for count in counts if count]
    if not made:
        raise VideoError(f"{name}: no frame could be read")
    return made


def run_range(task: RangeTask, frame_fn: FrameFn, *, batch: int) -> tuple[int, int]:
    """Upscale one range with `frame_fn`; (frames it holds, frames upscaled now). Nothing
    partial is left on failure: a segment appears whole under its name, each PNG is written
    atomically."""
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        raise VideoError("no ffmpeg on this machine (video ranges need it)")
    if task.info.variable_rate:
        frame_fn = reuse_repeats(frame_fn)
    first, count = task.frames.start, task.frames.count
    if task.settings is None:
        sink = PngSink(task.output, resume=task.keep_written, first=first,
                       end=None if count is None else first + count)
    else:
        sink = _SegmentFile(task, ffmpeg)
    kept = sink.start_frame - first  # PNGs of an earlier run (--resume)
    wanted = None if count is None else count - kept
    decoder = FrameDecoder(ffmpeg, task.source, task.info, task.colors, start=sink.start_frame)
    frames = decoder.frames() if wanted is None else islice(decoder.frames(), wanted)

    def finish_source() -> None:
        if wanted is not None and decoder.frames_read == wanted:
            decoder.kill()  # the rest of the video belongs to other ranges
        else:
            decoder.check()  # the end of the video: was it read whole?

    if wanted == 0:
        decoder.kill()
        return kept, 0
    upscaled = run_overlapped(
        name=task.name, frames=frames, check_source=finish_source, stop_source=decoder.kill,
        sink=sink, frame_fn=frame_fn, batch=batch, total=0, start=sink.start_frame,
        progress=False, keep_finished=task.keep_written)
    return kept + upscaled, upscaled


class _SegmentFile:
    """A range's frames into its one segment: encoded under a name of this attempt's own, then
    renamed into place, so an attempt on a machine that died can never mix into a retry."""

    def __init__(self, task: RangeTask, ffmpeg: Ffmpeg):
        self.task, self.start_frame, self._ffmpeg = task, task.frames.start, ffmpeg
        path = task.output
        self._attempt = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")
        self._encoder: SegmentEncoder | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._encoder is None:
            task, height, width = self.task, *frame.shape[:2]
            self._encoder = SegmentEncoder(
                self._ffmpeg, self._attempt, width=width, height=height, dtype=frame.dtype,
                fps=task.info.fps, settings=task.settings, colors=task.colors,
                sample_aspect=task.info.sample_aspect)
        self._encoder.write(frame)

    def finish(self) -> None:
        if self._encoder is not None:
            os.replace(self._encoder.finish(), self.task.output)

    def kill(self) -> None:
        if self._encoder is not None:
            self._encoder.kill()

    def cleanup(self, *, keep_finished: bool) -> None:
        if self._encoder is not None:
            self._encoder.discard()
            self._attempt.unlink(missing_ok=True)

