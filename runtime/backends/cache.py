"""uprez's folder in the user cache: compiled OpenVINO blobs, TensorRT engines, fp16 models.

`UPREZ_CACHE_DIR` overrides it; otherwise the platform's convention (XDG_CACHE_HOME or
~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows). Every entry lives in a
folder named by the bytes of its model (SHA-256) and whatever else shapes it, so a changed
model, shape or precision gets a new folder and can never pick up a stale build. A cache that
cannot be written only costs speed: callers get None and build in memory.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from uprez.runtime.metadata import file_sha256

DEFAULT_LIMIT_BYTES = 2 << 30  # per kind of cache; least recently used folders go first


def cache_root() -> Path:
    override = os.environ.get("UPREZ_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "uprez" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "uprez"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "uprez"


def model_key(model_path: Path) -> str:
    """The first 16 hex digits of the model's SHA-256: its identity in cache folder names."""
    return file_sha256(model_path)[:16]


def entry_folder(kind: str, *parts: str) -> Path | None:
    """`<root>/<kind>/<part>/<part>...`, created and marked as just used; None if unwritable."""
    folder = cache_root().joinpath(kind, *parts)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        os.utime(folder, (now, now))
    except OSError:
        return None
    return folder


def prune(kind: str, keep: Path, limit: int = DEFAULT_LIMIT_BYTES) -> None:
    """Remove the least recently used entry folders of `kind` until it is under `limit` bytes.

    An entry is a leaf folder (one model, shape and precision); `keep` is never removed."""
    root = cache_root() / kind
    try:
        entries = [p for p in root.rglob("*") if p.is_dir() and not any(c.is_dir() for c in
                                                                         p.iterdir())]
        sized = [(p.stat().st_mtime, _size(p), p) for p in entries]
    except OSError:
        return
    total = sum(size for _, size, _ in sized)
    for _, size, folder in sorted(sized):
        if total <= limit:
            return
        if folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
