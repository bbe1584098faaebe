"""A whole training run: set up once (data, validation set, logs, resume), run the phases,
write generator.pth."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import torch

from uprez.runtime.base import atomic, console, interrupts
from uprez.runtime.base.imageio import ImageReadError
from uprez.runtime.base.weights import CheckpointError

from . import checkpoint as ckpt
from .config import Config
from .config_io import to_toml
from .data import PatchDataset, check_dataset, data_spec
from .distributed import Dist, init_distributed, shutdown
from .init_weights import load_init_weights
from .optimizers import resume_mismatch
from .perceptual import BackboneWeightsError, load_backbone
from .phase import Run, check_discriminator
from .runlog import RunLog
from .schedule import Clock
from .setup import TrainingError, check_amp, format_duration, pick_device, report_rejected
from .train import train_phase
from .validate import ValImage, bicubic_scores, load_val_images


def run_training(config: Config, run_dir: Path, *, resume: bool = False) -> dict:
    """Train as `config` says into `run_dir`; return the final generator checkpoint."""
    run_dir = Path(run_dir)
    use_cuda = config.train.device.startswith("cuda") or (
        config.train.device == "auto" and torch.cuda.is_available())
    dist = init_distributed(use_cuda)
    try:
        # SIGTERM (kill, a cluster scheduler) stops the run as Ctrl-C does: state saved first
        with interrupts.recorded(terminate=True):
            return _run(config, run_dir, resume, dist)
    finally:
        shutdown(dist)


def _run(config: Config, run_dir: Path, resume: bool, dist: Dist) -> dict:
    if not dist.is_main:
        console.set_quiet(True)  # one process speaks (warnings and errors still show)
    device = pick_device(config.train.device, dist.local_rank)
    check_amp(config.train.amp, device)
    phases = list(config.train.phases)
    state = _resume_state(run_dir, config, speak=dist.is_main) if resume else None
    if state is not None and _no_time_left(config, state):
        raise TrainingError(_budget_used_up(config, run_dir, state))
    if not resume and ckpt.latest(run_dir) is not None:
        raise TrainingError(f"{run_dir} already holds a run; continue it with --resume, "
                            f"or pick another --output")
    if dist.is_main:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
        _write_text_atomic(run_dir / "config.toml", to_toml(config))

    # the gan phase's networks first: a problem should not surface after a PSNR phase
    backbone = None
    gan = config.gan
    if "gan" in phases:
        check_discriminator(config)
    if "gan" in phases and gan.perceptual_weight > 0:
        weights = gan.vgg_weights if gan.perceptual_backbone == "vgg19" else gan.resnet_weights
        try:
            backbone = load_backbone(gan.perceptual_backbone, list(gan.perceptual_layers),
                                     weights)
        except BackboneWeightsError as exc:
            raise TrainingError(str(exc)) from None
    dataset = _training_data(config, device, dist)
    val_images, bicubic = _validation_data(config) if config.val.dir and dist.is_main else ([], {})
    log = RunLog(run_dir, resume_at=(state["phase"], state["step"]) if state else None) \
        if dist.is_main else None
    clock = Clock(config.train.max_minutes * 60, {p: config.phase(p).steps for p in phases},
                  elapsed_s=state["elapsed_s"] if state else 0.0)
    run = Run(config=config, run_dir=run_dir, dist=dist, device=device, dataset=dataset,
              val_images=val_images, bicubic=bicubic, log=log, clock=clock,
              backbone=backbone)
    final = _run_phases(run, phases, state)
    if dist.is_main:
        ckpt.save_atomic(final, run_dir / "generator.pth")
        console.info(f"wrote {run_dir / 'generator.pth'} ({final['phase']} phase, step "
                     f"{final['step']}, "
                     f"{'EMA weights included' if final['params_ema'] else 'no EMA'})")
        if not _finished(config, final):
            console.info(f"the time budget ended the run early; to train on: sr-train --output "
                         f"{shlex.quote(str(run_dir))} --resume --max-minutes "
                         f"{math.ceil(clock.elapsed_s / 60 + config.train.max_minutes)}")
    return final


def _resume_state(run_dir: Path, config: Config, *, speak: bool) -> dict:
    """The newest training state of the run that loads whole, for --resume. Checkpoints are
    written atomically, so a damaged one was damaged afterwards (a disk error, a copy cut
    short): it is named and left where it is, and the one before it is used."""
    phases = list(config.train.phases)
    found = ckpt.training_checkpoints(run_dir)
    if not found:
        raise TrainingError(f"--resume: no checkpoint in {run_dir / 'checkpoints'}")
    damaged = []
    for path in reversed(found):
        try:
            state = ckpt.load_training_state(path)
        except CheckpointError as exc:
            damaged.append(str(exc))
            continue
        if state["phase"] not in phases:
            raise TrainingError(f"--resume: {path} is from phase {state['phase']!r}, which "
                                f"train.phases {phases} does not run")
        mismatch = resume_mismatch(config, state)
        if mismatch:
            raise TrainingError(f"--resume: {path}: {mismatch}")
        if speak:
            for reason in damaged:
                console.warn(f"--resume: passing over a damaged checkpoint: {reason}")
            older = ", the newest one that loads" if damaged else ""
            console.info(f"resuming from {path}{older} (phase {state['phase']}, step "
                         f"{state['step']})")
        return state
    raise TrainingError(f"--resume: none of the {len(found)} checkpoints in "
                        f"{run_dir / 'checkpoints'} can be loaded (the newest: {damaged[0]})")


def _finished(config: Config, state: dict) -> bool:
    """Whether the state is the end of the run's last phase."""
    return (state["phase"] == config.train.phases[-1]
            and state["step"] >= config.phase(state["phase"]).steps)


