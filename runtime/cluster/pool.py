"""The driver's side of Ray: connect, start one worker per GPU or CPU slot, hand out work.

Work goes out in items (a chunk of images, one range of a video), at most `DEPTH` per worker
so the next one is already there when a worker finishes. A worker that is lost (its node
died, its process was killed) has the items it held handed to the others, and a replacement
is started, which takes work once it has loaded the model; an item whose worker was lost
`MAX_ATTEMPTS` times fails alone, named, as a bad input does. An error raised by the runtime's
code itself fails the item with its message.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from uprez.runtime.base import console, interrupts
from uprez.runtime.base.report import UsageProblem
from uprez.runtime.cluster.model_parcel import ModelParcel

INSTALL_HINT_EXTRA = "cluster"
DEPTH = 2  # items per worker at once: one running, one waiting
MAX_ATTEMPTS = 3  # workers lost on one item before it fails
WORKER_WAIT_S = 120.0  # how long work may wait for a worker to (re)appear before it fails
_POLL_S = 0.2


class NoWorkers(RuntimeError):
    """The cluster has no worker left to take the remaining work."""


def import_ray():
    """Ray, or a usage error (exit 2) with the command that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise UsageProblem(f"--cluster needs Ray, which is not installed ({exc}). "
                           + console.install_hint(INSTALL_HINT_EXTRA, torch=False)) from None
    return ray


def connect(address: str):
    """Join the Ray cluster at `address` (as `ray start --head` prints it), or with `local`
    start one on this machine. Ray's own log lines stay in its log files."""
    ray = import_ray()
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                 include_dashboard=False if address == "local" else None)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        raise UsageProblem(f"cannot join the Ray cluster at {address}: "
                           f"{console.first_line(exc)}") from None
    return ray


@dataclass
class Item:
    """One piece of work: the worker method, its arguments, and what it is called in errors."""

    method: str
    args: tuple
    name: str
    payload: object = None  # the caller's own handle on it (a chunk of jobs, a range task)
    lost: int = 0  # workers lost while they held it


@dataclass(eq=False)  # each worker is itself: held in sets, found by identity
class _Worker:
    actor: object
    ready: object  # the ref of its facts() call until they have come
    facts: object = None
    held: set = field(default_factory=set)  # refs of the items it holds


