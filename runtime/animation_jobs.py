"""The animations of an `sr-run` batch: each read whole, its frames upscaled `--batch` at a time
through the same tiled runtime as photos and video frames, and written back atomically.

Failures are reported like photos' (the file, the reason; the batch goes on), finished outputs
are skipped, and Ctrl-C leaves nothing behind: the output is written only once it is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from uprez.runtime.animation.encode import encode_animation
from uprez.runtime.animation.frames import SUFFIX_FORMATS, AnimationError, AnimationFile
from uprez.runtime.base import atomic, console, image_metadata, interrupts
from uprez.runtime.base.imageio import DEFAULT_QUALITY, ImageWriteError, write_bytes_atomic
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import Job
from uprez.runtime.memory import free_ram
from uprez.runtime.upscaler import OutputTooLarge

MEMORY_SHARE = 0.8  # of the free RAM that an animation's frames may take


@dataclass(frozen=True)
class AnimationOptions:
    outscale: float | None = None
    alpha: str = "model"
    quality: int | None = None
    overwrite: bool = False
    keep_metadata: bool = True


@dataclass
class AnimationStats:
    animations: int = 0
    frames: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.animations} animation{'s' if self.animations != 1 else ''}: "
                f"{self.frames} frames upscaled in {self.seconds:.1f} s ({rate:.2f} frames/s)")


def run_animation_jobs(jobs: list[Job], upscaler, options: AnimationOptions,
                       report: BatchReport) -> AnimationStats:
    """Upscale the animations one after the other; KeyboardInterrupt goes on up."""
    stats, warned = AnimationStats(), set()
    bar = console.progress(total=len(jobs), desc="animations", unit="anim")
    try:
        for job in jobs:
            if not options.overwrite and atomic.is_complete(job.target):
                report.add_skipped(str(job.source))
                bar.update(1)
                continue
            started = time.perf_counter()
            try:
                frames = upscale_animation(job, upscaler, options, warned)
            except AnimationError as exc:
                _fail(report, job, exc.reason)
            except ImageWriteError as exc:
                _fail(report, job, f"cannot write {exc.path}: {exc.reason}")
            except MemoryError as exc:
                _fail(report, job, str(exc) if isinstance(exc, OutputTooLarge)
                      else "out of memory; try a smaller --tile or --outscale")
            except Exception as exc:  # one animation's failure must not end the batch
                _fail(report, job, f"upscaling failed: {console.first_line(exc)}")
            else:
                report.add_done(str(job.source))
                stats.animations += 1
                stats.frames += frames
                stats.seconds += time.perf_counter() - started
            bar.update(1)
    finally:
        bar.close()
    return stats


def upscale_animation(job: Job, upscaler, options: AnimationOptions, warned: set[str]) -> int:
    """Read, upscale and write one animation; the number of frames."""
    with AnimationFile(job.source, keep_metadata=options.keep_metadata) as source:
        _check_memory(source, upscaler, options.outscale)
        animation = source.read()
    fmt = SUFFIX_FORMATS[job.target.suffix.lower()]
    _warn_on_loss(animation, fmt, warned)
    pick = getattr(upscaler, "pick_for_frames", None)  # the auto default: one model throughout
    if pick is not None:
        upscaler = pick(animation.frames)
    count, upscaled = len(animation.frames), []
    frame_bar = console.progress(total=count, desc=job.source.name, unit="frame", leave=False,
                                 position=1)
    try:
        while animation.frames:
            interrupts.check()
            batch = animation.frames[:upscaler.batch]
            del animation.frames[:upscaler.batch]  # the source frames go as they are done
            upscaled += upscaler.upscale_images(batch, outscale=options.outscale,
                                                alpha=options.alpha)
            frame_bar.update(len(batch))
    finally:
        frame_bar.close()
    animation.frames = upscaled
    interrupts.check()
    data = encode_animation(animation, fmt, options.quality or DEFAULT_QUALITY)
    write_bytes_atomic(job.target, data)
    return count


def _check_memory(source: AnimationFile, upscaler, outscale: float | None) -> None:
    """Fail before any work when the frames could not all be held: the source frames, the
    upscaled ones, and the writer's copy of them."""
    width, height = source.size
    factor = outscale if outscale is not None else upscaler.scale
    out_pixels = round(width * factor) * round(height * factor)
    need = source.frame_count * (4 * width * height + 2 * 4 * out_pixels)
    free = free_ram()
    if free is not None and need > MEMORY_SHARE * free:
        raise AnimationError(
            f"too large to upscale in memory: {source.frame_count} frames of "
            f"{round(width * factor)}x{round(height * factor)} need about {need / 2**30:.1f} GiB, "
            f"{free / 2**30:.1f} GiB is free (a smaller --outscale needs less)")


def _warn_on_loss(animation, fmt: str, warned: set[str]) -> None:
    format_name = {"GIF": "gif", "PNG": "apng", "WebP": "webp"}[fmt]
    for message in image_metadata.losses(animation.metadata, format_name, animation.frames[0]):
        if message not in warned:
            warned.add(message)
            console.warn(message)


def _fail(report: BatchReport, job: Job, reason: str) -> None:
    report.add_failed(str(job.source), reason)
    console.error(f"{job.source}: {reason}")
