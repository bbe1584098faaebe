"""Done/failed/skipped bookkeeping for batch commands, and the exit-code rule of every command:
0 all done, 1 some inputs failed (each named with its reason), 2 usage or model error,
130 interrupted (Ctrl-C)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import click

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class UsageProblem(click.ClickException):
    """A one-line error with the usage exit code (2), without click's usage banner."""

    exit_code = EXIT_USAGE


@dataclass
class BatchReport:
    """Thread-safe tally of a batch run. Failures keep the path and the reason."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_done(self, path: str) -> None:
        with self._lock:
            self.done.append(path)

    def add_skipped(self, path: str) -> None:
        with self._lock:
            self.skipped.append(path)

    def add_failed(self, path: str, reason: str) -> None:
        with self._lock:
            self.failed.append((path, reason))

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if self.failed else EXIT_OK

    def summary(self) -> str:
        parts = [f"{len(self.done)} done"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (already done; --overwrite to redo)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)
