"""Decode, inference and encode running at once: two threads and two bounded queues.

The decoder thread fills `frames`, the calling thread takes batches from it and runs the model
(so Ctrl-C lands there), the encoder thread drains `upscaled` into the sink. Queues are bounded
so memory stays at a few batches whatever the video's length. Any failure sets `stop`, which
every blocking step polls.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from uprez.runtime.base import console, interrupts
from uprez.runtime.video.errors import VideoError

END = object()  # no more items
_POLL_S = 0.1


@dataclass
class Overlap:
    batch: int
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.frames: queue.Queue = queue.Queue(maxsize=max(4, 2 * self.batch))
        self.upscaled: queue.Queue = queue.Queue(maxsize=2)

    def fail(self, exc: BaseException) -> None:
        self.failures.append(exc)
        self.stop.set()

    def put(self, q: queue.Queue, item) -> bool:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return END

    def take_batch(self) -> tuple[list[np.ndarray], bool]:
        """Up to `batch` frames, and whether the source has ended."""
        taken: list[np.ndarray] = []
        while len(taken) < self.batch:
            item = self.get(self.frames)
            if item is END:
                return taken, True
            taken.append(item)
        return taken, False

    def start_decoder(self, frames: Iterable[np.ndarray],
                      finish: Callable[[], None]) -> threading.Thread:
        def work() -> None:
            try:
                for frame in frames:
                    if not self.put(self.frames, frame):
                        return
                finish()  # raises when the source turned out damaged
                self.put(self.frames, END)
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                self.fail(exc)

        return self._start(work, "uprez-decode")

    def start_encoder(self, write: Callable[[np.ndarray], None],
                      written: Callable[[int], None]) -> threading.Thread:
        def work() -> None:
            try:
                while True:
                    batch = self.get(self.upscaled)
                    if batch is END:
                        return
                    for frame in batch:
                        write(frame)
                    written(len(batch))
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                self.fail(exc)

        return self._start(work, "uprez-encode")

    @staticmethod
    def _start(target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread


class Sink(Protocol):
    start_frame: int  # frames already done by an earlier run

    @property
    def kept_frames(self) -> int: ...  # frames in finished parts (segments, PNGs) so far

    def write(self, frame: np.ndarray) -> None: ...
    def finish(self) -> object: ...
    def kill(self) -> None: ...
    def cleanup(self, *, keep_finished: bool) -> None: ...


def run_overlapped(*, name: str, frames: Iterable[np.ndarray], check_source: Callable[[], None],
                   stop_source: Callable[[], None], sink: Sink,
                   frame_fn: Callable[[list[np.ndarray]], list[np.ndarray]], batch: int,
                   total: int, start: int, progress: bool, keep_finished: bool) -> int:
    """Upscale `frames` into `sink`; returns how many frames this run upscaled.

    On any failure or Ctrl-C the source and sink are stopped, what the sink had half-written is
    removed (its finished parts stay only when `keep_finished`), and the exception goes on."""
    overlap = Overlap(batch)
    bar = console.progress(total=total, desc=name, unit="frame") if progress else None
    if bar is not None and start:
        bar.update(start)
    upscaled = 0
    threads = [overlap.start_decoder(frames, check_source),
               overlap.start_encoder(sink.write, bar.update if bar is not None else _ignore)]
    try:
        while True:
            taken, ended = overlap.take_batch()
            if overlap.stop.is_set():
                break
            interrupts.check()
            if taken:
                outputs = _checked(frame_fn(taken), taken)
                upscaled += len(outputs)
                overlap.put(overlap.upscaled, outputs)
            if ended:
                break
        overlap.put(overlap.upscaled, END)
        threads[1].join()
        if overlap.failures:
            raise overlap.failures[0]
        threads[0].join()
        sink.finish()
    except BaseException as exc:
        overlap.stop.set()
        stop_source()
        sink.kill()
        for thread in threads:
            thread.join(timeout=10)
        sink.cleanup(keep_finished=keep_finished)
        kept = ""
        if keep_finished:
            kept = (f"; the {sink.kept_frames} frames of its finished parts are kept for "
                    "--resume" if sink.kept_frames else
                    "; no part was finished yet, so nothing is kept for --resume")
        if isinstance(exc, KeyboardInterrupt):
            console.warn(f"{name}: interrupted after {start + upscaled} frames; "
                         f"no output written{kept}")
        elif isinstance(exc, VideoError):
            raise VideoError(f"{exc}; {start + upscaled} frames were upscaled, "
                             f"no output written{kept}") from None
        raise
    finally:
        if bar is not None:
            bar.close()
    return upscaled


def _ignore(count: int) -> None:
    pass


def _checked(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> list[np.ndarray]:
    if len(outputs) != len(inputs):
        raise VideoError(f"the model returned {len(outputs)} frames for {len(inputs)}")
    for frame in outputs:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype not in (np.uint8, np.uint16):
            raise VideoError(f"the model returned a {frame.shape} {frame.dtype} frame; "
                             f"expected HxWx3 uint8 or uint16")
    return outputs
