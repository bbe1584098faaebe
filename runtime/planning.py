"""sr-run, first half: what will be done, decided before any model is loaded or file written.

`plan_run` turns the inputs and options into a `RunPlan`: the image, animation and video jobs
(each with its target), how to load the model, and the settings, all checked (usage errors exit
2).
The plan is plain data; `running.run_plan` carries it out on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from uprez.runtime.animation_jobs import AnimationOptions
from uprez.runtime.base import console
from uprez.runtime.base.imageio import format_of
from uprez.runtime.base.report import UsageProblem
from uprez.runtime.discover import (
    ANIMATION,
    IMAGE,
    MEDIA_SUFFIXES,
    Job,
    PlanError,
    find_inputs,
    is_video,
    plan_jobs,
)
from uprez.runtime.pipeline import RunOptions
from uprez.runtime.video_jobs import VideoOptions


@dataclass(frozen=True)
class ModelSettings:
    """How to load the model, as given: the arguments of `open_upscaler` (each worker loads its
    own)."""

    path: Path | None = None  # a file or a shipped model's name; None: the default for `scale`
    scale: int | None = None
    device: str = "auto"
    precision: str = "auto"
    tile: int | str = "auto"  # as given: "auto" is resolved from the free memory at load time
    tile_pad: int | None = None
    batch: int | str = "auto"

    def load(self):
        """An Upscaler, or for the shipped auto default an AutoUpscaler (runtime/auto.py)."""
        from uprez.runtime.auto import open_upscaler

        return open_upscaler(self.path, scale=self.scale, device=self.device,
                             precision=self.precision, tile=self.tile, tile_pad=self.tile_pad,
                             batch=self.batch)


@dataclass(frozen=True)
class RunPlan:
    images: list[Job]
    animations: list[Job]  # animated GIF, APNG and WebP
    videos: list[Job]  # video files, and folders of PNG frames (kind FRAMES)
    model: ModelSettings
    image_options: RunOptions = field(default_factory=RunOptions)
    animation_options: AnimationOptions = field(default_factory=AnimationOptions)
    video_options: VideoOptions = field(default_factory=VideoOptions)


def plan_run(specs: list[str], *, output: Path, recursive: bool = False, fmt: str = "auto",
             suffix: str = "", frames_dir: Path | None = None, model: ModelSettings,
             image_options: RunOptions, animation_options: AnimationOptions,
             video_options: VideoOptions) -> RunPlan:
    """The jobs for `specs` (files, folders, globs), checked; UsageProblem says what is wrong."""
    if not specs:
        raise UsageProblem("no input given: name image or video files, folders or globs "
                           "(see sr-run -h)")
    single = Path(specs[0]) if len(specs) == 1 and Path(specs[0]).is_file() else None
    names_a_file = not output.is_dir() and output.suffix.lower() in MEDIA_SUFFIXES
    output_is_file = (single is not None and names_a_file
                      and not (frames_dir is not None and is_video(single)))
    if names_a_file and single is None:
        given = "several inputs" if len(specs) > 1 else (
            "a folder" if Path(specs[0]).is_dir() else "a glob")
        raise UsageProblem(f"--output {output} is a file name, but the input is {given}: give "
                           "an output folder (a file name takes one input file)")
    if (output_is_file and not is_video(output) and fmt != "auto"
            and format_of(output) != fmt):
        raise UsageProblem(f"--format {fmt} does not match the output file name {output}")
    exclude = tuple(p for p in (None if output_is_file else output, frames_dir) if p is not None)
    try:
        found = find_inputs(specs, recursive=recursive, suffixes=MEDIA_SUFFIXES, exclude=exclude)
        if not found:
            raise PlanError(_nothing_found(specs, recursive))
        jobs = plan_jobs(found, output, fmt=fmt, suffix=suffix, output_is_file=output_is_file,
                         frames_dir=frames_dir)
    except PlanError as exc:
        raise UsageProblem(str(exc)) from None
    animations = [job for job in jobs if job.kind == ANIMATION]
    if animations and fmt in ("jpg", "tiff"):
        console.info(f"{fmt} holds no animation here: animated GIF, APNG and WebP inputs keep "
                     "their format (--format png or webp converts them)")
    videos = [job for job in jobs if job.kind not in (IMAGE, ANIMATION)]
    _check_video_options(videos, video_options, frames_dir)
    return RunPlan(images=[job for job in jobs if job.kind == IMAGE], animations=animations,
                   videos=videos, model=model, image_options=image_options,
                   animation_options=animation_options,
                   video_options=video_options)


def _nothing_found(specs: list[str], recursive: bool) -> str:
    """Why the inputs gave no file, with the hint that fits what they are."""
    import glob

    hints = []
    if not recursive and any(Path(spec).is_dir() for spec in specs):
        hints.append("--recursive also takes subfolders")
    globs = [spec for spec in specs if not Path(spec).exists() and glob.has_magic(spec)]
    if globs:
        hints.append(f"{', '.join(repr(g) for g in globs)} matched no image or video file; "
                     "a pattern is matched within one folder"
                     + (" (** with --recursive for subfolders)" if not recursive else ""))
    return (f"no image or video files found in: {', '.join(specs)}"
            + (f" ({'; '.join(hints)})" if hints else ""))


def _check_video_options(videos: list[Job], options: VideoOptions,
                         frames_dir: Path | None) -> None:
    """The encoder choices against ffmpeg and the output containers, before any work."""
    from uprez.runtime.video.errors import VideoError
    from uprez.runtime.video_jobs import check_encoder_choices

    given = options.encoding.given()
    if frames_dir is not None and videos and given:
        console.warn(f"{', '.join(given)} only shape video files; --frames-dir writes PNG frames")
    try:
        check_encoder_choices(videos, options)
    except VideoError as exc:
        raise UsageProblem(str(exc)) from None
