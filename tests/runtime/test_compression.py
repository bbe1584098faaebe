"""JPEG history read from pixels: found at the qualities that hurt, never on clean images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from uprez.runtime.compression import estimate_jpeg, quantisation_steps


def photo(height=256, width=320, seed=0) -> np.ndarray:
    """Smooth structure plus fine texture, as a downscaled photo has (BGR uint8)."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 6)
    base = (base - base.min()) / (base.max() - base.min())
    texture = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 0.8)
    return np.clip((0.8 * base + 0.4 * texture) * 220, 0, 255).astype(np.uint8)


def as_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def test_the_quantisation_table_is_libjpegs():
    assert quantisation_steps(50)[0, 0] == 16 and quantisation_steps(50)[7, 7] == 99
    assert quantisation_steps(75)[0, 1] == 6 and quantisation_steps(100).max() == 1


@pytest.mark.parametrize("seed", range(4))
def test_clean_noisy_and_blurred_images_are_not_taken_for_jpeg(seed):
    image = photo(seed=seed)
    noisy = np.clip(image + np.random.default_rng(seed).normal(0, 4, image.shape), 0, 255)
    for candidate in (image, noisy.astype(np.uint8), cv2.GaussianBlur(image, (0, 0), 1.0)):
        estimate = estimate_jpeg(candidate)
        assert not estimate.compressed and estimate.quality is None
        assert estimate.score < 0.15


@pytest.mark.parametrize("quality", [30, 50, 60, 75, 85])
def test_jpeg_is_found_with_its_quality(quality):
    estimate = estimate_jpeg(as_jpeg(photo(), quality))
    assert estimate.compressed
    assert abs(estimate.quality - quality) <= 3


def test_a_jpeg_saved_again_as_png_is_still_found():
    damaged = as_jpeg(photo(), 60)
    ok, png = cv2.imencode(".png", damaged)
    decoded = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    assert estimate_jpeg(decoded).quality == pytest.approx(60, abs=3)


def test_a_cropped_jpeg_is_found_on_its_shifted_grid():
    cropped = as_jpeg(photo(), 70)[3:, 5:]
    assert estimate_jpeg(cropped).quality == pytest.approx(70, abs=3)


def test_grey_16_bit_and_alpha_images_are_read():
    grey = as_jpeg(cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY), 60)
    assert estimate_jpeg(grey).quality == pytest.approx(60, abs=3)
    deep = as_jpeg(photo(), 60).astype(np.uint16) * 257
    assert estimate_jpeg(deep).quality == pytest.approx(60, abs=3)
    bgra = np.dstack([as_jpeg(photo(), 60), np.full((256, 320), 255, np.uint8)])
    assert estimate_jpeg(bgra).quality == pytest.approx(60, abs=3)


def test_tiny_and_flat_images_say_nothing():
    assert not estimate_jpeg(as_jpeg(photo(16, 16), 40)).compressed
    assert not estimate_jpeg(np.full((200, 200, 3), 128, np.uint8)).compressed
