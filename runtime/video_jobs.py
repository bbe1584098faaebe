"""The videos of an `sr-run` batch: each one a VideoJob through `run_video` with the Upscaler's
frames.

A failing video goes into the batch report with its reason and the next one starts. Finished
outputs are skipped like images: a video file exists only once it is complete (it is renamed into
place), and a folder of PNG frames is marked complete when its last frame is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from uprez.runtime.base import console
from uprez.runtime.base.locks import OutputBusy, output_lock
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import FRAMES, READ_ONLY_VIDEO_SUFFIXES, VIDEO, Job
from uprez.runtime.metadata import file_sha256
from uprez.runtime.resize import resize_to_outscale
from uprez.runtime.upscaler import OutputTooLarge
from uprez.runtime.video.decode import FRAME_READING
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.job import DEFAULT_SEGMENT_FRAMES, Encoding, VideoJob
from uprez.runtime.video.pipeline import FrameFn, run_video
from uprez.runtime.video.probe import video_codec
from uprez.runtime.video.ranges import RangeRunner


@dataclass(frozen=True)
class VideoOptions:
    """The video settings of a run, as given."""

    encoding: Encoding = field(default_factory=Encoding)
    resume: bool = False
    overwrite: bool = False
    outscale: float | None = None
    deinterlace: bool = True
    # frames per encoded segment, and per range of a video spread over a cluster
    segment_frames: int = DEFAULT_SEGMENT_FRAMES

    def job(self, planned: Job, frames_from: str) -> VideoJob:
        """The VideoJob of a planned video (a file, or with kind FRAMES a PNG folder)."""
        return VideoJob(source=planned.source, output=planned.target,
                        to_frames=planned.kind == FRAMES, encoding=self.encoding,
                        frames_from=frames_from, resume=self.resume,
                        deinterlace=self.deinterlace, segment_frames=self.segment_frames)


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
            f"deinterlace {deinterlace}; precision {upscaler.precision}")


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
            options.encoding.resolve(ffmpeg, container, high_bit_depth=False)
        except VideoError as exc:
            problems[container] = str(exc)
    if problems and len(problems) == len(containers):
        raise VideoError(next(iter(problems.values())))
    for container, problem in problems.items():
        console.warn(f"the {container} videos will fail: {problem}")


def run_video_jobs(jobs: list[Job], upscaler, options: VideoOptions, report: BatchReport, *,
                   tile: int | str, ranges_for: Callable[[object], RangeRunner] | None = None
                   ) -> VideoStats:
    """Upscale the videos one after the other (`tile` as given, for their frames_fingerprint).
    The default model picks its model per video, by codec (runtime/auto.py).
    KeyboardInterrupt goes on after the video layer has removed its unfinished output.

    With `ranges_for`, each video's frames are upscaled in ranges by the runner it gives for
    the chosen model (sr-run --cluster), and `upscaler` only needs to describe the model."""
    stats = VideoStats()
    for number, planned in enumerate(jobs, 1):
        chosen = _model_for(upscaler, planned.source)
        frames_from = frames_fingerprint(chosen, tile=tile, outscale=options.outscale,
                                         deinterlace=options.deinterlace)
        job = options.job(planned, frames_from)
        try:
            with output_lock(job.output):
                result = _run_one(job, chosen, options, report, number, len(jobs),
                                  ranges_for)
        except OutputBusy as exc:
            _fail(report, job, str(exc))
            continue
        except OSError as exc:  # the lock file cannot be made: the folder is not writable
            _fail(report, job, f"cannot write beside {job.output}: {exc.strerror or exc}")
            continue
        if result is None:
            continue
        report.add_done(str(job.source))
        stats.videos += 1
        stats.frames += result.upscaled
        stats.seconds += result.seconds
    return stats


def _run_one(job: VideoJob, chosen, options: VideoOptions, report: BatchReport, number: int,
             count: int, ranges_for: Callable[[object], RangeRunner] | None = None):
    """One video, while this run holds its output: its VideoResult, or None when it was
    skipped or failed (the report says which)."""
    if not options.overwrite and job.is_complete():  # perhaps just finished by another run
        report.add_skipped(str(job.source))
        return None
    if count > 1:
        console.info(f"video {number}/{count}: {job.source}")
    if not job.to_frames and job.source.suffix.lower() in READ_ONLY_VIDEO_SUFFIXES:
        console.info(f"{job.source.name}: written as {job.output.name} (sr-run reads "
                     f"{job.source.suffix} files but does not write them)")
    try:
        if job.to_frames:
            # frames of other settings go now, so --resume can only take up matching ones
            job.start_frames()
        else:
            job.output.parent.mkdir(parents=True, exist_ok=True)
        if ranges_for is not None:
            result = run_video(job, None, batch=chosen.batch, ranges=ranges_for(chosen))
        else:
            result = run_video(job, frame_function(chosen, options.outscale),
                               batch=chosen.batch)
        if job.to_frames:
            job.finish_frames(result.frames)
    except VideoError as exc:
        _fail(report, job, _without_path(str(exc), job.source))
        return None
    except MemoryError as exc:
        _fail(report, job, str(exc) if isinstance(exc, OutputTooLarge)
              else "out of memory; try a smaller --tile")
        return None
    except Exception as exc:  # one video's failure must not end the batch
        _fail(report, job, f"upscaling failed: {console.first_line(exc)}")
        return None
    return result


def _model_for(upscaler, source: Path):
    """The upscaler itself, or for the auto default the pick for this video's codec (a
    container ffmpeg cannot read gets the real-input model; its failure comes later)."""
    if not hasattr(upscaler, "pick_for_video"):
        return upscaler
    ffmpeg = find_ffmpeg()
    codec = None
    if ffmpeg is not None:
        try:
            codec = video_codec(ffmpeg, source)
        except VideoError:
            pass
    chosen = upscaler.pick_for_video(codec or "")
    console.info(f"{source.name}: {codec or 'unknown'} video, upscaled with "
                 f"{chosen.info.name or Path(chosen.model_path).stem}")
    return chosen


def _fail(report: BatchReport, job: VideoJob, reason: str) -> None:
    report.add_failed(str(job.source), reason)
    console.error(f"{job.source}: {reason}")


def _without_path(message: str, source: Path) -> str:
    """The report names the file already; the video layer's messages may start with it too."""
    prefix = f"{source}: "
    return message[len(prefix):] if message.startswith(prefix) else message
