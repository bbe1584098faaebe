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
resumed run sees exactly the samples an uninterrupted one would. numpy + OpenCV only: it runs in
the data loader's worker processes, beside the training step.
"""

from __future__ import annotations

import math

import numpy as np

from uprez.runtime import degradations as ops

from .config import DegradationConfig, DegradationStage

KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_DIRECTIONS = ("up", "down", "keep")
MAX_KERNEL = 41


def degrade(hr: np.ndarray, lr_shape: tuple[int, int], config: DegradationConfig,
            rng: np.random.Generator) -> np.ndarray:
    """An LR image of `lr_shape` (height, width) from a float32 RGB HR image on 0..1."""
    image = hr
    if rng.random() < config.first.prob:
        image = _stage(image, config.first, rng, reference=hr.shape[:2])
    if rng.random() < config.second.prob:
        image = _stage(image, config.second, rng, reference=lr_shape)
    return _final(image, lr_shape, config, rng)


def _stage(image: np.ndarray, stage: DegradationStage, rng: np.random.Generator, *,
           reference: tuple[int, int]) -> np.ndarray:
    """Blur, resize (to `reference` x a random factor: the first stage's reference is the HR
    size, the second's the LR size), noise and JPEG, each by its chance."""
    if rng.random() < stage.blur_prob:
        image = ops.blur(image, sample_kernel(stage, rng))
    direction = _pick(rng, stage.resize)
    low, high = stage.resize_range
    factor = 1.0 if direction == "keep" else rng.uniform(1.0, max(high, 1.0)) \
        if direction == "up" else rng.uniform(min(low, 1.0), 1.0)
    size = (max(4, round(reference[0] * factor)), max(4, round(reference[1] * factor)))
    if size != image.shape[:2]:  # the second stage always comes to the LR size x factor
        image = ops.resize(image, size[0], size[1], _pick(rng, stage.resize_modes))
    if rng.random() < stage.noise_prob:
        gray = bool(rng.random() < stage.gray_noise_prob)
        if rng.random() < stage.gaussian_noise_prob:
            image = ops.gaussian_noise(image, rng.uniform(*stage.noise_sigma), rng, gray=gray)
        else:
            image = ops.poisson_noise(image, rng.uniform(*stage.poisson_scale), rng, gray=gray)
        image = np.clip(image, 0.0, 1.0)
    if rng.random() < stage.jpeg_prob:
        image = ops.jpeg(image, _quality(rng, stage.jpeg_quality))
    return image


def _final(image: np.ndarray, lr_shape: tuple[int, int], config: DegradationConfig,
           rng: np.random.Generator) -> np.ndarray:
    mode = _pick(rng, config.final_resize_modes)
    sinc = _final_sinc(rng) if rng.random() < config.final_sinc_prob else None
    quality = _quality(rng, config.final_jpeg_quality) \
        if rng.random() < config.final_jpeg_prob else None

    def resize_and_filter(img: np.ndarray) -> np.ndarray:
        img = ops.resize(img, lr_shape[0], lr_shape[1], mode)
        return ops.blur(img, sinc) if sinc is not None else img

    if rng.random() < 0.5:
        image = resize_and_filter(image)
        if quality is not None:
            image = ops.jpeg(image, quality)
    else:
        if quality is not None:
            image = ops.jpeg(image, quality)
        image = resize_and_filter(image)
    return ops.to_uint8(image).astype(np.float32) / 255.0


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
