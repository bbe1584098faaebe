"""The Ray actor of `sr-run --cluster`: one per GPU or CPU slot, loading the model once.

It runs the runtime's own code on what the driver hands it: `pipeline.run_jobs` on a chunk of
images, `animation_jobs.run_animation_jobs` on a chunk of animations, `ranges.run_range` on one
range of a video. So reading, atomic writing, failure messages and resumable parts are those of
a one-machine run; inputs and outputs are on a filesystem every node sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from uprez.runtime.backends import DeviceError, ModelError
from uprez.runtime.base import console
from uprez.runtime.base.report import BatchReport
from uprez.runtime.cluster.model_parcel import SINGLE, ModelParcel, open_unpacked, unpack
from uprez.runtime.discover import Job
from uprez.runtime.metadata import ModelInfo


@dataclass(frozen=True)
class ModelFacts:
    """What the driver needs of one model as a worker loaded it (the video resume keys, the
    batch of frames, the words of the summary)."""

    variant: str
    info: ModelInfo
    tile_pad: int
    precision: str
    batch: int
    file_name: str


@dataclass(frozen=True)
class WorkerFacts:
    describe: str
    label: str
    notice: str | None
    models: dict[str, ModelFacts]  # by variant


@dataclass
class ChunkResult:
    """What a chunk of images or animations came to: the report's lists, the stats of
    pipeline.run_jobs or run_animation_jobs, and the auto default's picks."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    stats: object = None
    used: Counter = field(default_factory=Counter)


class UpscaleWorker:
    """Made a Ray actor by pool.py (so this module imports without Ray)."""

    def __init__(self, parcel: ModelParcel, settings, cpu_threads: int | None):
        console.set_quiet(True)  # the driver reports; a worker's own messages would go nowhere
        self._problem: str | None = None
        self._upscaler = None
        try:
            self._upscaler = open_unpacked(
                parcel, unpack(parcel), scale=settings.scale, device=settings.device,
                precision=settings.precision, tile=settings.tile, tile_pad=settings.tile_pad,
                batch=settings.batch, cpu_threads=cpu_threads)
        except (ModelError, DeviceError, ValueError) as exc:
            self._problem = str(exc)

    def facts(self) -> WorkerFacts | str:
        """The loaded model, or why it could not be loaded (a usage error of the run)."""
        if self._problem is not None:
            return self._problem
        upscaler = self._upscaler
        models = {variant: ModelFacts(variant, chosen.info, chosen.tile_pad, chosen.precision,
                                      chosen.batch, Path(chosen.model_path).name)
                  for variant, chosen in self._variants().items()}
        return WorkerFacts(upscaler.describe(), upscaler.label(), upscaler.notice, models)

    def _variants(self) -> dict:
        upscaler = self._upscaler
        if hasattr(upscaler, "clean"):
            return {"clean": upscaler.clean, "real": upscaler.real}
        return {SINGLE: upscaler}

    def images(self, jobs: list[Job], options) -> ChunkResult:
        from uprez.runtime.pipeline import run_jobs

        return self._chunk(lambda report: run_jobs(jobs, self._upscaler, options, report))

    def animations(self, jobs: list[Job], options) -> ChunkResult:
        from uprez.runtime.animation_jobs import run_animation_jobs

        return self._chunk(
            lambda report: run_animation_jobs(jobs, self._upscaler, options, report))

    def _chunk(self, run) -> ChunkResult:
        before = self._used()
        report = BatchReport()
        stats = run(report)
        return ChunkResult(report.done, report.skipped, report.failed, stats,
                           self._used() - before)

    def _used(self) -> Counter:
        used = getattr(self._upscaler, "used", None)
        return used() if used is not None else Counter()

    def video_range(self, task, variant: str, outscale: float | None) -> tuple[int, int]:
        from uprez.runtime.video.ranges import run_range
        from uprez.runtime.video_jobs import frame_function

        upscaler = self._variants()[variant]
        return run_range(task, frame_function(upscaler, outscale), batch=upscaler.batch)


def worker_options(options):
    """A chunk's options on a worker: the driver has already skipped the finished outputs, so
    an output that exists now was written by this run (a worker lost after writing it), and is
    written again rather than counted as skipped."""
    return replace(options, overwrite=True)
