"""Image degradations: blur kernels, noise, JPEG and resizing, numpy + OpenCV only.

These are the operations that turn a clean image into one like those people actually have
(camera blur, sensor noise, JPEG blocks, repeated resizing). The trainer draws them at random to
make training inputs (`uprez.trainer.degrade`, after Real-ESRGAN's "high-order" pipeline);
`sr-eval --degrade` applies fixed ones to measure a model on degraded inputs. Both use these
functions, so a "JPEG at quality 75" means the same thing in training and in evaluation.

Images here are float32 arrays on 0..1, HxW or HxWxC, unless a function says otherwise.
Kernels are float32, odd-sized and sum to 1.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

# --- blur kernels --------------------------------------------------------------------------


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, not {size}")
    r = np.arange(size, dtype=np.float64) - size // 2
    return np.meshgrid(r, r, indexing="xy")


def _mahalanobis(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """(x, y) C^-1 (x, y)^T on the kernel grid, C the covariance rotated by `theta` radians."""
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError("kernel sigmas must be positive")
    x, y = _grid(size)
    cos, sin = math.cos(theta), math.sin(theta)
    u = cos * x + sin * y  # coordinates along the kernel's own axes
    v = -sin * x + cos * y
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def _normalised(kernel: np.ndarray) -> np.ndarray:
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None,
                    theta: float = 0.0) -> np.ndarray:
    """A Gaussian; isotropic when `sigma_y` is None or equal to `sigma_x`."""
    d2 = _mahalanobis(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalised(np.exp(-0.5 * d2))


def generalized_gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float,
                                beta: float) -> np.ndarray:
    """exp(-(d^2 / 2)^beta): beta < 1 has heavier tails than a Gaussian, beta > 1 a flatter top."""
    d2 = _mahalanobis(size, sigma_x, sigma_y, theta)
    return _normalised(np.exp(-np.power(0.5 * d2, beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float,
                   beta: float) -> np.ndarray:
    """1 / (1 + d^(2 beta)): a flat top with slowly falling sides (defocus-like)."""
    d2 = _mahalanobis(size, sigma_x, sigma_y, theta)
    return _normalised(1.0 / (1.0 + np.power(d2, beta)))


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """The Bessel function J1, from Bessel's integral J1(x) = 1/(2 pi) int cos(t - x sin t) dt.

    The integrand is periodic, so the trapezoidal rule converges exponentially: 128 points are
    exact to float64 rounding for |x| < 60 (kernels need |x| < 50), 256 for |x| < 150. numpy
    has no J1 and the runtime does not depend on scipy.
    """
    x = np.asarray(x, dtype=np.float64)
    points = 128 if not x.size or np.abs(x).max() < 60 else 256 + 2 * int(np.abs(x).max())
    t = np.linspace(-np.pi, np.pi, points, endpoint=False)
    return np.cos(t - x[..., None] * np.sin(t)).mean(axis=-1)


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """An ideal circular low-pass filter cut at `cutoff` (radians per pixel, 0 < cutoff <= pi),
    truncated to size x size: its ripples are the ringing and overshoot of sharpened or
    resampled images."""
    if not 0 < cutoff <= math.pi:
        raise ValueError(f"sinc cutoff must be in (0, pi], not {cutoff}")
    x, y = _grid(size)
    radii, where = np.unique(np.hypot(x, y), return_inverse=True)  # 441 pixels, 66 radii
    with np.errstate(divide="ignore", invalid="ignore"):
        values = cutoff * bessel_j1(cutoff * radii) / (2 * math.pi * radii)
    values[radii == 0] = cutoff**2 / (4 * math.pi)
    kernel = values[where.reshape(x.shape)]
    return _normalised(kernel)


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a kernel to size x size (both odd), centred."""
    pad = (size - kernel.shape[0]) // 2
    if pad < 0:
        raise ValueError(f"kernel of {kernel.shape[0]} px does not fit in {size}")
    return np.pad(kernel, pad)


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter with `kernel`, mirroring the border (OpenCV's BORDER_REFLECT_101)."""
    import cv2

    # filter2D correlates; the kernels here are point-symmetric, so that is a convolution
    out = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


# --- noise ---------------------------------------------------------------------------------


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, *,
                   gray: bool = False) -> np.ndarray:
    """Add Gaussian noise of standard deviation `sigma` grey levels (of 255); `gray` adds the
    same noise to every channel (luminance noise), else each channel gets its own."""
    shape = image.shape[:2] + ((1,) if image.ndim == 3 else ()) if gray else image.shape
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma / 255.0)
    return image + noise


def poisson_noise(image: np.ndarray, scale: float, rng: np.random.Generator, *,
                  gray: bool = False) -> np.ndarray:
    """Add shot noise: photon counts of an 8-bit sensor (value x 255) drawn from a Poisson
    distribution, the difference to the clean image multiplied by `scale`. Brighter pixels get
    more noise in absolute terms, as on a real sensor."""
    base = image
    if gray and image.ndim == 3 and image.shape[2] >= 3:
        base = _luma(image)[..., None]
    counts = np.clip(base, 0.0, 1.0) * 255.0
    noisy = rng.poisson(counts).astype(np.float32)
    noise = (noisy - counts).astype(np.float32) * np.float32(scale / 255.0)
    return image + noise


def _luma(rgb: np.ndarray) -> np.ndarray:
    # the order of the channels does not matter much for noise; BT.601 weights on RGB
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


