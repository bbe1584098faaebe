"""The degradation operations on known inputs, against independent references where one exists."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from uprez.runtime import degradations as ops
from uprez.runtime.degradations import Degradation, image_rng
from uprez.runtime.resize import imresize


@pytest.fixture
def scipy_special():
    return pytest.importorskip("scipy.special", reason="scipy is the reference (dev extra)")


@pytest.fixture
def scipy_stats():
    return pytest.importorskip("scipy.stats", reason="scipy is the reference (dev extra)")


def grid(size):
    r = np.arange(size) - size // 2
    return np.meshgrid(r, r, indexing="xy")


def normalised(kernel):
    return kernel / kernel.sum()


@pytest.mark.parametrize("sigma_x, sigma_y, theta", [(1.0, 1.0, 0.0), (2.5, 0.7, 0.0),
                                                     (2.0, 0.8, 0.6), (0.5, 3.0, -2.1)])
def test_gaussian_kernel_is_the_normal_density_on_the_grid(sigma_x, sigma_y, theta,
                                                          scipy_stats):
    size = 21
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    covariance = rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T
    x, y = grid(size)
    density = scipy_stats.multivariate_normal([0, 0], covariance).pdf(np.dstack([x, y]))
    kernel = ops.gaussian_kernel(size, sigma_x, sigma_y, theta)
    assert kernel.dtype == np.float32 and kernel.shape == (size, size)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(kernel, normalised(density), atol=1e-7)


def test_generalized_and_plateau_kernels_follow_their_formulas():
    x, y = grid(15)
    d2 = (x / 2.0) ** 2 + (y / 2.0) ** 2
    np.testing.assert_allclose(ops.generalized_gaussian_kernel(15, 2.0, 2.0, 0.0, 1.0),
                               ops.gaussian_kernel(15, 2.0), atol=1e-7)  # beta 1 is a Gaussian
    np.testing.assert_allclose(ops.generalized_gaussian_kernel(15, 2.0, 2.0, 0.0, 2.5),
                               normalised(np.exp(-((0.5 * d2) ** 2.5))), atol=1e-7)
    np.testing.assert_allclose(ops.plateau_kernel(15, 2.0, 2.0, 0.0, 1.5),
                               normalised(1 / (1 + d2**1.5)), atol=1e-7)
    flat = ops.generalized_gaussian_kernel(15, 2.0, 2.0, 0.0, 4.0)
    assert flat[7, 7] == pytest.approx(flat[7, 8], rel=1e-3)  # a flat top


def test_bessel_j1_matches_scipy(scipy_special):
    x = np.linspace(0, 60, 4001)
    np.testing.assert_allclose(ops.bessel_j1(x), scipy_special.j1(x), atol=1e-12)
    np.testing.assert_allclose(ops.bessel_j1(np.array([150.0])), scipy_special.j1([150.0]),
                               atol=1e-12)


@pytest.mark.parametrize("size, cutoff", [(7, math.pi / 2), (21, math.pi / 4), (13, math.pi)])
def test_sinc_kernel_is_a_circular_lowpass_that_rings(size, cutoff, scipy_special):
    x, y = grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = cutoff * scipy_special.j1(cutoff * r) / (2 * np.pi * r)
    expected[r == 0] = cutoff**2 / (4 * np.pi)
    kernel = ops.sinc_kernel(size, cutoff)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(kernel, normalised(expected), atol=1e-7)
    if cutoff < math.pi:
        assert kernel.min() < 0  # negative lobes: ringing


def test_kernels_are_checked():
    with pytest.raises(ValueError, match="odd"):
        ops.gaussian_kernel(8, 1.0)
    with pytest.raises(ValueError, match="cutoff"):
        ops.sinc_kernel(7, 4.0)


def test_blur_with_a_gaussian_kernel_matches_opencv_gaussian_blur():
    image = np.random.default_rng(0).random((40, 50, 3), dtype=np.float32)
    ours = ops.blur(image, ops.gaussian_kernel(13, 2.0))
    reference = cv2.GaussianBlur(image, (13, 13), 2.0, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_has_the_asked_for_sigma(gray):
    image = np.full((256, 256, 3), 0.5, np.float32)
    noisy = ops.gaussian_noise(image, 8.0, np.random.default_rng(0), gray=gray)
    noise = (noisy - image) * 255
    assert noise.std() == pytest.approx(8.0, rel=0.02)
    assert abs(noise.mean()) < 0.1
    same_in_channels = np.allclose(noise[..., 0], noise[..., 1])
    assert same_in_channels == gray


def test_poisson_noise_grows_with_brightness_and_scale():
    rng = np.random.default_rng(0)
    dark, bright = (np.full((200, 200, 3), v, np.float32) for v in (16 / 255, 200 / 255))

    def sigma(image, scale):
        return ((ops.poisson_noise(image, scale, rng) - image) * 255).std()

    assert sigma(dark, 1.0) == pytest.approx(4.0, rel=0.05)  # sqrt(16)
    assert sigma(bright, 1.0) == pytest.approx(math.sqrt(200), rel=0.05)
    assert sigma(bright, 2.0) == pytest.approx(2 * math.sqrt(200), rel=0.05)


def photo():
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.random((96, 96, 3), dtype=np.float32), (0, 0), 1.5)
    return np.clip((base - base.min()) / (base.max() - base.min()), 0, 1)


def test_jpeg_error_falls_as_quality_rises_and_is_real_libjpeg():
    image = photo()
    errors = [np.abs(ops.jpeg(image, q) - image).mean() for q in (10, 30, 50, 75, 95)]
    assert errors == sorted(errors, reverse=True) and errors[0] > 3 * errors[-1]
    eight_bit = ops.to_uint8(image)[..., ::-1]
    _, encoded = cv2.imencode(".jpg", eight_bit, [cv2.IMWRITE_JPEG_QUALITY, 60])
    expected = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(ops.to_uint8(ops.jpeg(image, 60)), expected)


@pytest.mark.parametrize("mode", ops.RESIZE_MODES)
def test_resize_modes_give_the_asked_for_size(mode):
    image = photo()
    out = ops.resize(image, 40, 30, mode)
    assert out.shape == (40, 30, 3) and out.dtype == np.float32
    assert abs(out.mean() - image.mean()) < 0.02


def test_matlab_resize_is_the_papers_bicubic_and_opencv_modes_are_opencvs():
    image = photo()
    np.testing.assert_allclose(ops.resize(image, 24, 24, "matlab"),
                               imresize(image, output_shape=(24, 24)), atol=1e-6)
    np.testing.assert_array_equal(ops.resize(image, 24, 24, "area"),
                                  cv2.resize(image, (24, 24), interpolation=cv2.INTER_AREA))


def test_unsharp_mask_raises_edge_contrast_and_leaves_flat_areas():
    image = np.full((120, 120, 3), 0.3, np.float32)
    image[:, 60:] = 0.7
    sharp = ops.unsharp_mask(image, radius=10)
    assert sharp[60, 58, 0] < 0.3 - 0.01 and sharp[60, 61, 0] > 0.7 + 0.01  # overshoot
    np.testing.assert_allclose(sharp[:, :20], image[:, :20], atol=1e-3)


# --- fixed degradations for sr-eval --------------------------------------------------------


def test_degradation_specs_parse_in_order_and_name_themselves():
    assert Degradation.parse("noise=4,jpeg=60").steps == (("noise", 4.0), ("jpeg", 60.0))
    assert Degradation.parse(" JPEG=75 ").name == "jpeg=75"
    assert Degradation.parse("none") == Degradation() and Degradation().name == "none"
    assert Degradation.parse("blur=1.2,graynoise=2").name == "blur=1.2,graynoise=2"


@pytest.mark.parametrize("spec, message", [
    ("jpeg=101", "1..100"), ("jpeg=7.5", "whole number"), ("noise=-1", "0 to 255"),
    ("noise=x", "needs a number"), ("sharpen=2", "is not one of"), ("jpeg", "is not one of"),
])
def test_bad_degradation_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        Degradation.parse(spec)


def test_a_degradation_is_repeatable_per_image_name_and_keeps_shape_and_type():
    bgr = ops.to_uint8(photo())
    spec = Degradation.parse("noise=4,jpeg=60")
    first = spec.apply(bgr, image_rng(0, "a.png"))
    assert first.shape == bgr.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, spec.apply(bgr, image_rng(0, "a.png")))
    assert not np.array_equal(first, spec.apply(bgr, image_rng(0, "b.png")))
    assert not np.array_equal(first, spec.apply(bgr, image_rng(1, "a.png")))


def test_a_degradation_works_on_grey_and_16_bit_images():
    grey = ops.to_uint8(photo()[..., 0])
    assert Degradation.parse("blur=1,jpeg=50").apply(grey, image_rng(0, "g")).shape == grey.shape
    deep = (photo() * 65535).astype(np.uint16)
    out = Degradation.parse("jpeg=90").apply(deep, image_rng(0, "d"))
    assert out.dtype == np.uint16 and np.all(out % 257 == 0)  # 8-bit precision, 16-bit type


def test_eval_jpeg_is_the_same_as_saving_a_jpeg_file():
    bgr = ops.to_uint8(photo())
    _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 75])
    expected = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(Degradation.parse("jpeg=75").apply(bgr, image_rng(0, "x")),
                                  expected)
