"""Which process owns an output, and whether a process is still alive: so that two runs never
work on one output at once, and what a killed run left behind can be told from what a live run
is writing.

An output lock is a file `.NAME.uprez-lock` beside the output, holding the owner's pid, and
locked by the operating system (flock, or a byte-range lock on Windows) while the owner works.
The OS drops that lock when its process ends however it ends (kill -9 included), so a lock file
left behind is simply taken over by the next run.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

LOCK_SUFFIX = ".uprez-lock"


class OutputBusy(Exception):
    """Another live process holds the output's lock; `pid` is that process (None if unknown)."""

    def __init__(self, output: Path, pid: int | None):
        holder = f"another sr-run (pid {pid})" if pid else "another sr-run"
        super().__init__(f"{output} is being made by {holder} right now; wait for it to finish "
                         "(then this run skips it), or choose another --output")
        self.output, self.pid = output, pid


def lock_path(output: Path) -> Path:
    return output.parent / f".{output.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def output_lock(output: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of `output` for the block; OutputBusy when a live process holds it."""
    path = lock_path(Path(output))
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+b")  # noqa: SIM115 - held open for the whole block
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().decode("ascii", "replace").strip()
            handle.close()
            raise OutputBusy(Path(output), int(holder) if holder.isdigit() else None)
        # the previous owner may have removed the file between our open and our lock: then the
        # lock is on a file nobody else can find, so start again with the current one
        try:
            same = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked, so no one locks a file about to vanish
        handle.close()


def _try_lock(handle) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def process_alive(pid: int) -> bool | None:
    """Whether a process with this pid runs on this machine; None where that cannot be told
    (Windows, where os.kill would end it)."""
    if sys.platform == "win32":
        return None
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True
