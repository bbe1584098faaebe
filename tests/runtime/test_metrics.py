"""PSNR/SSIM/Y against hand-computed values and a plain-loop SSIM written from the formula."""

import math

import numpy as np
import pytest

from tests.runtime.reference_impl import loop_ssim
from uprez.runtime.evaluation.metrics import (
    bgr_to_y,
    psnr,
    psnr_rgb,
    psnr_y,
    rgb_to_y,
    ssim,
    ssim_y,
)


def solid(rgb: tuple[int, int, int], shape=(4, 4), dtype=np.uint8) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=dtype), shape + (3,)).copy()


@pytest.mark.parametrize(("rgb", "expected"), [
    ((0, 0, 0), 16),
    ((255, 255, 255), 235),
    ((255, 0, 0), 81),  # 16 + 65.481
    ((0, 255, 0), 145),  # 16 + 128.553 rounds up
    ((0, 0, 255), 41),  # 16 + 24.966
    ((100, 150, 200), 137),  # 16 + (6548.1 + 19282.95 + 4993.2) / 255 = 136.879
])
def test_y_of_uint8_colours_is_matlab_rgb2ycbcr_rounded(rgb, expected):
    y = rgb_to_y(solid(rgb))
    assert y.dtype == np.float64
    assert np.all(y == expected)
    assert np.all(bgr_to_y(solid(rgb[::-1])) == expected)


def test_y_of_float_is_not_rounded_and_bgr_reverses_channels():
    red_rgb = solid((1.0, 0.0, 0.0), dtype=np.float32)
    assert rgb_to_y(red_rgb)[0, 0] == pytest.approx(81.481, abs=1e-5)
    red_bgr = red_rgb[..., ::-1].copy()
    assert bgr_to_y(red_bgr)[0, 0] == pytest.approx(81.481, abs=1e-5)
    assert rgb_to_y(red_bgr)[0, 0] == pytest.approx(16 + 24.966, abs=1e-5)


def test_y_of_uint16_is_rounded_to_its_own_step():
    red16 = solid((65535, 0, 0), dtype=np.uint16)
    # 81.481 on the 0..255 scale is 20940.617 in uint16 steps of 1/257: rounded to 20941.
    assert rgb_to_y(red16)[0, 0] == pytest.approx(20941 / 257, abs=1e-12)


def test_grey_image_is_treated_as_equal_channels():
    grey = np.full((3, 3), 100, dtype=np.uint8)
    assert np.array_equal(rgb_to_y(grey), rgb_to_y(solid((100, 100, 100), (3, 3))))
    assert np.array_equal(bgr_to_y(grey[..., None]), rgb_to_y(grey))


def test_psnr_of_a_constant_difference_is_20_log10_of_peak_over_it():
    a = np.full((6, 6), 100.0)
    assert psnr(a, a + 5, border=0, max_value=255) == pytest.approx(20 * math.log10(51))
    assert psnr(a, a, border=0, max_value=255) == math.inf


def test_psnr_crops_the_border_before_averaging():
    a = np.zeros((8, 8))
    b = a.copy()
    b[0, :] = 200  # only in the border: invisible after a 2-pixel crop
    assert psnr(a, b, border=2, max_value=255) == math.inf
    b[4, 4] = 10  # one pixel of 16 inside: MSE = 100 / 16 = 6.25
    assert psnr(a, b, border=2, max_value=255) == pytest.approx(10 * math.log10(255**2 / 6.25))


def test_psnr_y_of_a_grey_offset_scales_by_the_luma_sum():
    # Adding d to R, G and B adds (65.481 + 128.553 + 24.966) d = 219 d to Y.
    a = np.full((8, 8, 3), 0.5)
    b = a + 0.1
    expected = 20 * math.log10(255 / 21.9)
    assert psnr_y(a, b, border=1, channel_order="BGR") == pytest.approx(expected)
    assert psnr_y(a, b, border=1, channel_order="RGB") == pytest.approx(expected)


def test_psnr_y_depends_on_the_channel_order():
    a = np.zeros((8, 8, 3))
    b = a.copy()
    b[..., 0] = 0.1  # first channel only: blue in BGR, red in RGB
    assert psnr_y(a, b, border=0, channel_order="BGR") == pytest.approx(
        20 * math.log10(255 / (24.966 * 0.1)))
    assert psnr_y(a, b, border=0, channel_order="RGB") == pytest.approx(
        20 * math.log10(255 / (65.481 * 0.1)))
    with pytest.raises(ValueError):
        psnr_y(a, b, border=0, channel_order="YUV")


def test_psnr_rgb_is_the_same_for_uint8_uint16_and_float_versions_of_an_image():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    expected = psnr(a, b, border=2, max_value=255)
    assert psnr_rgb(a, b, border=2) == pytest.approx(expected)
    assert psnr_rgb(a.astype(np.uint16) * 257, b.astype(np.uint16) * 257,
                    border=2) == pytest.approx(expected)
    assert psnr_rgb(a / 255.0, b / 255.0, border=2) == pytest.approx(expected)


def test_mismatched_or_too_small_images_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)), border=0, max_value=1)
    with pytest.raises(ValueError, match="border"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), border=2, max_value=1)
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((10, 20)), np.zeros((10, 20)), max_value=255)


def test_ssim_matches_the_plain_loop_formula():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (15, 13)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    expected = loop_ssim(a, b, 255.0)
    assert 0.2 < expected < 0.99
    assert ssim(a, b, max_value=255) == pytest.approx(expected, abs=1e-12)


def test_ssim_of_identical_images_is_one_and_of_flat_images_is_the_luminance_term():
    image = np.random.default_rng(6).random((20, 20)) * 255
    assert ssim(image, image, max_value=255) == pytest.approx(1.0, abs=1e-12)
    # Flat images have no variance: SSIM = (2 * 100 * 110 + C1) / (100^2 + 110^2 + C1).
    c1 = (0.01 * 255) ** 2
    flat = ssim(np.full((12, 12), 100.0), np.full((12, 12), 110.0), max_value=255)
    assert flat == pytest.approx((22000 + c1) / (22100 + c1), abs=1e-12)


def test_ssim_y_crops_the_border_and_uses_y():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    b = a.copy()
    b[:3] = 0  # damage confined to a 3-pixel border
    assert ssim_y(a, b, border=3, channel_order="BGR") == pytest.approx(1.0, abs=1e-12)
    b[10, 10] = 0
    expected = loop_ssim(bgr_to_y(a)[3:-3, 3:-3], bgr_to_y(b)[3:-3, 3:-3], 255.0)
    assert ssim_y(a, b, border=3, channel_order="BGR") == pytest.approx(expected, abs=1e-12)
    assert expected < 1.0
