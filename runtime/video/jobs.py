"""The videos of an `sr-run` batch: each one through `upscale_video` with the Upscaler's frames.

A failing video goes into the batch report with its reason and the next one starts. Finished
outputs are skipped like images: a video file exists only once it is complete (it is renamed into
place), and a folder of PNG frames is marked complete when its last frame is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from uprez.runtime.base import console
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import FRAMES, READ_ONLY_VIDEO_SUFFIXES, VIDEO, Job
from uprez.runtime.metadata import file_sha256
from uprez.runtime.pipeline import target_is_complete
from uprez.runtime.upscaler import resize_to_outscale
from uprez.runtime.video.codecs import resolve_encoder
from uprez.runtime.video.decode import FRAME_READING
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.frames_folder import finish_frames, frames_complete, start_frames
from uprez.runtime.video.pipeline import FrameFn, upscale_video


@dataclass(frozen=True)
class VideoOptions:
    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    resume: bool = False
    overwrite: bool = False
    outscale: float | None = None
    fingerprint: str = ""  # what shapes the frames, so --resume never mixes runs
    deinterlace: bool = True


@dataclass
class VideoStats:
    videos: int = 0
    frames: int = 0  # frames upscaled by this run (a resumed video counts only the new ones)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.videos} video{'s' if self.videos != 1 else ''}: {self.frames} frames "
                f"upscaled in {self.seconds:.1f} s ({rate:.2f} frames/s)")


def frames_fingerprint(upscaler, *, tile: int | str, outscale: float | None,
                       deinterlace: bool = True) -> str:
    """The model's bytes and the settings that change its output frames.

    `tile` is the setting as given: "auto" picks a size from the free memory of the moment, and
    tiles of any size give the same frames (up to the rounding of blended overlaps), so a resumed
    run must not start over only because memory was freer."""
    name = upscaler.info.name or Path(upscaler.model_path).name
    return (f"model {name} sha256:{file_sha256(upscaler.model_path)}; tile {tile}; "
            f"tile-pad {upscaler.tile_pad}; outscale {outscale}; frame reading {FRAME_READING}; "
            f"deinterlace {deinterlace}")


def frame_function(upscaler, outscale: float | None) -> FrameFn:
    """Batches of frames through the model; with `outscale`, resized as images are."""
    if outscale is None:
        return upscaler.upscale_batch

    def upscale_and_resize(frames):
        outputs = upscaler.upscale_batch(frames)
        return [resize_to_outscale(out, frame.shape[:2], outscale)
                for out, frame in zip(outputs, frames, strict=True)]

    return upscale_and_resize


def check_encoder_choices(jobs: list[Job], options: VideoOptions) -> None:
    """Try --codec/--crf/--preset/--pix-fmt against each output container before any work.

    Raises VideoError when no video of the batch could be written with them (a usage error);
    when only some containers refuse (h264 in .webm), those videos will fail and are named now.
    """
    containers = sorted({job.target.suffix.lower() for job in jobs if job.kind == VIDEO})
    ffmpeg = find_ffmpeg() if containers else None
    if ffmpeg is None:  # nothing to encode, or OpenCV, which says itself what it ignores
        return
    problems = {}
    for container in containers:
        try:
            resolve_encoder(ffmpeg, codec=options.codec, crf=options.crf, preset=options.preset,
                            pix_fmt=options.pix_fmt, container=container, high_bit_depth=False)
        except VideoError as exc:
            problems[container] = str(exc)
    if problems and len(problems) == len(containers):
        raise VideoError(next(iter(problems.values())))
    for container, problem in problems.items():
        console.warn(f"the {container} videos will fail: {problem}")


def output_is_complete(job: Job) -> bool:
    return frames_complete(job.target) if job.kind == FRAMES else target_is_complete(job)


def run_video_jobs(jobs: list[Job], upscaler, options: VideoOptions,
                   report: BatchReport) -> VideoStats:
    """Upscale the videos one after the other; KeyboardInterrupt goes on after the video layer
    has removed its unfinished output."""
    stats = VideoStats()
    frame_fn = frame_function(upscaler, options.outscale)
    for number, job in enumerate(jobs, 1):
        if not options.overwrite and output_is_complete(job):
            report.add_skipped(str(job.source))
            continue
        if len(jobs) > 1:
            console.info(f"video {number}/{len(jobs)}: {job.source}")
        if job.kind == VIDEO and job.source.suffix.lower() in READ_ONLY_VIDEO_SUFFIXES:
            console.info(f"{job.source.name}: written as {job.target.name} (sr-run reads "
                         f"{job.source.suffix} files but does not write them)")
        try:
            if job.kind == FRAMES:
                # frames of other settings go now, so --resume can only take up matching ones
                start_frames(job.target, job.source, options.fingerprint, resume=options.resume)
            else:
                job.target.parent.mkdir(parents=True, exist_ok=True)
            result = upscale_video(
                job.source, job.target if job.kind == VIDEO else None, frame_fn,
                batch=upscaler.batch, codec=options.codec, crf=options.crf,
                preset=options.preset, pix_fmt=options.pix_fmt,
                frames_dir=job.target if job.kind == FRAMES else None, resume=options.resume,
                fingerprint=options.fingerprint, deinterlace=options.deinterlace)
            if job.kind == FRAMES:
                finish_frames(job.target, result.frames)
        except VideoError as exc:
            _fail(report, job, _without_path(str(exc), job.source))
            continue
        except MemoryError:
            _fail(report, job, "out of memory; try a smaller --tile")
            continue
        except Exception as exc:  # one video's failure must not end the batch
            _fail(report, job, f"upscaling failed: {console.first_line(exc)}")
            continue
        report.add_done(str(job.source))
        stats.videos += 1
        stats.frames += result.upscaled
        stats.seconds += result.seconds
    return stats


def _fail(report: BatchReport, job: Job, reason: str) -> None:
    report.add_failed(str(job.source), reason)
    console.error(f"{job.source}: {reason}")


def _without_path(message: str, source: Path) -> str:
    """The report names the file already; the video layer's messages may start with it too."""
    prefix = f"{source}: "
    return message[len(prefix):] if message.startswith(prefix) else message
