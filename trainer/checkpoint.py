"""The checkpoint formats, written and read here, and their files in a run folder.

Two formats, both dicts with `format = "uprez-checkpoint"` and `format_version`, holding only
plain types and tensors, so `torch.load(weights_only=True)` reads them back (no pickled code
runs); both are saved atomically.

The generator checkpoint (`RUN/generator.pth`, `RUN/generator_<phase>.pth`; sr-export reads it):
    arch, hparams        how to rebuild the generator: `build_generator(arch, **hparams)`
    params, params_ema   its weights, and its EMA weights (None without EMA)
    step, phase          where in training they were taken
    config               the resolved training config, a dict of its sections

The training state (`RUN/checkpoints/<phase>_<step:08d>.pth`; --resume reads it): the generator
checkpoint's keys, and
    optimizers           {"g": the generator's optimiser state, "d": the discriminator's (gan
                         phase)}
    optimizer_names      {"g": "adam", "d": ...}: which optimisers those are (trainer/optimizers;
                         absent in states written before there was a choice: Adam)
    schedulers           {"kind": the phase's schedule, "stateless": True}: the learning rate is a
                         function of step and clock, so there is nothing else to keep
    scaler               the fp16 GradScaler's state
    ema                  {"decay", "updates"} of the EMA (its weights are params_ema)
    rng                  the torch, CUDA, numpy and Python RNG states
    elapsed_s            training seconds of the whole run so far (for the time budget)
    phase_start_s        elapsed_s when this phase started
    disc_arch, disc_hparams, disc_params    the discriminator (gan phase only)
"""

from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from uprez.runtime.base import atomic
from uprez.runtime.base.console import first_line
from uprez.runtime.base.weights import CheckpointError

from .config import PHASES, Config
from .config_io import to_dict
from .schedule import Clock

if TYPE_CHECKING:
    from .phase import PhaseModels

FORMAT = "uprez-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(rf"^({'|'.join(PHASES)})_(\d{{8}})\.pth$")


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


TRAINING_KEYS = ("optimizers", "schedulers", "scaler", "ema", "rng", "elapsed_s",
                 "phase_start_s")
GAN_KEYS = ("disc_arch", "disc_hparams", "disc_params")


def load_training_state(path: Path) -> dict:
    """A training-state checkpoint, checked whole: CheckpointError when it cannot be read or
    lacks a part, in one line."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise CheckpointError(f"{path}: {exc.strerror or exc}") from None
    # torch.save writes a zip archive; torch's own errors for a file cut short are paragraphs
    # (one of them advises weights_only=False, which would run pickled code)
    if size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: damaged or cut short (not the whole zip archive that "
                              "torch.save writes)")
    try:
        state = load(path)
    except CheckpointError as exc:
        raise CheckpointError(first_line(exc)) from None
    missing = [key for key in GENERATOR_KEYS + TRAINING_KEYS if key not in state]
    if state.get("phase") == "gan":
        missing += [key for key in GAN_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a whole training state (no {', '.join(missing)})")
    return state


def training_state(models: PhaseModels, *, step: int, config: Config, clock: Clock) -> dict:
    """The training-state checkpoint of a phase at `step` (see the module docstring)."""
    state = generator_checkpoint(models.generator, models.ema.model if models.ema else None,
                                 step=step, phase=models.name, config=to_dict(config))
    optimizers = {"g": models.opt_g.state_dict()}
    names = {"g": config.phase(models.name).optimizer}
    if models.is_gan:
        optimizers["d"] = models.opt_d.state_dict()
        names["d"] = config.gan.optimizer_d
    state.update(
        optimizers=optimizers, optimizer_names=names,
        schedulers={"kind": config.phase(models.name).schedule, "stateless": True},
        scaler=models.scaler.state_dict(),
        ema=models.ema.state_dict() if models.ema else None,
        rng=rng_state(), elapsed_s=clock.elapsed_s, phase_start_s=clock.phase_start_s,
    )
    if models.is_gan:
        state.update(disc_arch=config.gan.disc_arch, disc_hparams=dict(models.disc.hparams),
                     disc_params={k: v.detach().cpu() for k, v in models.disc.state_dict().items()})
    return state


def restore_training_state(models: PhaseModels, state: dict, clock: Clock,
                           config: Config) -> int:
    """Put a training state back into freshly built models (weights, optimiser moments, EMA,
    loss scale, RNG) and the phase's start into the clock; returns the step to go on from.
    The optimisers keep `config`'s settings (a --set on --resume counts); that they are the
    checkpoint's kinds was checked when the state was picked (optimizers.resume_mismatch)."""
    from .optimizers import apply_settings, choices

    optimizers = choices(config, models.name)
    models.generator.load_state_dict(state["params"])
    if models.ema is not None:
        models.ema.load_state_dict(state["ema"], state["params_ema"] or state["params"])
    models.opt_g.load_state_dict(state["optimizers"]["g"])
    apply_settings(models.opt_g, optimizers["g"])
    if models.is_gan:
        models.disc.load_state_dict(state["disc_params"])
        models.opt_d.load_state_dict(state["optimizers"]["d"])
        apply_settings(models.opt_d, optimizers["d"])
    models.scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    clock.start_phase(state["phase_start_s"])
    return state["step"]


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
    found.sort(key=lambda mp: (PHASES.index(mp[0].group(1)), int(mp[0].group(2))))
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
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
                  "pos": int(numpy_state[2]), "has_gauss": int(numpy_state[3]),
                  "cached_gaussian": float(numpy_state[4])},
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
