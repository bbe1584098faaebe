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

import numpy as np

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

    def start_decoder(self, frames: Iterable[np.ndarray], finish: Callable[[], None]) -> threading.Thread:
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