class WorkerPool:
    """The actors of one sr-run; `run` hands out items and collects their results."""

    def __init__(self, ray, parcel: ModelParcel, settings):
        from uprez.runtime.cluster.worker import UpscaleWorker

        self.ray = ray
        self._parcel_ref = ray.put(parcel)  # sent to each node once, whatever its workers
        self._settings = settings
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        on_gpu = gpus > 0 and settings.device not in ("cpu", "openvino")
        self.slots = gpus if on_gpu else max(1, int(resources.get("CPU", 1)))
        self.slot_kind = "GPU" if on_gpu else "CPU"
        # a CPU slot's worker runs one inference thread, so the slots of a node share its
        # cores instead of each taking them all
        resource = {"num_gpus": 1, "num_cpus": 0} if on_gpu else {"num_cpus": 1}
        self._actor_class = ray.remote(**resource)(UpscaleWorker)
        self._cpu_threads = None if on_gpu else 1
        self._failed_starts = 0
        self._workers = [self._start() for _ in range(self.slots)]

    def _start(self) -> _Worker:
        actor = self._actor_class.remote(self._parcel_ref, self._settings, self._cpu_threads)
        return _Worker(actor, actor.facts.remote())

    def first_facts(self):
        """The model as the first worker to load it has it; UsageProblem when it cannot be
        loaded there (a bad model, a device that cannot run it)."""
        deadline = time.monotonic() + WORKER_WAIT_S
        while time.monotonic() < deadline:
            self._settle_starting()
            ready = [w for w in self._workers if w.facts is not None]
            if ready:
                return ready[0].facts
            interrupts.check()
            time.sleep(_POLL_S)
        raise UsageProblem(f"no worker of the Ray cluster loaded the model within "
                           f"{WORKER_WAIT_S:.0f} s (free {self.slot_kind} slots?)")

    def _settle_starting(self) -> None:
        """Take up the facts of workers that finished loading; drop those that died."""
        from ray.exceptions import RayError

        starting = [w for w in self._workers if w.facts is None]
        if not starting:
            return
        done, _ = self.ray.wait([w.ready for w in starting], num_returns=len(starting),
                                timeout=0)
        for worker in starting:
            if worker.ready not in done:
                continue
            try:
                facts = self.ray.get(worker.ready)
            except RayError as exc:  # it died starting: its node went, or it cannot start there
                self._failed_starts += 1
                if self._failed_starts > MAX_ATTEMPTS * self.slots:
                    raise UsageProblem(f"the workers of the Ray cluster keep failing to start "
                                       f"({console.first_line(exc)}); is uprez installed on "
                                       "every node?") from None
                self._replace(worker)
                continue
            if isinstance(facts, str):
                raise UsageProblem(facts)
            worker.facts = facts

    def _replace(self, worker: _Worker) -> None:
        self._workers.remove(worker)
        try:
            self.ray.kill(worker.actor)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self._workers.append(self._start())

    def run(self, items: list[Item], done: Callable[[Item, object], None],
            failed: Callable[[Item, str], None]) -> None:
        """Run the items on the workers, calling `done(item, result)` or `failed(item, reason)`
        on this thread as each ends. Whatever `done`/`failed` raise, and Ctrl-C, stop the
        run: the workers holding items are stopped (and replaced) before it goes on up."""
        waiting = deque(items)
        held: dict = {}  # ref -> (worker, item)
        since = time.monotonic()
        try:
            while waiting or held:
                self._settle_starting()
                self._hand_out(waiting, held)
                if not held:
                    if time.monotonic() - since > WORKER_WAIT_S:
                        raise NoWorkers(f"no worker of the Ray cluster took work for "
                                        f"{WORKER_WAIT_S:.0f} s")
                    interrupts.check()
                    time.sleep(_POLL_S)
                    continue
                since = time.monotonic()
                ended, _ = self.ray.wait(list(held), num_returns=1, timeout=_POLL_S)
                interrupts.check()
                for ref in ended:
                    worker, item = held.pop(ref)
                    worker.held.discard(ref)
                    self._collect(ref, worker, item, waiting, done, failed)
        except BaseException:
            for worker in {worker for worker, _ in held.values()}:
                if worker in self._workers:
                    self._replace(worker)
            raise

    def _hand_out(self, waiting: deque, held: dict) -> None:
        for worker in [w for w in self._workers if w.facts is not None]:
            while waiting and len(worker.held) < DEPTH:
                item = waiting.popleft()
                ref = getattr(worker.actor, item.method).remote(*item.args)
                worker.held.add(ref)
                held[ref] = (worker, item)

    def _collect(self, ref, worker: _Worker, item: Item, waiting: deque, done, failed) -> None:
        from ray.exceptions import RayError, RayTaskError

        try:
            result = self.ray.get(ref)
        except RayTaskError as exc:  # the runtime's code raised: the item's own failure
            cause = getattr(exc, "cause", None)
            failed(item, console.first_line(cause if cause is not None else exc))
            return
        except RayError as exc:  # the worker is gone (its node died, it was killed)
            if worker in self._workers:
                self._replace(worker)
            item.lost += 1
            if item.lost >= MAX_ATTEMPTS:
                failed(item, f"{item.lost} workers were lost while they upscaled it "
                             f"({console.first_line(exc)})")
            else:
                waiting.appendleft(item)
            return
        done(item, result)

    def close(self) -> None:
        for worker in self._workers:
            try:
                self.ray.kill(worker.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._workers = []
