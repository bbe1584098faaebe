"""Building a phase: what every phase of a run shares (`Run`), and what one phase trains
(`PhaseModels`): the generator and its EMA, in the gan phase the discriminator and the
perceptual loss, their optimisers, the loss scaler, and the modules as the step calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from uprez.runtime.base.console import first_line

from .archs import build_discriminator, build_generator
from .backbone import FrozenFeatures
from .config import Config
from .data import PatchDataset
from .distributed import Dist
from .ema import EMA
from .optimizers import choices
from .perceptual import PerceptualLoss
from .runlog import RunLog
from .schedule import Clock
from .setup import TrainingError
from .validate import ValImage


@dataclass
class Run:
    """What every phase of a run shares."""

    config: Config
    run_dir: Path
    dist: Dist
    device: torch.device
    dataset: PatchDataset
    val_images: list[ValImage]
    bicubic: dict
    log: RunLog | None  # rank 0 only
    clock: Clock
    backbone: FrozenFeatures | None  # for the perceptual loss of the gan phase


@dataclass
class PhaseModels:
    """What one phase trains; the gan-only parts are None in the psnr phase."""

    name: str  # "psnr" or "gan"
    generator: nn.Module
    ema: EMA | None
    opt_g: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    disc: nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    perceptual: PerceptualLoss | None = None
    # the generator and discriminator as the step calls them: under DDP and torch.compile
    g_train: nn.Module | None = None
    d_train: nn.Module | None = None

    @property
    def is_gan(self) -> bool:
        return self.disc is not None

    @property
    def eval_generator(self) -> nn.Module:
        """What validation and export see: the EMA generator when there is one."""
        return self.ema.model if self.ema is not None else self.generator


def build_phase(run: Run, name: str, init: dict | None) -> PhaseModels:
    """Fresh models, losses and optimisers for phase `name`; the generator starts from `init`
    (weights) when given. The same seed makes the same initial weights on every process."""
    config, device = run.config, run.device
    gan, train = config.gan, config.train
    torch.manual_seed(train.seed)
    generator = _built("model.hparams", build_generator, config.model.arch,
                       scale=config.model.scale, **config.model.hparams)
    if init is not None:
        generator.load_state_dict(init)
    generator.to(device).train()
    ema = EMA(generator, train.ema_decay) if train.ema_decay > 0 else None
    optimizers = choices(config, name)
    opt_g = optimizers["g"].make(generator.parameters())
    disc = opt_d = perceptual = None
    if name == "gan":
        disc = _built("gan.disc_hparams", build_discriminator, gan.disc_arch,
                      **gan.disc_hparams).to(device).train()
        opt_d = optimizers["d"].make(disc.parameters())
        if run.backbone is not None:
            perceptual = PerceptualLoss(run.backbone, gan.perceptual_layers,
                                        gan.perceptual_loss).to(device)
    scaler = torch.amp.GradScaler(device.type, enabled=train.amp == "fp16")
    return PhaseModels(name, generator, ema, opt_g, scaler, disc, opt_d, perceptual)


def check_discriminator(config: Config) -> None:
    """Build the discriminator once before anything is trained: settings of the right type that
    it still refuses (a negative width) stop the run now, not after a whole PSNR phase."""
    gan = config.gan
    _built("gan.disc_hparams", build_discriminator, gan.disc_arch, **gan.disc_hparams)


def _built(key: str, build, arch: str, **hparams) -> nn.Module:
    """`build(arch, **hparams)`; a network that refuses them is a TrainingError naming `key`."""
    try:
        return build(arch, **hparams)
    except (RuntimeError, ValueError) as exc:
        raise TrainingError(f"{key}: {arch} cannot be built with {hparams}: "
                            f"{first_line(exc)}") from None


def wrap_for_training(models: PhaseModels, run: Run) -> None:
    """Set how the step calls the modules: DDP under torchrun, then torch.compile if asked.
    After the weights are final (DDP copies rank 0's to the others when it wraps them)."""
    g_train, d_train = models.generator, models.disc
    if run.dist.enabled:
        ids = [run.device.index] if run.device.type == "cuda" else None
        g_train = DistributedDataParallel(models.generator, device_ids=ids)
        d_train = DistributedDataParallel(models.disc, device_ids=ids) if models.is_gan else None
    if run.config.train.compile:
        g_train = torch.compile(g_train)
        d_train = torch.compile(d_train) if models.is_gan else None
    models.g_train, models.d_train = g_train, d_train


def set_learning_rates(models: PhaseModels, config: Config, factor: float) -> None:
    """Every optimiser at its base learning rate times the schedule's `factor`."""
    for group in models.opt_g.param_groups:
        group["lr"] = config.phase(models.name).lr * factor
    for group in models.opt_d.param_groups if models.is_gan else ():
        group["lr"] = config.gan.lr_d * factor
