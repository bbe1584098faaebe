"""A real small filesystem (tmpfs) for full-disk tests; they skip where mounting is not allowed."""

from __future__ import annotations

import contextlib
import errno
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(parent: Path, size: str = "1m") -> Iterator[Path]:
    mountpoint = parent / f"small-disk-{uuid.uuid4().hex[:6]}"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(mountpoint)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def leave_free(disk: Path, free_bytes: int) -> None:
    """Fill `disk` up, then give back about `free_bytes` (tmpfs counts whole 4 KiB pages)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    size = filler.stat().st_size
    with open(filler, "r+b") as f:
        f.truncate(max(0, size - size % 4096 - free_bytes))