# --- JPEG ----------------------------------------------------------------------------------


def jpeg(image: np.ndarray, quality: int, *, channel_order: str = "RGB") -> np.ndarray:
    """Encode as JPEG at `quality` (1..100, libjpeg's scale, 4:2:0 chroma) and decode again.

    The float image is rounded to 8 bits first, as any saved image would be. `channel_order`
    says how a colour image is laid out, so that libjpeg's YCbCr conversion is the real one.
    """
    import cv2

    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, not {quality}")
    eight_bit = to_uint8(image)
    colour = eight_bit.ndim == 3 and eight_bit.shape[2] == 3
    if colour and channel_order == "RGB":
        eight_bit = eight_bit[..., ::-1]
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(eight_bit),
                               [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    if colour and channel_order == "RGB":
        decoded = decoded[..., ::-1]
    return decoded.reshape(image.shape).astype(np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """0..1 float to uint8, rounded and saturated."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


# --- resizing ------------------------------------------------------------------------------

RESIZE_MODES = ("area", "bilinear", "bicubic", "matlab")


def resize(image: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    """Resize to height x width: OpenCV's area, bilinear or bicubic (no antialiasing, as most
    software resizes), or `matlab`, MATLAB's antialiased bicubic (the papers' LR images)."""
    import cv2

    if mode == "matlab":
        from uprez.runtime.resize import imresize

        return imresize(image, output_shape=(height, width)).astype(np.float32)
    flags = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
    if mode not in flags:
        raise ValueError(f"resize mode must be one of {', '.join(RESIZE_MODES)}, not {mode!r}")
    out = cv2.resize(image, (width, height), interpolation=flags[mode])
    return out.reshape((height, width) + image.shape[2:])


# --- sharpening ----------------------------------------------------------------------------


def unsharp_mask(image: np.ndarray, *, weight: float = 0.5, radius: int = 50,
                 threshold: float = 10.0) -> np.ndarray:
    """Sharpen by adding `weight` x the detail a Gaussian of `radius` px removes, only where
    that detail exceeds `threshold` grey levels (a soft mask, so flat areas and noise stay)."""
    import cv2

    size = 2 * radius + 1
    smooth = cv2.GaussianBlur(image, (size, size), 0).reshape(image.shape)
    detail = image - smooth
    mask = (np.abs(detail) * 255.0 > threshold).astype(np.float32)
    soft = cv2.GaussianBlur(mask, (size, size), 0).reshape(image.shape)
    sharp = np.clip(image + weight * detail, 0.0, 1.0)
    return soft * sharp + (1.0 - soft) * image


# --- fixed degradations for evaluation (`sr-eval --degrade`) ----------------------------------

DEGRADE_HELP = ("blur=SIGMA (Gaussian, LR pixels), noise=SIGMA (Gaussian colour noise, grey "
                "levels of 255), graynoise=SIGMA (the same in every channel), jpeg=QUALITY "
                "(1..100), applied in the order given; none = clean")


@dataclass(frozen=True)
class Degradation:
    """A fixed chain of operations such as `noise=4,jpeg=60`, applied to an LR image."""

    steps: tuple[tuple[str, float], ...] = ()

    @property
    def name(self) -> str:
        if not self.steps:
            return "none"
        return ",".join(f"{op}={value:g}" for op, value in self.steps)

    @classmethod
    def parse(cls, text: str) -> Degradation:
        """`jpeg=75`, `noise=4,jpeg=60`, `blur=1.2`, `none`; ValueError says what is wrong."""
        text = text.strip().lower()
        if text in ("none", "clean", ""):
            return cls()
        steps = []
        for item in text.split(","):
            op, sep, raw = item.strip().partition("=")
            if not sep or op not in _EVAL_OPS:
                raise ValueError(f"{item.strip()!r} is not one of {DEGRADE_HELP}")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{op} needs a number, not {raw!r}") from None
            if op == "jpeg" and (value != int(value) or not 1 <= value <= 100):
                raise ValueError(f"jpeg quality must be a whole number 1..100, not {raw}")
            if op != "jpeg" and not (math.isfinite(value) and 0 <= value <= 255):
                raise ValueError(f"{op} sigma must be a number from 0 to 255, not {raw}")
            steps.append((op, value))
        return cls(tuple(steps))

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Degrade a uint8/uint16 image in OpenCV layout (grey or BGR); same shape and type.

        JPEG holds 8 bits: a 16-bit image comes back 16-bit with 8-bit precision.
        """
        if not self.steps:
            return image
        top = float(np.iinfo(image.dtype).max)
        work = image.astype(np.float32) / np.float32(top)
        for op, value in self.steps:
            if op == "blur" and value > 0:
                size = 2 * math.ceil(3 * value) + 1
                work = blur(work, gaussian_kernel(size, value))
            elif op in ("noise", "graynoise"):
                work = np.clip(gaussian_noise(work, value, rng, gray=op == "graynoise"), 0, 1)
            elif op == "jpeg":
                work = jpeg(work, int(value), channel_order="BGR")
        return np.clip(np.rint(work * top), 0, top).astype(image.dtype)


_EVAL_OPS = ("blur", "noise", "graynoise", "jpeg")


def image_rng(seed: int, name: str) -> np.random.Generator:
    """The noise generator of one image: the same for the same seed and file name, whatever
    the order or number of images evaluated."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
