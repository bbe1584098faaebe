"""Atomic file writes: a temp file in the target's folder, then os.replace. Shared by every part."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from uprez.runtime.base.locks import process_alive

TEMP_SUFFIX = ".uprez-tmp"
# `.NAME.<pid>-<hex>.uprez-tmp`: the writer's pid tells a live write from one a killed run left
_TEMP_NAME = re.compile(r"^\..+\.(?:(\d+)-)?[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")
# a temp file whose writer cannot be asked (older names without a pid; Windows) is stale once
# it has not been written to for this long
STALE_AFTER_S = 24 * 3600


def is_temp_file(path: str | os.PathLike) -> bool:
    """A temp file of an unfinished atomic write (never an input, never a finished output)."""
    return Path(path).name.endswith(TEMP_SUFFIX)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces `path`, on failure it is removed.

    An OSError (a full disk) comes out naming `path`, not the temp file or nothing."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        # created with 0o666 so the umask sets the permissions as open() would; changing the
        # umask instead would race with other threads creating files
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666))
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:  # Ctrl-C mid-write included: leave no partial file behind
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temp files in `folder` that a killed run left (kill -9, power loss), never one
    a live process is writing: a file is stale when the pid in its name runs no more (or, where
    that cannot be asked, when it has not changed for a day). Returns the removed paths."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        found = _TEMP_NAME.match(entry.name)
        if found is None:
            continue
        alive = process_alive(int(found.group(1))) if found.group(1) else None
        if alive is None:
            try:
                alive = now - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER_S
            except OSError:
                continue
        if not alive:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _naming(exc: OSError, path: Path) -> OSError:
    return exc if exc.errno is None else OSError(exc.errno, exc.strerror, str(path))


def is_complete(path: str | os.PathLike) -> bool:
    """Whether an output written through `atomic_path` exists: it is renamed into place only
    when whole, so any non-empty file there is complete."""
    try:
        return Path(path).stat().st_size > 0
    except OSError:
        return False


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
