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
Amp = Literal["none", "bf16", "fp16"]  # mixed precision; fp16 needs CUDA (uses a GradScaler)
DegradeOn = Literal["auto", "loader", "train"]  # where the degradation chains run
PHASES = ("psnr", "gan")  # the phases a run may have, in the order it trains them


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "compact"  # key of uprez.trainer.archs.GENERATORS
    scale: int = 4
    hparams: dict = field(default_factory=dict)  # besides scale; names and types: the ArchSpec
    # weights to start the generator from: a uprez checkpoint or any file sr-export reads (EMA
    # weights if any); sr-train sets arch, scale and hparams from it unless they were given
    init: str = ""


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
    amp: Amp = "none"
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
    num_samples: int = 3  # images saved as labelled LR-bicubic | SR | HR strips (samples/)
    keep_samples: int = 5  # the newest strips kept per image; older ones are deleted
    center_crop: int = 0  # validate on a centre crop of this HR size; 0 = whole image


@dataclass(frozen=True)
class PhaseConfig:
    """Optimiser, schedule and pixel loss: what every phase has."""

    steps: int = 100_000
    # the generator's optimiser: adam, adamw, sgd, adagrad or rmsprop (trainer/optimizers.py)
    optimizer: str = "adam"
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])  # adam and adamw
    weight_decay: float = 0.0
    # what only the chosen optimiser has, e.g. { momentum = 0.9, nesterov = true } for sgd;
    # names, types and defaults: its settings class in trainer/optimizers.py
    optimizer_settings: dict = field(default_factory=dict)
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
    # the discriminator's optimiser, as the generator's above
    optimizer_d: str = "adam"
    lr_d: float = 1e-4
    betas_d: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay_d: float = 0.0
    optimizer_settings_d: dict = field(default_factory=dict)
    disc_arch: str = "vgg"  # key of uprez.trainer.archs.DISCRIMINATORS
    disc_hparams: dict = field(default_factory=dict)  # names and types: the DiscriminatorSpec
    gan_type: Literal["vanilla", "ragan"] = "ragan"  # ragan = relativistic average (ESRGAN)
    gan_weight: float = 5e-3
    # the network whose features the perceptual loss compares: vgg19, resnet50 or resnet152
    # (trainer/perceptual.py), with torchvision's ImageNet weights
    perceptual_backbone: str = "vgg19"
    # its layers and their weights: VGG19 names such as conv5_4 (before ReLU) or relu5_4;
    # ResNet names stem, layer1 .. layer4, or layer3_5 (one block; trainer/resnet.py)
    perceptual_layers: dict = field(default_factory=lambda: {"conv5_4": 1.0})
    perceptual_weight: float = 1.0
    perceptual_loss: Literal["l1", "mse"] = "l1"
    vgg_weights: str = ""  # torchvision vgg19 state dict; empty = torch hub cache / download
    resnet_weights: str = ""  # the same for resnet50/resnet152 (their torchvision state dict)


def _weights(**weights: float):
    return field(default_factory=lambda: dict(weights))


def _pair(low: float, high: float):
    return field(default_factory=lambda: [low, high])


@dataclass(frozen=True)
class DegradationStage:
    """One round of blur, resize, noise and JPEG (Real-ESRGAN's first or second order).

    Ranges are [low, high], drawn uniformly; `*_probs` / `*_modes` tables are relative weights.
    Noise sigmas are in grey levels of 255.
    """

    prob: float = 1.0  # chance that this stage runs at all
    blur_prob: float = 1.0
    kernel_size: list[int] = _pair(7, 21)  # odd sizes in this range
    kernels: dict = _weights(iso=0.45, aniso=0.25, generalized_iso=0.12,
                             generalized_aniso=0.03, plateau_iso=0.12, plateau_aniso=0.03)
    sinc_prob: float = 0.1  # a ringing (sinc) kernel instead of one of `kernels`
    blur_sigma: list[float] = _pair(0.2, 3.0)  # HR pixels
    generalized_beta: list[float] = _pair(0.5, 4.0)
    plateau_beta: list[float] = _pair(1.0, 2.0)
    resize: dict = _weights(up=0.2, down=0.7, keep=0.1)
    resize_range: list[float] = _pair(0.15, 1.5)  # size factor (first stage: of HR; second: of LR)
    resize_modes: dict = _weights(area=1.0, bilinear=1.0, bicubic=1.0)
    noise_prob: float = 1.0
    gaussian_noise_prob: float = 0.5  # else Poisson (shot) noise
    noise_sigma: list[float] = _pair(1.0, 30.0)
    poisson_scale: list[float] = _pair(0.05, 3.0)
    gray_noise_prob: float = 0.4  # same noise in every channel
    jpeg_prob: float = 1.0
    jpeg_quality: list[int] = _pair(30, 95)


def _second_stage() -> DegradationStage:
    return DegradationStage(
        blur_prob=0.8, blur_sigma=[0.2, 1.5], resize={"up": 0.3, "down": 0.4, "keep": 0.3},
        resize_range=[0.3, 1.2], noise_sigma=[1.0, 25.0], poisson_scale=[0.05, 2.5],
        jpeg_prob=0.0)  # the second-order JPEG is the final step's


@dataclass(frozen=True)
class DegradationConfig:
    """How training LR patches are made from HR: MATLAB bicubic when off; when on, Real-ESRGAN's
    second-order pipeline (first stage, second stage, then the final resize to the LR size with a
    sinc filter and JPEG in random order). The defaults are Real-ESRGAN's."""

    enabled: bool = False
    clean_prob: float = 0.0  # share of samples made with MATLAB bicubic only
    first: DegradationStage = field(default_factory=DegradationStage)
    second: DegradationStage = field(default_factory=_second_stage)
    final_resize_modes: dict = _weights(area=1.0, bilinear=1.0, bicubic=1.0)  # + matlab
    final_sinc_prob: float = 0.8
    final_jpeg_prob: float = 1.0
    final_jpeg_quality: list[int] = _pair(30, 95)
    sharpen_hr: bool = False  # unsharp-mask the HR target (sharper, less PSNR-faithful output)
    sharpen_weight: float = 0.5
    sharpen_radius: int = 50
    sharpen_threshold: float = 10.0  # grey levels
    # where the chains run: "loader" (numpy/OpenCV in the loader processes), "train" (torch on
    # the training device, batched, JPEG on the CPU: trainer/degrade_torch.py), "auto" (train
    # when training on CUDA, else loader). The same draws either way; the LR differs by float
    # rounding and by the noise generator's values (see degrade_torch)
    device: DegradeOn = "auto"


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    val: ValConfig = field(default_factory=ValConfig)
    psnr: PsnrConfig = field(default_factory=PsnrConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)

    def phase(self, name: str) -> PhaseConfig:
        return {"psnr": self.psnr, "gan": self.gan}[name]
