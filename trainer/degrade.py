"""Training LR patches from HR ones with realistic degradations (config section [degradation]).

Real-ESRGAN's "second-order" pipeline (Wang et al., 2021), built on the operations of
`uprez.runtime.degradations` so that training and `sr-eval --degrade` mean the same thing:

    HR -> [first stage]  blur, random resize, noise, JPEG
       -> [second stage] blur, random resize, noise, (JPEG)
       -> [final]        resize to the LR size + sinc filter, and JPEG, in random order
       -> LR (rounded to 8 bits, as a saved image)

Each stage runs with its own probability, and each of its steps too; `clean_prob` of the samples
are made with MATLAB bicubic alone, so one model learns both clean and degraded inputs. Every
draw comes from the sample's own generator (seeded by the run's seed and the sample index), so a
resumed run sees exactly the samples an uninterrupted one would. Chains are planned (`plan`, a
list of `Step`s) in the data loader, then run either there with numpy + OpenCV (`run`, in the
loader's worker processes, beside the training step) or batched on the training device by
degrade_torch (`degradation.device`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uprez.runtime import degradations as ops

from .config import DegradationConfig, DegradationStage

KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_DIRECTIONS = ("up", "down", "keep")
MAX_KERNEL = 41


@dataclass(frozen=True)
class Step:
    """One operation of a sample's degradation chain, with everything drawn for it.

    op is "blur" (kernel), "resize" (size, mode), "noise" (kind "gaussian"/"poisson", amount:
    sigma in grey levels or the Poisson scale, gray, seed of its own generator), "jpeg"
    (quality), or "quantize" (round to 8 bits: the saved LR image).
    """

    op: str
    kernel: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)
    mode: str = ""
    kind: str = ""
    amount: float = 0.0
    gray: bool = False
    seed: int = 0
    quality: int = 0


def degrade(hr: np.ndarray, lr_shape: tuple[int, int], config: DegradationConfig,
            rng: np.random.Generator) -> np.ndarray:
    """An LR image of `lr_shape` (height, width) from a float32 RGB HR image on 0..1."""
    return run(hr, plan(hr.shape[:2], lr_shape, config, rng))


def plan(hr_shape: tuple[int, int], lr_shape: tuple[int, int], config: DegradationConfig,
         rng: np.random.Generator) -> list[Step]:
    """Draw a sample's whole chain from its generator (the pipeline in the module docstring)."""
    steps: list[Step] = []
    shape = tuple(hr_shape)
    if rng.random() < config.first.prob:
        shape = _plan_stage(steps, shape, config.first, rng, reference=tuple(hr_shape))
    if rng.random() < config.second.prob:
        shape = _plan_stage(steps, shape, config.second, rng, reference=tuple(lr_shape))
    _plan_final(steps, tuple(lr_shape), config, rng)
    return steps


def run(image: np.ndarray, steps: list[Step]) -> np.ndarray:
    """Apply a chain with numpy and OpenCV."""
    for step in steps:
        if step.op == "blur":
            image = ops.blur(image, step.kernel)
        elif step.op == "resize":
            image = ops.resize(image, step.size[0], step.size[1], step.mode)
        elif step.op == "noise":
            noise_rng = np.random.default_rng(step.seed)
            add = ops.gaussian_noise if step.kind == "gaussian" else ops.poisson_noise
            image = np.clip(add(image, step.amount, noise_rng, gray=step.gray), 0.0, 1.0)
        elif step.op == "jpeg":
            image = ops.jpeg(image, step.quality)
        elif step.op == "quantize":
            image = ops.to_uint8(image).astype(np.float32) / 255.0
        else:
            raise ValueError(f"unknown degradation step {step.op!r}")
    return image


