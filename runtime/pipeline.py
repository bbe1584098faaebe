"""Upscale a list of jobs: decode and encode in worker threads while inference runs.

reader thread -> [bounded queue] -> inference (calling thread) -> [bounded queue] -> writers.
The queues hold a couple of images each, so memory stays flat however long the list is.
Ctrl-C stops taking new work; writes in flight finish (they are atomic) and nothing partial is
left behind.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from uprez.runtime.base import atomic, console, image_metadata, interrupts
from uprez.runtime.base.image_metadata import NO_METADATA, ImageMetadata
from uprez.runtime.base.imageio import (
    HOLDS_16_BIT,
    HOLDS_ALPHA,
    ImageReadError,
    ImageWriteError,
    format_of,
    read_image,
    read_image_and_metadata,
    write_image,
)
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import Job
from uprez.runtime.upscaler import OutputTooLarge

_DONE = object()  # end-of-stream marker in the queues
TILE_BAR_MIN = 16  # images with at least this many tiles get their own progress bar


@dataclass(frozen=True)
class RunOptions:
    outscale: float | None = None
    alpha: str = "model"
    quality: int | None = None
    overwrite: bool = False
    keep_metadata: bool = True  # colour profile, EXIF, XMP; False is --strip-metadata
    queue_size: int = 2
    writers: int = 2


@dataclass
class RunStats:
    images: int = 0
    pixels_in: int = 0
    pixels_out: int = 0
    seconds: float = 0.0

    def summary(self, provider: str) -> str:
        rate = self.pixels_out / 1e6 / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.images} image{'s' if self.images != 1 else ''}: "
                f"{self.pixels_in / 1e6:.2f} MP in, {self.pixels_out / 1e6:.2f} MP out "
                f"in {self.seconds:.1f} s ({rate:.2f} MP/s out) on {provider}")


def run_jobs(jobs: list[Job], upscaler, options: RunOptions, report: BatchReport) -> RunStats:
    """Process all jobs; failures go to `report`. Re-raises KeyboardInterrupt after cleanup."""
    batch = _Batch(jobs, upscaler, options, report)
    restore_interrupts = None
    start = time.perf_counter()
    reader = threading.Thread(target=batch.read_all, name="uprez-reader", daemon=True)
    writers = [threading.Thread(target=batch.write_all, name=f"uprez-writer-{i}", daemon=True)
               for i in range(max(1, options.writers))]
    for thread in (reader, *writers):
        thread.start()
    try:
        batch.upscale_all()
    except KeyboardInterrupt:
        # Stop: drop queued work, let the writes in flight finish (each is atomic), and do not
        # let a second Ctrl-C kill those writes half way.
        restore_interrupts = _ignore_interrupts()
        batch.stop.set()
        _drain(batch.decoded)
        _drain(batch.encoded)
        raise
    finally:
        for _ in writers:
            batch.encoded.put(_DONE)
        for thread in writers:
            thread.join()
        batch.stop.set()
        _drain(batch.decoded)
        reader.join(timeout=5)
        batch.bar.close()
        batch.stats.seconds = time.perf_counter() - start
        if restore_interrupts is not None:
            restore_interrupts()
    return batch.stats


class _Batch:
    """One run_jobs call: the queues between its threads, its bar, and what they tally."""

    def __init__(self, jobs: list[Job], upscaler, options: RunOptions, report: BatchReport):
        self.jobs, self.upscaler, self.options, self.report = jobs, upscaler, options, report
        self.stats, self.lock, self.stop = RunStats(), threading.Lock(), threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=options.queue_size)
        self.encoded: queue.Queue = queue.Queue(maxsize=options.queue_size)
        self.bar = console.progress(total=len(jobs), desc="upscaling", unit="img")
        self.warned: set[str] = set()

    def tick(self) -> None:
        with self.lock:
            self.bar.update(1)

    def fail(self, path, reason: str) -> None:
        self.report.add_failed(str(path), reason)
        console.error(f"{path}: {reason}")
        self.tick()

    def read_all(self) -> None:
        """The reader thread: decode the inputs in order, skipping finished outputs."""
        try:
            for job in self.jobs:
                if self.stop.is_set():
                    return
                if not self.options.overwrite and atomic.is_complete(job.target):
                    self.report.add_skipped(str(job.source))
                    self.tick()
                    continue
                try:
                    if self.options.keep_metadata:
                        item = (job, *read_image_and_metadata(job.source))
                    else:
                        item = (job, read_image(job.source), NO_METADATA)
                except ImageReadError as exc:
                    self.fail(job.source, exc.reason)
                    continue
                except Exception as exc:  # e.g. MemoryError on a huge image: skip, go on
                    self.fail(job.source, f"cannot read: {console.first_line(exc)}")
                    continue
                if not _put(self.decoded, item, self.stop):
                    return
        finally:  # whatever happens, the inference loop must learn that no more is coming
            _put(self.decoded, _DONE, self.stop)

    def upscale_all(self) -> None:
        """The calling thread: upscale what the reader decoded, hand it to the writers.

        With several GPUs, one image is in flight per GPU (worker threads), so files spread
        over them; with one device the calling thread upscales, as Ctrl-C lands there."""
        parallel = max(1, getattr(self.upscaler, "parallel_images", 1))
        if parallel == 1:
            while (item := self._next()) is not None:
                self.upscale_one(*item)
            return
        in_flight: deque = deque()
        with ThreadPoolExecutor(parallel, thread_name_prefix="uprez-image") as lanes:
            while (item := self._next()) is not None:
                while len(in_flight) >= parallel:
                    in_flight.popleft().result()
                in_flight.append(lanes.submit(self.upscale_one, *item))
            while in_flight:
                in_flight.popleft().result()

    def _next(self):
        item = self.decoded.get()
        if item is _DONE:
            return None
        interrupts.check()
        return item

    def upscale_one(self, job: Job, image: np.ndarray, metadata) -> None:
        try:
            output = _upscale_one(self.upscaler, image, self.options, job)
        except OutputTooLarge as exc:
            self.fail(job.source, str(exc))
            return
        except MemoryError:
            self.fail(job.source, "out of memory; try a smaller --tile")
            return
        except Exception as exc:
            self.fail(job.source, f"upscaling failed: {console.first_line(exc)}")
            return
        _put(self.encoded, (job, output, metadata, image.shape[0] * image.shape[1]), None)

    def write_all(self) -> None:
        """A writer thread: encode and write atomically until the end marker."""
        while True:
            item = self.encoded.get()
            if item is _DONE:
                return
            job, image, metadata, pixels_in = item
            _warn_on_loss(image, format_of(job.target), metadata, self.warned, self.lock)
            try:
                write_image(job.target, image, quality=self.options.quality, metadata=metadata)
            except ImageWriteError as exc:
                self.fail(job.source, f"cannot write {exc.path}: {exc.reason}")
                continue
            except Exception as exc:  # a writer must never die silently with work queued
                self.fail(job.source, f"cannot write {job.target}: {console.first_line(exc)}")
                continue
            self.report.add_done(str(job.source))
            with self.lock:
                self.stats.images += 1
                self.stats.pixels_in += pixels_in
                self.stats.pixels_out += image.shape[0] * image.shape[1]
            self.tick()


def _ignore_interrupts():
    """Ignore SIGINT until the returned function is called (main thread only)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    return lambda: signal.signal(signal.SIGINT, previous)


