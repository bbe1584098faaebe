"""sr-run, second half: carry out a `RunPlan` here. Load the model, upscale the images, then the
animations and the videos one by one, and report: one summary line, each failure named, the exit
code."""

from __future__ import annotations

from uprez.runtime.backends import DeviceError, ModelError
from uprez.runtime.base import console, interrupts
from uprez.runtime.base.report import EXIT_INTERRUPTED, BatchReport, UsageProblem
from uprez.runtime.pipeline import run_jobs
from uprez.runtime.planning import RunPlan


def run_plan(plan: RunPlan) -> int:
    """Do everything the plan says; the exit code (0, 1 some failed, 130 interrupted).
    A model that cannot be loaded, or a device or precision that cannot run it, is a
    UsageProblem (exit 2)."""
    upscaler = _load_upscaler(plan)
    _remove_stale_temp_files(plan)
    report = BatchReport()
    stats = animation_stats = video_stats = None
    try:
        with interrupts.recorded():
            if plan.images:
                stats = run_jobs(plan.images, upscaler, plan.image_options, report)
            if plan.animations:
                from uprez.runtime.animation_jobs import run_animation_jobs

                animation_stats = run_animation_jobs(plan.animations, upscaler,
                                                     plan.animation_options, report)
            if plan.videos:
                video_stats = _run_videos(plan, upscaler, report)
            interrupts.check()
    except KeyboardInterrupt:
        again = ""
        if plan.videos:
            again = " with --resume" if plan.video_options.resume else \
                " (add --resume to keep a video's finished parts)"
        console.error(f"interrupted: {report.summary()}; run the same command again{again} to "
                      "go on (finished files are skipped)")
        return EXIT_INTERRUPTED
    parts = []
    if stats is not None and stats.images:
        parts.append(stats.summary(upscaler.label()))
    if animation_stats is not None and animation_stats.animations:
        parts.append(animation_stats.summary() + ("" if parts else f" on {upscaler.label()}"))
    if parts and hasattr(upscaler, "usage"):  # the default model picked per image/animation
        parts.append(upscaler.usage())
    if video_stats is not None and video_stats.videos:
        parts.append(video_stats.summary() + ("" if parts else f" on {upscaler.label()}"))
    console.result("; ".join(parts or ["nothing upscaled"]) + f"; {report.summary()}")
    for path, reason in report.failed:
        console.error(f"failed: {path}: {reason}")
    return report.exit_code


def _remove_stale_temp_files(plan: RunPlan) -> None:
    """What killed runs left in the output folders (half-written images and frames); a live
    run's temp files carry its pid and stay."""
    from uprez.runtime.base.atomic import remove_stale_temp_files
    from uprez.runtime.discover import FRAMES

    folders = {job.target if job.kind == FRAMES else job.target.parent
               for job in (*plan.images, *plan.animations, *plan.videos)}
    removed = [path for folder in sorted(folders) for path in remove_stale_temp_files(folder)]
    if removed:
        console.info(f"removed {len(removed)} temp file{'s' if len(removed) != 1 else ''} "
                     f"left by an interrupted run (e.g. {removed[0]})")


def _load_upscaler(plan: RunPlan):
    try:
        upscaler = plan.model.load()
    except (ModelError, DeviceError) as exc:
        raise UsageProblem(str(exc)) from None
    if upscaler.notice:
        console.warn(upscaler.notice)
    console.info(f"{count_line(plan)} with {upscaler.describe()}")
    return upscaler


def count_line(plan: RunPlan) -> str:
    """What the plan upscales, e.g. '3 images and 1 video'."""
    counts = [c for c in (_count(len(plan.images), "image"),
                          _count(len(plan.animations), "animation"),
                          _count(len(plan.videos), "video")) if c]
    return ", ".join(counts[:-1]) + " and " + counts[-1] if len(counts) > 1 else counts[0]


def _run_videos(plan: RunPlan, upscaler, report: BatchReport):
    from uprez.runtime.video_jobs import run_video_jobs

    return run_video_jobs(plan.videos, upscaler, plan.video_options, report,
                          tile=plan.model.tile)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}" if number else ""