def _no_time_left(config: Config, state: dict) -> bool:
    """Whether a resumed run would stop at once: its time budget is spent, its work is not."""
    budget_s = config.train.max_minutes * 60
    return 0 < budget_s <= state["elapsed_s"] and not _finished(config, state)


def _budget_used_up(config: Config, run_dir: Path, state: dict) -> str:
    """--resume with no time left: say where the run stopped and how to give it more."""
    minutes = config.train.max_minutes
    more = math.ceil(state["elapsed_s"] / 60 + minutes)
    return (f"--resume: the run's time budget (train.max_minutes = {minutes:g}) is used up: it "
            f"stopped at {state['phase']} step {state['step']} of "
            f"{config.phase(state['phase']).steps} after {format_duration(state['elapsed_s'])} "
            f"of training. The budget counts the whole run; to train on, raise it: sr-train "
            f"--output {shlex.quote(str(run_dir))} --resume --max-minutes {more} (or 0 for no "
            "limit)")


def _training_data(config: Config, device: torch.device, dist: Dist) -> PatchDataset:
    try:
        dataset = PatchDataset(data_spec(config, config.train.seed, device))
        report_rejected(dataset.rejected, "training data")
        check_dataset(dataset)
    except ImageReadError as exc:  # the data folder itself
        raise TrainingError(str(exc)) from None
    console.info(f"training on {len(dataset)} images from {config.data.hr}"
                 + (f" paired with {config.data.lr}" if config.data.lr else "")
                 + f" ({dataset.cached_bytes / 2**20:.0f} MiB decoded in RAM), device {device}"
                 + (f", {dist.world} processes" if dist.enabled else "")
                 + (("; degradations made on the training device" if dataset.spec.degrade_on_device
                     else "; degradations made in the loader")
                    if dataset.spec.degradation else ""))
    return dataset


def _validation_data(config: Config) -> tuple[list[ValImage], dict]:
    """The validation images and the mean bicubic scores on them."""
    try:
        val_images, rejected = load_val_images(config.val.dir, config.model.scale,
                                               config.val.center_crop)
    except ImageReadError as exc:
        raise TrainingError(f"val.dir: {exc}") from None
    report_rejected(rejected, "validation data")
    if not val_images:
        raise TrainingError(f"no usable validation images in {config.val.dir}")
    bicubic = bicubic_scores(val_images, config.model.scale)
    console.info(f"validating on {len(val_images)} images every {config.val.every} steps "
                 f"(bicubic: PSNR-Y {bicubic['bicubic_psnr_y']:.2f} dB)")
    return val_images, bicubic


def _run_phases(run: Run, phases: list[str], state: dict | None) -> dict:
    """Each phase in turn; a later phase starts from the previous one's EMA generator.
    Returns the last phase's generator checkpoint."""
    config = run.config
    init = load_init_weights(config) if state is None else None  # resumed: the state has it
    final = None
    first = phases.index(state["phase"]) if state else 0
    for name in phases[first:]:
        resume_state = state if state is not None and state["phase"] == name else None
        if resume_state is not None and resume_state["step"] >= config.phase(name).steps:
            final = ckpt.generator_checkpoint_from_state(resume_state)
            phase_file = run.run_dir / f"generator_{name}.pth"
            if run.dist.is_main and not phase_file.exists():  # stopped before it was written
                ckpt.save_atomic(final, phase_file)
        else:
            if run.clock.run_over():
                console.info(f"time budget used up; phase {name} not started")
                break
            final = train_phase(run, name, init=init, resume=resume_state)
        init = final["params_ema"] or final["params"]
    if final is None:  # a resume without time left stops earlier, in _run
        raise TrainingError(f"nothing was trained: setting up (data, validation images, "
                            f"networks) took the whole time budget (train.max_minutes = "
                            f"{config.train.max_minutes:g}); give a larger --max-minutes")
    return final


def _write_text_atomic(path: Path, text: str) -> None:
    atomic.write_bytes(path, text.encode("utf-8"))
