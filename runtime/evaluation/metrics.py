"""PSNR and SSIM with the conventions of super-resolution papers, numpy only.

Images are channel-last arrays: uint8 (0..255), uint16 (0..65535) or float (0..1). Colour
images must say their channel order (`channel_order="BGR"` for OpenCV images, "RGB" for most
others): the luma weights of R and B differ, so a swapped order changes the score silently.

The convention (SRCNN/VDSR/EDSR MATLAB scripts, BasicSR): luma Y of BT.601 as MATLAB's
`rgb2ycbcr` computes it (16..235 on a 0..255 scale, rounded to the integer type of the input),
`border` pixels cropped from every edge (the scale factor), PSNR on a 0..255 peak, and SSIM of
Wang et al. with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, computed only
where the window fits inside the image ('valid' filtering), averaged over the map.
"""

from __future__ import annotations

import math

import numpy as np

# MATLAB rgb2ycbcr, first row of its matrix: Y = 16 + [R G B] . _LUMA with RGB in 0..1.
_LUMA_RGB = np.array([65.481, 128.553, 24.966])
_Y_OFFSET = 16.0
_CHANNEL_ORDERS = ("RGB", "BGR")

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _unit_range(image: np.ndarray) -> np.ndarray:
    """Float64 values on 0..1 from uint8, uint16 or float (already 0..1) images."""
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float64) / 65535.0
    if np.issubdtype(image.dtype, np.floating):
        return image.astype(np.float64, copy=False)
    raise ValueError(f"unsupported image type {image.dtype}: expected uint8, uint16 or float")


def _round_half_up(values: np.ndarray) -> np.ndarray:
    # MATLAB rounds half away from zero; Y is positive.
    return np.floor(values + 0.5)


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image as MATLAB's `rgb2ycbcr`, as float64 on a 0..255 scale.

    `rgb` is HxWx3 in R, G, B order, or HxW / HxWx1 grey (taken as R = G = B). Like MATLAB, the
    Y of a uint8 image is rounded to an integer, that of a uint16 image to a multiple of 1/257
    (its uint16 step), and that of a float image is not rounded.
    """
    if rgb.ndim == 3 and rgb.shape[2] == 1:
        rgb = rgb[..., 0]
    unit = _unit_range(rgb)
    if unit.ndim == 2:
        y = _Y_OFFSET + _LUMA_RGB.sum() * unit
    elif unit.ndim == 3 and unit.shape[2] == 3:
        y = _Y_OFFSET + unit @ _LUMA_RGB
    else:
        raise ValueError(f"expected an HxWx3 colour or HxW grey image, got shape {rgb.shape}")
    if rgb.dtype == np.uint8:
        return _round_half_up(y)
    if rgb.dtype == np.uint16:
        return _round_half_up(y * 257.0) / 257.0
    return y


def bgr_to_y(bgr: np.ndarray) -> np.ndarray:
    """`rgb_to_y` of an image in OpenCV's B, G, R channel order."""
    if bgr.ndim == 3 and bgr.shape[2] == 3:
        bgr = bgr[..., ::-1]
    return rgb_to_y(bgr)


def to_y(image: np.ndarray, channel_order: str) -> np.ndarray:
    """`rgb_to_y` or `bgr_to_y` by name."""
    order = channel_order.upper()
    if order not in _CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be 'RGB' or 'BGR', not {channel_order!r}")
    return rgb_to_y(image) if order == "RGB" else bgr_to_y(image)


def _check_pair(a: np.ndarray, b: np.ndarray, border: int) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    if border < 0:
        raise ValueError(f"border must be >= 0, not {border}")
    if a.ndim < 2 or min(a.shape[:2]) <= 2 * border:
        raise ValueError(f"an image of shape {a.shape} has nothing left after a {border}-pixel "
                         "border crop")


def crop_border(image: np.ndarray, border: int) -> np.ndarray:
    """Drop `border` pixels from every edge (height and width)."""
    if border == 0:
        return image
    return image[border:-border, border:-border]


def psnr(a: np.ndarray, b: np.ndarray, *, border: int, max_value: float) -> float:
    """PSNR in dB of two same-shaped arrays after cropping `border` pixels; inf when equal."""
    _check_pair(a, b, border)
    diff = crop_border(a, border).astype(np.float64) - crop_border(b, border).astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(max_value * max_value / mse)


def psnr_rgb(a: np.ndarray, b: np.ndarray, *, border: int) -> float:
    """PSNR over all channels on a 0..255 scale (any channel order, as long as both agree)."""
    _check_pair(a, b, border)
    return psnr(_unit_range(a) * 255.0, _unit_range(b) * 255.0, border=border, max_value=255.0)


def psnr_y(a: np.ndarray, b: np.ndarray, *, border: int, channel_order: str) -> float:
    """PSNR of the BT.601 Y channels (0..255 peak), the super-resolution paper convention."""
    _check_pair(a, b, border)
    return psnr(to_y(a, channel_order), to_y(b, channel_order), border=border, max_value=255.0)


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian; its outer product is MATLAB's fspecial('gaussian', size, sigma)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    weights = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 2-D filtering where the window fits entirely ('valid' in MATLAB's filter2).

    OpenCV filters the whole image (its border rule is irrelevant) and the rim that the border
    rule touched is cut off.
    """
    import cv2

    half = window.size // 2
    filtered = cv2.sepFilter2D(image, cv2.CV_64F, window, window,
                               borderType=cv2.BORDER_REFLECT)
    return filtered[half:image.shape[0] - half, half:image.shape[1] - half]


def ssim(a: np.ndarray, b: np.ndarray, *, max_value: float) -> float:
    """Mean SSIM of two 2-D arrays (Wang et al. 2004, the original `ssim_index.m`)."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two same-shaped 2-D arrays, got {a.shape} and {b.shape}")
    if min(a.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {a.shape}")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1 = (SSIM_K1 * max_value) ** 2
    c2 = (SSIM_K2 * max_value) ** 2
    window = gaussian_window_1d()
    mu_a = _filter_valid(a, window)
    mu_b = _filter_valid(b, window)
    var_a = _filter_valid(a * a, window) - mu_a * mu_a
    var_b = _filter_valid(b * b, window) - mu_b * mu_b
    cov = _filter_valid(a * b, window) - mu_a * mu_b
    ssim_map = ((2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def ssim_y(a: np.ndarray, b: np.ndarray, *, border: int, channel_order: str) -> float:
    """SSIM of the BT.601 Y channels after cropping `border` pixels, on a 0..255 scale."""
    _check_pair(a, b, border)
    y_a = crop_border(to_y(a, channel_order), border)
    y_b = crop_border(to_y(b, channel_order), border)
    return ssim(y_a, y_b, max_value=255.0)
