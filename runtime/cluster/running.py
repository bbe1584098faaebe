"""sr-run's second half on a Ray cluster: `run_plan_on_cluster` carries out a `RunPlan` as
`running.run_plan` does here, with the same skipping, report, summary and exit codes.

The driver decides and counts; the workers only upscale. Finished outputs are skipped here,
before any work goes out, so an output a lost worker had already written is written again by
the next one and counted once. Videos go through `video_jobs.run_video_jobs` (probing, resume
keys, work folder, join) with their ranges upscaled on the workers.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from uprez.runtime.animation_jobs import AnimationStats
from uprez.runtime.auto import usage_line
from uprez.runtime.backends import ModelError
from uprez.runtime.base import atomic, console, interrupts
from uprez.runtime.base.report import EXIT_INTERRUPTED, BatchReport, UsageProblem
from uprez.runtime.cluster.model_parcel import SINGLE, pack
from uprez.runtime.cluster.pool import Item, NoWorkers, WorkerPool, connect, import_ray
from uprez.runtime.cluster.worker import ChunkResult, ModelFacts, WorkerFacts, worker_options
from uprez.runtime.discover import Job
from uprez.runtime.pipeline import RunStats
from uprez.runtime.planning import RunPlan
from uprez.runtime.running import count_line

MAX_CHUNK = 8  # images per item: enough to keep a worker's reader and writers busy
CHUNKS_PER_WORKER = 4  # so the last items still spread over the workers


def run_plan_on_cluster(plan: RunPlan, address: str) -> int:
    """Do everything the plan says on the Ray cluster at `address`; the exit code."""
    import_ray()  # before anything else: without it, the install command
    try:
        parcel, paths = pack(plan.model.path, plan.model.scale)
    except ModelError as exc:
        raise UsageProblem(str(exc)) from None
    ray = connect(address)
    pool = None
    try:
        pool = WorkerPool(ray, parcel, plan.model)
        facts = pool.first_facts()
        if facts.notice:
            console.warn(facts.notice)
        console.info(f"{count_line(plan)} with {facts.describe}, on {pool.slots} "
                     f"{pool.slot_kind} worker{'s' if pool.slots != 1 else ''} of the Ray "
                     f"cluster at {address}")
        return _Run(plan, pool, facts, paths).run()
    finally:
        if pool is not None:
            pool.close()
        ray.shutdown()


class _Run:
    def __init__(self, plan: RunPlan, pool: WorkerPool, facts: WorkerFacts,
                 paths: dict[str, Path]):
        self.plan, self.pool, self.facts, self.paths = plan, pool, facts, paths
        self.report = BatchReport()
        self.used: Counter = Counter()

    def run(self) -> int:
        plan, report = self.plan, self.report
        stats = animation_stats = video_stats = None
        try:
            with interrupts.recorded():
                if plan.images:
                    stats = self._chunks("images", plan.images, plan.image_options, RunStats(),
                                         "img")
                if plan.animations:
                    animation_stats = self._chunks("animations", plan.animations,
                                                   plan.animation_options, AnimationStats(),
                                                   "anim")
                if plan.videos:
                    video_stats = self._videos()
                interrupts.check()
        except KeyboardInterrupt:
            again = " with --resume" if plan.video_options.resume else \
                " (add --resume to keep a video's finished part)"
            console.error(f"interrupted: {report.summary()}; run the same command again{again} "
                          "to go on (finished files are skipped)")
            return EXIT_INTERRUPTED
        label = self.facts.label
        parts = []
        if stats is not None and stats.images:
            parts.append(stats.summary(label))
        if animation_stats is not None and animation_stats.animations:
            parts.append(animation_stats.summary() + ("" if parts else f" on {label}"))
        if parts and self.used:
            parts.append(usage_line(self.used))
        if video_stats is not None and video_stats.videos:
            parts.append(video_stats.summary() + ("" if parts else f" on {label}"))
        console.result("; ".join(parts or ["nothing upscaled"]) + f"; {report.summary()}")
        for path, reason in report.failed:
            console.error(f"failed: {path}: {reason}")
        return report.exit_code

    def _chunks(self, method: str, jobs: list[Job], options, stats, unit: str):
        """Images or animations, in chunks over the workers; `stats` summed from theirs (the
        seconds: this phase's own, as the workers ran side by side)."""
        started = time.perf_counter()
        bar = console.progress(total=len(jobs), desc="upscaling" if unit == "img" else method,
                               unit=unit)
        todo = []
        for job in jobs:
            if not options.overwrite and atomic.is_complete(job.target):
                self.report.add_skipped(str(job.source))
                bar.update(1)
            else:
                todo.append(job)
        size = max(1, min(MAX_CHUNK, len(todo) // (CHUNKS_PER_WORKER * self.pool.slots)))
        sent = worker_options(options)
        # absolute paths for the workers, whose working folders are their own; the report
        # names each input as it was given, as sr-run does
        given = {str(job.source.absolute()): str(job.source) for job in todo}
        absolute = [replace(job, source=job.source.absolute(), target=job.target.absolute())
                    for job in todo]
        items = [Item(method, (absolute[i:i + size], sent), todo[i].source.name,
                      todo[i:i + size]) for i in range(0, len(todo), size)]

        def done(item: Item, result: ChunkResult) -> None:
            for path in result.done:
                self.report.add_done(given.get(path, path))
            for path, reason in result.failed:
                self._fail(given.get(path, path), reason)
            _add_stats(stats, result.stats)
            self.used.update(result.used)
            bar.update(len(item.payload))

        def failed(item: Item, reason: str) -> None:
            for job in item.payload:
                self._fail(str(job.source), reason)
            bar.update(len(item.payload))

        try:
            self.pool.run(items, done, failed)
        except NoWorkers as exc:
            for job in _unfinished(todo, self.report):
                self._fail(str(job.source), str(exc))
        finally:
            bar.close()
        stats.seconds = time.perf_counter() - started
        return stats

    def _fail(self, path: str, reason: str) -> None:
        self.report.add_failed(path, reason)
        console.error(f"{path}: {reason}")

    def _videos(self):
        from uprez.runtime.video_jobs import run_video_jobs

        options = self.plan.video_options
        return run_video_jobs(self.plan.videos, _DriverModel.of(self.facts, self.paths), options,
                              self.report, tile=self.plan.model.tile,
                              ranges_for=lambda chosen: _RangeRunner(self.pool, chosen.variant,
                                                                     options.outscale))


def _add_stats(total, part) -> None:
    """Sum a worker's RunStats or AnimationStats into the run's, all but the seconds."""
    for name, value in vars(part).items():
        if name != "seconds":
            setattr(total, name, getattr(total, name) + value)


def _unfinished(jobs: list[Job], report: BatchReport) -> list[Job]:
    ended = set(report.done) | {path for path, _ in report.failed}
    return [job for job in jobs if str(job.source) not in ended]


@dataclass(frozen=True)
class _DriverModel:
    """One model as video_jobs needs it on the driver (the resume keys, the frames per batch):
    the facts a worker reported, and the driver's own copy of the file for its SHA-256."""

    variant: str
    info: object
    tile_pad: int
    precision: str
    batch: int
    model_path: Path
    others: tuple = ()  # the auto default: its clean and real models

    @classmethod
    def of(cls, facts: WorkerFacts, paths: dict[str, Path]) -> _DriverModel:
        models = [cls._one(model, paths[model.variant]) for model in facts.models.values()]
        if len(models) == 1:
            return models[0]
        first = models[0]
        return cls(first.variant, first.info, first.tile_pad, first.precision, first.batch,
                   first.model_path, tuple(models))

    @classmethod
    def _one(cls, model: ModelFacts, path: Path) -> _DriverModel:
        return cls(model.variant, model.info, model.tile_pad, model.precision, model.batch,
                   path)

    def __getattr__(self, name: str):
        if name == "pick_for_video" and self.others:
            return self._pick_for_video
        raise AttributeError(name)

    def _pick_for_video(self, codec: str) -> _DriverModel:
        from uprez.runtime.auto import LOSSLESS_VIDEO_CODECS

        wanted = "clean" if codec in LOSSLESS_VIDEO_CODECS else "real"
        return next(model for model in self.others if model.variant == wanted)


class _RangeRunner:
    """video/ranges.py's RangeRunner on the pool: each range an item; the first range that
    fails ends the video (the others are stopped) with its reason."""

    def __init__(self, pool: WorkerPool, variant: str, outscale: float | None):
        self.pool, self.variant, self.outscale = pool, variant or SINGLE, outscale

    def __call__(self, tasks, done) -> None:
        from uprez.runtime.video.errors import VideoError

        def failed(item: Item, reason: str) -> None:
            raise VideoError(reason)

        items = [Item("video_range", (task, self.variant, self.outscale), task.name, task)
                 for task in tasks]
        try:
            self.pool.run(items, lambda item, result: done(item.payload, result), failed)
        except NoWorkers as exc:
            raise VideoError(str(exc)) from None
