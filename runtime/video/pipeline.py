"""One video file in, an upscaled video (or a folder of PNG frames) out: `run_video(job, ...)`.

`upscale_video` is the same for callers that have paths and options rather than a VideoJob.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from uprez.runtime.base import console
from uprez.runtime.video.codecs import EncoderSettings
from uprez.runtime.video.color import ColorPlan, plan_colors
from uprez.runtime.video.decode import FrameDecoder
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg, find_ffmpeg
from uprez.runtime.video.job import DEFAULT_SEGMENT_FRAMES, Encoding, VideoJob
from uprez.runtime.video.mux import mux, plan_streams, preflight
from uprez.runtime.video.overlap import Sink, run_overlapped
from uprez.runtime.video.probe import VideoInfo, probe
from uprez.runtime.video.ranges import RangeRunner, frames_in_ranges, segments_in_ranges
from uprez.runtime.video.repeats import reuse_repeats
from uprez.runtime.video.result import VideoResult
from uprez.runtime.video.segments import ResumePoint, WorkFolder
from uprez.runtime.video.sinks import PngSink, SegmentSink

FrameFn = Callable[[list[np.ndarray]], list[np.ndarray]]


def upscale_video(src: str | Path, dst: str | Path | None, frame_fn: FrameFn, *, batch: int = 1,
                  codec: str | None = None, crf: int | None = None, preset: str | None = None,
                  pix_fmt: str | None = None, frames_dir: str | Path | None = None,
                  resume: bool = False, progress: bool = True,
                  segment_frames: int = DEFAULT_SEGMENT_FRAMES,
                  fingerprint: str = "", deinterlace: bool = True) -> VideoResult:
    """Upscale every frame of `src` with `frame_fn` and write `dst` (or PNGs into `frames_dir`).

    `frame_fn` takes a list of same-size HxWx3 BGR frames (uint8, or uint16 for >8-bit video)
    and returns the upscaled frames. `fingerprint` names what shapes the frames (model, tiling)
    so `resume` never joins segments made differently. An interlaced source is deinterlaced
    before `frame_fn` unless `deinterlace` is False. Raises VideoError with a readable reason.
    """
    if frames_dir is None and dst is None:
        raise VideoError("upscale_video needs dst, or frames_dir for PNG frames")
    job = VideoJob(source=Path(src), output=Path(dst if frames_dir is None else frames_dir),
                   to_frames=frames_dir is not None,
                   encoding=Encoding(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt),
                   frames_from=fingerprint, resume=resume, deinterlace=deinterlace,
                   segment_frames=segment_frames)
    return run_video(job, frame_fn, batch=batch, progress=progress)


def run_video(job: VideoJob, frame_fn: FrameFn | None, *, batch: int = 1,
              progress: bool = True, ranges: RangeRunner | None = None) -> VideoResult:
    """Upscale every frame of `job.source` with `frame_fn` (`batch` frames per call) into
    `job.output`; see `upscale_video`. Raises VideoError with a readable reason.

    With `ranges`, the frames are upscaled in ranges that it runs (elsewhere: sr-run --cluster,
    ranges.py) instead of by `frame_fn`; probing, resuming, joining and cleaning up are the
    same."""
    src = job.source
    if batch < 1 or job.segment_frames < 1:
        raise VideoError("batch and segment_frames must be at least 1")
    if not job.to_frames and job.output.resolve() == src.resolve():
        raise VideoError(f"{src}: the output would overwrite the input")
    ffmpeg = find_ffmpeg()
    if ffmpeg is None and ranges is not None:
        raise VideoError("splitting a video into ranges needs ffmpeg, and there is none here")
    if ffmpeg is None:
        from uprez.runtime.video.opencv_fallback import upscale_with_opencv

        return upscale_with_opencv(job, frame_fn, batch=batch, progress=progress)
    info = probe(ffmpeg, src)
    if info.variable_rate:
        console.info(f"{src.name}: variable frame rate ({float(info.average_fps):.4g} fps on "
                     f"average); written at a constant {float(info.fps):.4g} fps so the sound "
                     "stays in sync (frames are repeated or dropped to fit)")
        frame_fn = reuse_repeats(frame_fn) if frame_fn is not None else None
    if info.field_order and job.deinterlace:
        field = "top" if info.field_order == "tff" else "bottom"
        console.info(f"{src.name}: interlaced ({field} field first); deinterlaced (bwdif) before "
                     "upscaling, since enlarged fields would comb")
    elif not job.deinterlace:
        info = replace(info, field_order=None)  # so the frames are read as they are
    colors = plan_colors(info)
    started = time.perf_counter()
    if job.to_frames:
        if info.audio or info.subtitles:
            console.info(f"{src.name}: PNG frames hold no audio or subtitles; to rebuild the "
                         f"video use -framerate {info.fps.numerator}/{info.fps.denominator}")
        if ranges is not None:
            frames = _Counts(*frames_in_ranges(job, info, colors, ranges, progress))
        else:
            sink = PngSink(job.output, resume=job.resume)
            frames = _run(ffmpeg, job, info, colors, sink, frame_fn, batch, progress)
    else:
        produce = (_segments_here(ffmpeg, job, info, colors, frame_fn, batch, progress)
                   if ranges is None else _segments_in_ranges(job, info, colors, ranges, progress))
        frames = _encode_video(ffmpeg, job, info, colors, produce)
    return VideoResult(job.output, frames.total, frames.upscaled, time.perf_counter() - started,
                       f"ffmpeg ({ffmpeg.origin})")


@dataclass(frozen=True)
class _Counts:
    total: int
    upscaled: int


# makes the missing segments in the work folder: (frames counted, segments in the video)
SegmentMaker = Callable[[WorkFolder, EncoderSettings, ResumePoint | None], tuple[_Counts, int]]


def _segments_here(ffmpeg: Ffmpeg, job: VideoJob, info: VideoInfo, colors: ColorPlan,
                   frame_fn: FrameFn, batch: int, progress: bool) -> SegmentMaker:
    """The segments one after the other, upscaled by `frame_fn` in this process."""
    def make(work: WorkFolder, settings: EncoderSettings, resume_from: ResumePoint | None):
        sink = SegmentSink(ffmpeg, work, settings=settings, colors=colors, fps=info.fps,
                           sample_aspect=info.sample_aspect, segment_frames=job.segment_frames,
                           resume_from=resume_from)
        return _run(ffmpeg, job, info, colors, sink, frame_fn, batch, progress), \
            len(sink.finished)

    return make


def _segments_in_ranges(job: VideoJob, info: VideoInfo, colors: ColorPlan, ranges: RangeRunner,
                        progress: bool) -> SegmentMaker:
    """The segments as ranges, made by `ranges` in any order."""
    def make(work: WorkFolder, settings: EncoderSettings, resume_from: ResumePoint | None):
        total, upscaled, count = segments_in_ranges(job, info, colors, settings, work, ranges,
                                                    progress)
        return _Counts(total, upscaled), count

    return make


def _encode_video(ffmpeg: Ffmpeg, job: VideoJob, info: VideoInfo, colors: ColorPlan,
                  make_segments: SegmentMaker) -> _Counts:
    src, dst, container = job.source, job.output, job.container
    settings = job.encoding.resolve(ffmpeg, container, high_bit_depth=info.bit_depth > 8)
    if info.bit_depth > 8 and not settings.high_bit_depth:
        console.warn(f"{src.name} is {info.bit_depth}-bit but is written as {settings.pix_fmt}")
    work = WorkFolder(dst)
    key = job.segments_key(info, settings)
    resume_from = work.resume_point(key) if job.resume else None
    if job.resume and resume_from is None and work.root.exists():
        console.info(f"{src.name}: the unfinished work in {work.root} was made with other "
                     f"settings or another source; starting over")
    elif not job.resume and work.root.exists():
        console.info(f"{src.name}: starting over (--resume would continue the unfinished "
                     f"work in {work.root})")
    work.start(key, resume_from)
    streams = plan_streams(info, container)
    try:
        streams = preflight(ffmpeg, src, info, streams, settings, container,
                            work.output_tmp_path(dst.suffix))
        if resume_from is not None and resume_from.complete:
            console.info(f"{src.name}: all frames were already encoded; joining them")
            segments = work.segments(len(resume_from.segment_frames))
            counts = _Counts(resume_from.next_frame, 0)
        else:
            counts, made = make_segments(work, settings, resume_from)
            segments = work.segments(made)
        tmp = work.output_tmp_path(dst.suffix)
        mux(ffmpeg, segments, src, streams, settings, container, tmp, fps=info.fps,
            video_delay=info.video_delay)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dst)
    except BaseException:
        work.output_tmp_path(dst.suffix).unlink(missing_ok=True)
        if not job.resume:
            work.remove()
        raise
    work.remove()
    return counts


def _run(ffmpeg: Ffmpeg, job: VideoJob, info: VideoInfo, colors: ColorPlan, sink: Sink,
         frame_fn: FrameFn, batch: int, progress: bool) -> _Counts:
    src = job.source
    start = sink.start_frame
    if start:
        console.info(f"{src.name}: resuming at frame {start}")
    decoder = FrameDecoder(ffmpeg, src, info, colors, start=start)
    upscaled = run_overlapped(
        name=src.name, frames=decoder.frames(), check_source=decoder.check,
        stop_source=decoder.kill, sink=sink, frame_fn=frame_fn, batch=batch,
        total=max(info.frame_count, start), start=start, progress=progress,
        keep_finished=job.resume)
    if decoder.messages():
        console.warn(f"{src.name}: ffmpeg reported problems but every frame was read: "
                     f"{decoder.messages()[0]}")
    return _Counts(start + upscaled, upscaled)