def _plan_stage(steps: list[Step], shape: tuple[int, int], stage: DegradationStage,
                rng: np.random.Generator, *, reference: tuple[int, int]) -> tuple[int, int]:
    """Blur, resize (to `reference` x a random factor: the first stage's reference is the HR
    size, the second's the LR size), noise and JPEG, each by its chance; the new shape."""
    if rng.random() < stage.blur_prob:
        steps.append(Step("blur", kernel=sample_kernel(stage, rng)))
    direction = _pick(rng, stage.resize)
    low, high = stage.resize_range
    factor = 1.0 if direction == "keep" else rng.uniform(1.0, max(high, 1.0)) \
        if direction == "up" else rng.uniform(min(low, 1.0), 1.0)
    size = (max(4, round(reference[0] * factor)), max(4, round(reference[1] * factor)))
    if size != shape:  # the second stage always comes to the LR size x factor
        steps.append(Step("resize", size=size, mode=_pick(rng, stage.resize_modes)))
        shape = size
    if rng.random() < stage.noise_prob:
        gray = bool(rng.random() < stage.gray_noise_prob)
        if rng.random() < stage.gaussian_noise_prob:
            kind, amount = "gaussian", rng.uniform(*stage.noise_sigma)
        else:
            kind, amount = "poisson", rng.uniform(*stage.poisson_scale)
        steps.append(Step("noise", kind=kind, amount=float(amount), gray=gray,
                          seed=int(rng.integers(2**63))))
    if rng.random() < stage.jpeg_prob:
        steps.append(Step("jpeg", quality=_quality(rng, stage.jpeg_quality)))
    return shape


def _plan_final(steps: list[Step], lr_shape: tuple[int, int], config: DegradationConfig,
                rng: np.random.Generator) -> None:
    resize = Step("resize", size=lr_shape, mode=_pick(rng, config.final_resize_modes))
    sinc = [Step("blur", kernel=_final_sinc(rng))] if rng.random() < config.final_sinc_prob \
        else []
    jpeg = [Step("jpeg", quality=_quality(rng, config.final_jpeg_quality))] \
        if rng.random() < config.final_jpeg_prob else []
    if rng.random() < 0.5:
        steps.extend([resize, *sinc, *jpeg])
    else:
        steps.extend([*jpeg, resize, *sinc])
    steps.append(Step("quantize"))


def sample_kernel(stage: DegradationStage, rng: np.random.Generator) -> np.ndarray:
    """One random blur kernel of the stage's kinds, sizes and ranges."""
    low, high = stage.kernel_size
    size = int(rng.choice(np.arange(low | 1, high + 1, 2)))
    if rng.random() < stage.sinc_prob:
        cutoff = rng.uniform(math.pi / 3 if size < 13 else math.pi / 5, math.pi)
        return ops.sinc_kernel(size, cutoff)
    kind = _pick(rng, stage.kernels)
    sigma_x = rng.uniform(*stage.blur_sigma)
    isotropic = kind.endswith("iso") and not kind.endswith("aniso")
    sigma_y = sigma_x if isotropic else rng.uniform(*stage.blur_sigma)
    theta = 0.0 if isotropic else rng.uniform(-math.pi, math.pi)
    if kind.startswith("generalized"):
        return ops.generalized_gaussian_kernel(size, sigma_x, sigma_y, theta,
                                               _beta(rng, stage.generalized_beta))
    if kind.startswith("plateau"):
        return ops.plateau_kernel(size, sigma_x, sigma_y, theta, _beta(rng, stage.plateau_beta))
    return ops.gaussian_kernel(size, sigma_x, sigma_y, theta)


def _final_sinc(rng: np.random.Generator) -> np.ndarray:
    size = int(rng.choice(np.arange(7, 22, 2)))
    return ops.sinc_kernel(size, rng.uniform(math.pi / 3, math.pi))


def _beta(rng: np.random.Generator, bounds: list[float]) -> float:
    # half the time below 1 (heavier tails), half above (flatter tops), as Real-ESRGAN draws it
    low, high = bounds
    return rng.uniform(low, 1.0) if low < 1.0 and rng.random() < 0.5 else rng.uniform(1.0, high)


