"""The training configuration: frozen dataclasses, one per TOML section.

A run's config is built in layers: these defaults, then a preset or `--config` TOML file, then
`--set section.key=value` overrides (see config_io). Every field is listed here with its meaning;
a key that is not a field is an error, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Schedule = Literal["cosine", "step", "constant"]
PixelLoss = Literal["l1", "mse", "charbonnier"]


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "compact"  # key of uprez.trainer.archs.ARCHS
    scale: int = 4
    hparams: dict = field(default_factory=dict)  # architecture hyperparameters besides scale
    init: str = ""  # a uprez checkpoint to start the generator from (its EMA weights if any)


@dataclass(frozen=True)
class DataConfig:
    hr: str = ""  # folder of HR images; LR made on the fly by MATLAB bicubic
    lr: str = ""  # folder of matching LR images (paired mode; same file names as in `hr`)
    patch_size: int = 128  # HR patch side in pixels (the LR patch is patch_size / scale)
    batch_size: int = 16  # per process (per GPU under torchrun)
    num_workers: int = -1  # loader processes; -1 picks from the CPU count
    augment: bool = True  # random flips and 90-degree rotations
    cache_mb: int = 4096  # keep decoded images in RAM when they fit in this many MiB


@dataclass(frozen=True)
class TrainConfig:
    phases: list[str] = field(default_factory=lambda: ["psnr"])  # run in this order
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    amp: Literal["none", "bf16", "fp16"] = "none"  # fp16 needs CUDA (uses a GradScaler)
    compile: bool = False  # torch.compile the generator and discriminator
    ema_decay: float = 0.999  # 0 turns the EMA generator off
    grad_clip: float = 0.0  # max gradient norm; 0 = no clipping
    max_bad_steps: int = 20  # abort after this many non-finite steps in a row
    log_every: int = 20  # steps between loss records in metrics.jsonl
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3  # older training-state checkpoints are deleted
    max_minutes: float = 0.0  # wall-clock budget for the whole run; 0 = none


@dataclass(frozen=True)
class ValConfig:
    dir: str = ""  # folder of HR validation images; empty = no validation
    every: int = 1000  # steps between validations (and always at the end of a phase)
    num_samples: int = 3  # images saved as LR-bicubic | SR | HR strips
    center_crop: int = 0  # validate on a centre crop of this HR size; 0 = whole image


@dataclass(frozen=True)
class PhaseConfig:
    """Optimiser, schedule and pixel loss: what every phase has."""

    steps: int = 100_000
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay: float = 0.0
    schedule: Schedule = "cosine"
    warmup_steps: int = 0
    milestones: list[int] = field(default_factory=list)  # "step" schedule: multiply by gamma
    gamma: float = 0.5
    min_lr: float = 1e-7  # "cosine" schedule floor
    pixel_loss: PixelLoss = "l1"
    pixel_weight: float = 1.0


@dataclass(frozen=True)
class PsnrConfig(PhaseConfig):
    pass


@dataclass(frozen=True)
class GanConfig(PhaseConfig):
    pixel_weight: float = 1e-2
    lr: float = 1e-4
    lr_d: float = 1e-4
    betas_d: list[float] = field(default_factory=lambda: [0.9, 0.99])
    disc_arch: str = "vgg"  # key of uprez.trainer.archs.DISCRIMINATORS
    disc_hparams: dict = field(default_factory=dict)
    gan_type: Literal["vanilla", "ragan"] = "ragan"  # ragan = relativistic average (ESRGAN)
    gan_weight: float = 5e-3
    perceptual_layers: dict = field(default_factory=lambda: {"conv5_4": 1.0})  # VGG19 layer names
    perceptual_weight: float = 1.0
    perceptual_loss: Literal["l1", "mse"] = "l1"
    vgg_weights: str = ""  # torchvision vgg19 state dict; empty = torch hub cache / download


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    val: ValConfig = field(default_factory=ValConfig)
    psnr: PsnrConfig = field(default_factory=PsnrConfig)
    gan: GanConfig = field(default_factory=GanConfig)

    def phase(self, name: str) -> PhaseConfig:
        return {"psnr": self.psnr, "gan": self.gan}[name]
