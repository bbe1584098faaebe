"""MATLAB-compatible bicubic imresize, checked against hand-derived values and a loop reference."""

import math

import numpy as np
import pytest

from tests.runtime.reference_impl import keys_cubic, reference_imresize
from uprez.runtime.resize import cubic_kernel, imresize, mod_crop


def test_kernel_matches_keys_formula_on_a_grid():
    xs = np.linspace(-3, 3, 121)
    assert np.allclose(cubic_kernel(xs), [keys_cubic(x) for x in xs], atol=1e-15)


def test_upscale_x2_first_pixel_matches_hand_computed_weights():
    # Output pixel 1 sits at input 0.75: taps at distance 1.75, 0.75, 0.25, 1.25 give weights
    # -0.0234375, 0.2265625, 0.8671875, -0.0703125 on pixels x2, x1, x1 (mirrored), x2.
    # So out[0] = 1.09375 * x1 - 0.09375 * x2 = 10.9375 - 1.875.
    line = np.array([[10.0, 20.0, 30.0, 40.0]])
    out = imresize(line, 2)
    assert out.shape == (2, 8)
    assert out[0, 0] == pytest.approx(9.0625, abs=1e-12)
    assert np.allclose(out[0], out[1])


def test_downscale_x2_first_pixel_matches_hand_computed_antialiased_weights():
    # Shrinking by 2 stretches the kernel: h(d) = 0.5 * k(d / 2) at distances 3.5 .. -3.5 from
    # input position 1.5, i.e. weights -0.01171875, -0.03515625, 0.11328125, 0.43359375 (and
    # mirrored) on pixels x3 x2 x1 | x1 x2 x3 x4 x5. Collected:
    # 0.546875 x1 + 0.3984375 x2 + 0.1015625 x3 - 0.03515625 x4 - 0.01171875 x5.
    line = 8.0 * np.arange(16, dtype=np.float64)[:, None]  # a column: x_k = 8 (k - 1)
    out = imresize(line, 0.5)
    assert out.shape == (8, 1)
    assert out[0, 0] == pytest.approx(0.3984375 * 8 + 0.1015625 * 16 - 0.03515625 * 24
                                      - 0.01171875 * 32, abs=1e-12)
    assert out[0, 0] == pytest.approx(3.59375, abs=1e-12)
    # Away from the borders a cubic kernel reproduces a ramp: output x sits at input 2x - 0.5.
    for x in range(3, 7):
        assert out[x - 1, 0] == pytest.approx(8 * (2 * x - 0.5 - 1), abs=1e-9)


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 0.7, 1.5, 2, 3, 4])
def test_float_resize_matches_plain_loop_reference(scale):
    image = np.random.default_rng(1).random((9, 13))
    out = imresize(image, scale)
    expected_shape = (math.ceil(9 * scale), math.ceil(13 * scale))
    assert out.shape == expected_shape
    assert np.allclose(out, reference_imresize(image, expected_shape, (scale, scale)), atol=1e-12)


def test_output_shape_uses_per_axis_scales():
    image = np.random.default_rng(2).random((8, 12))
    out = imresize(image, output_shape=(5, 30))
    assert out.shape == (5, 30)
    assert np.allclose(out, reference_imresize(image, (5, 30), (5 / 8, 30 / 12)), atol=1e-12)


@pytest.mark.parametrize(("shape", "scale", "expected"), [
    ((7, 9), 0.5, (4, 5)),
    ((10, 11), 1 / 3, (4, 4)),
    ((501, 333), 0.25, (126, 84)),
    ((3, 5), 4, (12, 20)),
    # 25 * 2.2 is 55.00000000000001 in double precision, so ceil gives 56: we keep the plain
    # double-precision ceil of MATLAB's imresize.m rather than second-guess it.
    ((25, 10), 2.2, (56, 22)),
])
def test_output_size_is_matlab_ceil_of_size_times_scale(shape, scale, expected):
    assert imresize(np.zeros(shape), scale).shape == expected


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("scale", [0.25, 0.6, 3])
def test_constant_image_stays_constant(dtype, scale):
    image = np.full((10, 14, 3), 77, dtype=dtype)
    out = imresize(image, scale)
    assert out.dtype == dtype
    assert out.shape == (math.ceil(10 * scale), math.ceil(14 * scale), 3)
    assert np.allclose(out, 77, atol=1e-9)


def test_channels_are_resized_independently():
    image = np.random.default_rng(3).random((6, 7, 3))
    out = imresize(image, 2)
    for channel in range(3):
        assert np.allclose(out[..., channel], imresize(image[..., channel], 2))


def test_float_input_is_neither_clipped_nor_rounded():
    step = np.zeros((4, 8), dtype=np.float32)
    step[:, 4:] = 1.0
    out = imresize(step, 3)
    assert out.dtype == np.float32
    assert out.min() < 0 and out.max() > 1  # bicubic overshoot survives
    assert not np.allclose(out, np.round(out))


def test_integer_input_is_saturated():
    step = np.zeros((4, 8), dtype=np.uint8)
    step[:, 4:] = 255
    out = imresize(step, 3)
    assert out.dtype == np.uint8
    floats = imresize(step.astype(np.float64), 3)
    assert floats.min() < 0 and floats.max() > 255
    assert np.array_equal(out, np.floor(np.clip(floats, 0, 255) + 0.5).astype(np.uint8))


def _round_uint8(values):
    return np.floor(np.clip(values, 0, 255) + 0.5).astype(np.uint8)


@pytest.mark.parametrize(("out_shape", "rows_first"), [((4, 40), True), ((40, 4), False)])
def test_uint8_rounds_after_each_pass_smaller_scale_first(out_shape, rows_first):
    image = np.random.default_rng(4).integers(0, 256, (16, 16), dtype=np.uint8)
    floats = image.astype(np.float64)

    def two_pass(first_rows: bool):
        if first_rows:
            middle = _round_uint8(imresize(floats, output_shape=(out_shape[0], 16)))
        else:
            middle = _round_uint8(imresize(floats, output_shape=(16, out_shape[1])))
        return _round_uint8(imresize(middle.astype(np.float64), output_shape=out_shape))

    out = imresize(image, output_shape=out_shape)
    assert np.array_equal(out, two_pass(rows_first))
    # The order and the intermediate rounding are observable, so the check above has teeth.
    assert not np.array_equal(out, two_pass(not rows_first))
    assert not np.array_equal(out, _round_uint8(imresize(floats, output_shape=out_shape)))


def test_bad_arguments_are_rejected():
    image = np.zeros((4, 4))
    with pytest.raises(ValueError):
        imresize(image)
    with pytest.raises(ValueError):
        imresize(image, 2, output_shape=(8, 8))
    with pytest.raises(ValueError):
        imresize(image, -1)
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4), dtype=np.int32), 2)
    with pytest.raises(ValueError):
        imresize(np.zeros((2, 4, 4, 3)), 2)


def test_mod_crop_trims_bottom_and_right_to_a_multiple():
    image = np.arange(10 * 7 * 3).reshape(10, 7, 3)
    cropped = mod_crop(image, 4)
    assert cropped.shape == (8, 4, 3)
    assert np.array_equal(cropped, image[:8, :4])
    assert mod_crop(image, 1).shape == image.shape
    with pytest.raises(ValueError):
        mod_crop(image, 0)