def _quality(rng: np.random.Generator, bounds: list[int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sharpen(hr: np.ndarray, config: DegradationConfig) -> np.ndarray:
    """The HR target, unsharp-masked when `sharpen_hr` is on."""
    if not config.sharpen_hr:
        return hr
    return ops.unsharp_mask(hr, weight=config.sharpen_weight, radius=config.sharpen_radius,
                            threshold=config.sharpen_threshold)


# --- checks --------------------------------------------------------------------------------


def check(config: DegradationConfig) -> list[str]:
    """Problems with a [degradation] section, each naming its key; empty when it is sound."""
    problems: list[str] = []
    for name in ("clean_prob", "final_sinc_prob", "final_jpeg_prob"):
        problems += _probability(f"degradation.{name}", getattr(config, name))
    problems += _weights("degradation.final_resize_modes", config.final_resize_modes,
                         ops.RESIZE_MODES)
    problems += _range("degradation.final_jpeg_quality", config.final_jpeg_quality, 1, 100)
    if config.sharpen_radius < 1 or config.sharpen_weight < 0 or config.sharpen_threshold < 0:
        problems.append("degradation.sharpen_radius must be at least 1 and sharpen_weight and "
                        "sharpen_threshold at least 0")
    for stage_name in ("first", "second"):
        problems += _check_stage(f"degradation.{stage_name}", getattr(config, stage_name))
    return problems


def _check_stage(prefix: str, stage: DegradationStage) -> list[str]:
    problems: list[str] = []
    for name in ("prob", "blur_prob", "sinc_prob", "noise_prob", "gaussian_noise_prob",
                 "gray_noise_prob", "jpeg_prob"):
        problems += _probability(f"{prefix}.{name}", getattr(stage, name))
    low, high = stage.kernel_size if len(stage.kernel_size) == 2 else (0, 0)
    if not (len(stage.kernel_size) == 2 and 3 <= low <= high <= MAX_KERNEL
            and (low | 1) <= high):
        problems.append(f"{prefix}.kernel_size must be [low, high] with 3 <= low <= high <= "
                        f"{MAX_KERNEL} and an odd size between, not {stage.kernel_size}")
    problems += _weights(f"{prefix}.kernels", stage.kernels, KERNELS)
    problems += _weights(f"{prefix}.resize", stage.resize, RESIZE_DIRECTIONS)
    problems += _weights(f"{prefix}.resize_modes", stage.resize_modes, ops.RESIZE_MODES)
    problems += _range(f"{prefix}.blur_sigma", stage.blur_sigma, 1e-3, 100)
    problems += _range(f"{prefix}.generalized_beta", stage.generalized_beta, 1e-3, 100)
    problems += _range(f"{prefix}.plateau_beta", stage.plateau_beta, 1e-3, 100)
    problems += _range(f"{prefix}.resize_range", stage.resize_range, 0.05, 8)
    problems += _range(f"{prefix}.noise_sigma", stage.noise_sigma, 0, 255)
    problems += _range(f"{prefix}.poisson_scale", stage.poisson_scale, 0, 100)
    problems += _range(f"{prefix}.jpeg_quality", stage.jpeg_quality, 1, 100)
    return problems


def _probability(key: str, value: float) -> list[str]:
    return [] if 0.0 <= value <= 1.0 else [f"{key} must be a probability in [0, 1], not {value}"]


def _range(key: str, bounds: list, lowest: float, highest: float) -> list[str]:
    if len(bounds) == 2 and lowest <= bounds[0] <= bounds[1] <= highest:
        return []
    return [f"{key} must be [low, high] with {lowest} <= low <= high <= {highest}, not {bounds}"]


def _weights(key: str, weights: dict, names: tuple[str, ...]) -> list[str]:
    unknown = [k for k in weights if k not in names]
    if unknown:
        return [f"{key}: unknown name(s) {', '.join(unknown)}; known: {', '.join(names)}"]
    values = list(weights.values())
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values) \
            or not sum(values) > 0:
        return [f"{key} must map names to weights >= 0 with a positive sum, not {weights}"]
    return []
