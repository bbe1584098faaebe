"""Self-describing checkpoints (see briefs: the checkpoint contract), saved atomically.

Only plain types and tensors go in, so `torch.load(weights_only=True)` reads them back.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from uprez.runtime import atomic

FORMAT = "uprez-checkpoint"
FORMAT_VERSION = 1
PHASE_ORDER = ("psnr", "gan")
_NAME = re.compile(r"^(psnr|gan)_(\d{8})\.pth$")


class CheckpointError(ValueError):
    """A checkpoint that is missing or not ours; the message names the file."""


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temp file, renamed over `path` when whole. A failed write (a full disk)
    raises the OSError that says why (atomic_path names `path` in it); torch's own error
    would only say "unexpected pos"."""
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as raw:
        sink = _KeepsWriteError(raw)
        try:
            torch.save(obj, sink)
        except RuntimeError:
            if sink.error is None:
                raise
            raise sink.error from None


class _KeepsWriteError:
    """A file for torch.save that remembers the OSError torch's writer turns into a RuntimeError."""

    def __init__(self, raw):
        self.raw, self.error = raw, None

    def write(self, data) -> int:
        try:
            return self.raw.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        self.raw.flush()


def load_dict(path: Path, error: type[Exception], cannot: str, not_dict: str) -> dict:
    """torch.load a dict without executing pickled code; failures raise `error` with the message
    `cannot` (plus the reason) or `not_dict`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise error(f"{cannot}: {exc}") from None
    if not isinstance(state, dict):
        raise error(not_dict)
    return state


def load(path: Path) -> dict:
    not_ours = f"{path} is not a uprez checkpoint"
    checkpoint = load_dict(path, CheckpointError, f"cannot load checkpoint {path}", not_ours)
    if checkpoint.get("format") != FORMAT:
        raise CheckpointError(not_ours)
    if checkpoint.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {checkpoint['format_version']}; "
                              f"this uprez reads up to {FORMAT_VERSION}: upgrade uprez")
    return checkpoint


def generator_checkpoint(generator: nn.Module, ema: nn.Module | None, *, step: int, phase: str,
                         config: dict) -> dict:
    """What `sr-export` needs: the generator, its EMA, and how to rebuild it."""
    from .archs import spec_of

    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "arch": spec_of(generator).name, "hparams": dict(generator.hparams),
        "params": _cpu_state(generator), "params_ema": _cpu_state(ema) if ema is not None else None,
        "step": step, "phase": phase, "config": config,
    }


GENERATOR_KEYS = ("format", "format_version", "arch", "hparams", "params", "params_ema", "step",
                  "phase", "config")


def generator_checkpoint_from_state(state: dict) -> dict:
    """The generator part of a training-state checkpoint (no optimiser state)."""
    return {key: state[key] for key in GENERATOR_KEYS}


def _cpu_state(module: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def checkpoint_path(run_dir: Path, phase: str, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"{phase}_{step:08d}.pth"


def training_checkpoints(run_dir: Path) -> list[Path]:
    """Training-state checkpoints of a run, oldest first (by phase, then step)."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(m, p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    found.sort(key=lambda mp: (PHASE_ORDER.index(mp[0].group(1)), int(mp[0].group(2))))
    return [p for _, p in found]


def latest(run_dir: Path) -> Path | None:
    checkpoints = training_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def prune(run_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` training checkpoints."""
    for path in training_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)


def rng_state() -> dict:
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "python": [python_state[0], list(python_state[1]), python_state[2]],
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][:torch.cuda.device_count()])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
