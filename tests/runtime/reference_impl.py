"""Plain-loop reference implementations written from the published formulas.

They share no code with uprez.runtime, so the tests compare two independent implementations:
MATLAB's imresize (bicubic, antialiased, symmetric padding), rgb2ycbcr's Y, and SSIM.
"""

import math

import numpy as np


def keys_cubic(x: float) -> float:
    """The kernel written out from Keys (1981) with a = -0.5, independent of the module."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def reflect(index: int, length: int) -> int:
    """1-based index past either edge mirrored with the edge pixel repeated (MATLAB symmetric)."""
    period = 2 * length
    index = (index - 1) % period
    return index if index < length else period - 1 - index


def reference_resize_1d(signal: list[float], out_length: int, scale: float) -> list[float]:
    """Plain-loop MATLAB resize of one line: every input position within the kernel's reach."""
    stretch = min(scale, 1.0)  # antialiasing widens the kernel when shrinking
    out = []
    for x in range(1, out_length + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        reach = math.ceil(2 / stretch) + 1
        total, weight_sum = 0.0, 0.0
        for j in range(math.floor(u) - reach, math.floor(u) + reach + 1):
            weight = stretch * keys_cubic(stretch * (u - j))
            total += weight * signal[reflect(j, len(signal))]
            weight_sum += weight
        out.append(total / weight_sum)
    return out


def reference_imresize(image: np.ndarray, out_shape: tuple[int, int],
                       scales: tuple[float, float]) -> np.ndarray:
    rows = np.array([reference_resize_1d(list(col), out_shape[0], scales[0])
                     for col in image.T]).T
    return np.array([reference_resize_1d(list(row), out_shape[1], scales[1]) for row in rows])


def round_half_up(value: float) -> int:
    """MATLAB's round for positive values."""
    return math.floor(value + 0.5)


def reference_matlab_uint8_resize(image: np.ndarray, scale: float) -> np.ndarray:
    """imresize(uint8 image, scale) on each channel: rows first (equal scales), rounded and
    saturated to uint8 after each pass."""
    out_shape = (math.ceil(image.shape[0] * scale), math.ceil(image.shape[1] * scale))
    channels = []
    for c in range(image.shape[2]):
        plane = image[..., c].astype(float)
        rows = [reference_resize_1d(list(col), out_shape[0], scale) for col in plane.T]
        rows = np.array([[min(255, max(0, round_half_up(v))) for v in col] for col in rows]).T
        cols = [reference_resize_1d(list(row), out_shape[1], scale) for row in rows]
        channels.append([[min(255, max(0, round_half_up(v))) for v in row] for row in cols])
    return np.stack([np.array(c, dtype=np.uint8) for c in channels], axis=-1)


def reference_y_from_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr(uint8)'s Y, pixel by pixel, from an OpenCV BGR image."""
    out = np.zeros(image.shape[:2])
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            b, g, r = (int(v) for v in image[i, j])
            out[i, j] = round_half_up(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255)
    return out


def loop_ssim(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    """SSIM written straight from Wang et al. (2004) with per-window Python loops."""
    half, sigma = 5, 1.5
    window = np.array([[math.exp(-(i * i + j * j) / (2 * sigma * sigma))
                        for j in range(-half, half + 1)] for i in range(-half, half + 1)])
    window /= window.sum()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    values = []
    for y in range(half, a.shape[0] - half):
        for x in range(half, a.shape[1] - half):
            pa = a[y - half:y + half + 1, x - half:x + half + 1]
            pb = b[y - half:y + half + 1, x - half:x + half + 1]
            mu_a, mu_b = (window * pa).sum(), (window * pb).sum()
            var_a = (window * (pa - mu_a) ** 2).sum()
            var_b = (window * (pb - mu_b) ** 2).sum()
            cov = (window * (pa - mu_a) * (pb - mu_b)).sum()
            values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                          / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))
