"""What a `--frames-dir` folder of PNG frames holds: which run made it and whether it is whole.

A hidden state file records the job's source key (the source, and what shapes the frames:
model, tiling), and `complete` once the last frame is written. So a finished folder is skipped
like any output, an interrupted one is taken up again by `--resume`, and frames of another run
are never mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path

from uprez.runtime.base import atomic, console

STATE_FILE = ".uprez-frames.json"
_FRAME_FILES = "frame_[0-9]*.png"


def is_complete(folder: Path) -> bool:
    return _read_state(folder).get("complete") is True


def start(folder: Path, key: dict, source_name: str, *, resume: bool) -> bool:
    """Get `folder` ready for the frames of the source `key` names (VideoJob.source_key); True
    when the PNGs already there are kept for `--resume`. A finished folder (redone with
    --overwrite), frames from another run, or no --resume: the old frames go, since a shorter
    source would leave some of them behind."""
    state = _read_state(folder)
    keep = resume and state.get("key") == key and state.get("complete") is False
    old = sorted(folder.glob(_FRAME_FILES)) if folder.is_dir() else []
    if not keep:
        if resume and old and not state.get("complete"):
            console.info(f"{source_name}: the frames in {folder} were made with other settings "
                         f"or another source; starting over")
        for path in old:
            path.unlink()
    _write_state(folder, {"key": key, "complete": False})
    return keep


def finish(folder: Path, frames: int) -> None:
    state = _read_state(folder)
    _write_state(folder, {**state, "complete": True, "frames": frames})


def _read_state(folder: Path) -> dict:
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(folder: Path, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(state, indent=1, sort_keys=True) + "\n"
    atomic.write_bytes(folder / STATE_FILE, text.encode())