def _upscale_one(upscaler, image: np.ndarray, options: RunOptions, job: Job) -> np.ndarray:
    tile_bar = None

    def on_tiles(done: int, total: int) -> None:
        nonlocal tile_bar
        if total < TILE_BAR_MIN:
            return
        if tile_bar is None:
            tile_bar = console.progress(total=total, desc=job.source.name, unit="tile",
                                        leave=False, position=1)
        tile_bar.update(done - tile_bar.n)

    try:
        return upscaler.upscale(image, outscale=options.outscale, alpha=options.alpha,
                                progress=on_tiles)
    finally:
        if tile_bar is not None:
            tile_bar.close()


def _warn_on_loss(image: np.ndarray, fmt: str | None, metadata: ImageMetadata,
                  warned: set[str], lock) -> None:
    losses = image_metadata.losses(metadata, fmt, image) if fmt is not None else []
    if image.dtype == np.uint16 and fmt not in HOLDS_16_BIT:
        losses.append(f"16-bit images are saved as 8-bit {fmt} (use --format png to keep 16 bits)")
    if image.ndim == 3 and image.shape[2] in (2, 4) and fmt not in HOLDS_ALPHA:
        losses.append(f"{fmt} has no transparency: alpha is dropped (use --format png to keep it)")
    for message in losses:
        with lock:
            if message in warned:
                continue
            warned.add(message)
        console.warn(message)


def _put(q: queue.Queue, item, stop: threading.Event | None) -> bool:
    """Put, but give up (False) once `stop` is set, so a producer never blocks forever."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop is not None and stop.is_set():
                return False


def _drain(q: queue.Queue) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
