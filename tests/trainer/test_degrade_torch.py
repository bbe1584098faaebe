"""The torch executor of degradation plans (degrade_torch), against the numpy/OpenCV one.

Blur, resize and quantize must give the numpy executor's result within float rounding (MATLAB
resize bit for bit). Noise comes from torch generators, so it is compared by its statistics, not
its values. These run on the CPU; on CUDA the same code runs on another device.
"""

from __future__ import annotations

import dataclasses
import math
import shutil

import cv2
import numpy as np
import pytest
import torch

from uprez.runtime import degradations as ops
from uprez.trainer import degrade, degrade_torch
from uprez.trainer.config import DegradationConfig
from uprez.trainer.data import PatchDataset, Planned, collate, data_spec
from uprez.trainer.degrade import Step
from uprez.trainer.run import run_training
from uprez.trainer.step import training_pair

from .conftest import smooth_image, tiny_config, write_images


def photo(height, width, seed=0):
    return smooth_image(np.random.default_rng(seed), height, width).astype(np.float32) / 255


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def hwc(tensor: torch.Tensor) -> np.ndarray:
    return tensor.numpy().transpose(1, 2, 0)


def both(image: np.ndarray, steps: list[Step]) -> tuple[np.ndarray, np.ndarray]:
    """The numpy executor's result and the torch executor's, HWC."""
    return degrade.run(image, steps), hwc(degrade_torch.run_batch([chw(image)], [steps])[0])


@pytest.mark.parametrize("pad, size", [(1, 5), (3, 4), (10, 4), (20, 3), (7, 2), (5, 1)])
def test_reflect_101_padding_is_opencvs_even_past_the_image_size(pad, size):
    image = np.random.default_rng(0).random((size, size + 1, 3)).astype(np.float32)
    expected = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    padded = degrade_torch.reflect_101(chw(image)[None], pad)[0]
    np.testing.assert_array_equal(hwc(padded), expected.reshape(hwc(padded).shape))


def test_blur_with_one_kernel_per_sample_matches_opencv():
    kernels = [ops.gaussian_kernel(21, 2.5, 0.7, 0.6), ops.sinc_kernel(13, math.pi / 3),
               ops.plateau_kernel(7, 1.2, 1.2, 0.0, 1.5),
               ops.generalized_gaussian_kernel(41, 3.0, 1.0, -1.0, 0.7)]
    for shape in ((48, 40), (5, 4)):  # the small one is narrower than most kernels' radius
        images = [photo(*shape, seed) for seed in range(len(kernels))]
        batch = torch.stack([chw(image) for image in images])
        out = degrade_torch.blur(batch, kernels)  # one grouped convolution, kernels padded to 41
        for image, kernel, blurred in zip(images, kernels, out, strict=True):
            np.testing.assert_allclose(hwc(blurred), ops.blur(image, kernel), atol=1e-5)


def test_blur_leaves_the_tf32_setting_as_it_found_it():
    before = torch.backends.cudnn.conv.fp32_precision
    degrade_torch.blur(chw(photo(8, 8))[None], [ops.gaussian_kernel(3, 1.0)])
    assert torch.backends.cudnn.conv.fp32_precision == before


SIZES = [(20, 30), (13, 17), (100, 90), (26, 80), (60, 60), (48, 67), (106, 134), (4, 4),
         (47, 67), (49, 67)]  # down, up, both, one axis each way, whole factors, 1 px off


@pytest.mark.parametrize("mode", ops.RESIZE_MODES)
def test_resize_matches_the_numpy_executor_in_every_mode(mode):
    image = photo(48, 67)
    for size in SIZES:
        expected, got = both(image, [Step("resize", size=size, mode=mode)])
        assert got.shape == expected.shape
        if mode == "matlab":  # runtime.resize's weights, tap by tap in float64
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"{mode} to {size}")


def test_opencv_area_shrinking_by_a_fraction_weighs_pixels_by_coverage():
    # torch's own "area" (adaptive average pooling) counts cut pixels whole; OpenCV does not
    image = photo(30, 30)
    expected = ops.resize(image, 14, 14, "area")
    ours = hwc(degrade_torch.resize(chw(image)[None], 14, 14, "area")[0])
    pooled = hwc(torch.nn.functional.interpolate(chw(image)[None], (14, 14), mode="area")[0])
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert np.abs(pooled - expected).max() > 1e-3


def test_quantize_is_exactly_the_numpy_rounding():
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32) * 1.2 - 0.1
    image[0, :4, 0] = np.array([0.5, 1.5, 2.5, 3.5]) / 255  # halves round to even
    expected, got = both(image, [Step("quantize")])
    np.testing.assert_array_equal(got, expected)


def test_jpeg_is_the_runtimes_libjpeg_call():
    image = photo(40, 56)
    expected, got = both(image, [Step("jpeg", quality=40)])
    np.testing.assert_array_equal(got, expected)


def noise(kind, amount, gray, seed=7):
    return Step("noise", kind=kind, amount=amount, gray=gray, seed=seed)


@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_has_the_asked_for_sigma_but_not_numpys_values(gray):
    flat = np.full((96, 96, 3), 0.5, np.float32)
    expected, got = both(flat, [noise("gaussian", 12.0, gray)])
    for result in (expected, got):
        assert (result * 255).std() == pytest.approx(12.0, rel=0.05)
        assert (result * 255).mean() == pytest.approx(127.5, abs=0.5)
        same_in_every_channel = np.array_equal(result[..., 0], result[..., 2])
        assert same_in_every_channel == gray
    assert not np.allclose(got, expected)  # another generator: same statistics, other values


@pytest.mark.parametrize("gray", [False, True])
def test_poisson_noise_grows_with_brightness_like_numpys(gray):
    scale = 2.0
    for level in (0.1, 0.6):
        flat = np.full((96, 96, 3), level, np.float32)
        expected, got = both(flat, [noise("poisson", scale, gray)])
        sigma = scale * math.sqrt(level * 255)  # shot noise of level x 255 counts, grey levels
        for result in (expected, got):
            assert (result * 255).std() == pytest.approx(sigma, rel=0.06)
            assert np.array_equal(result[..., 0], result[..., 1]) == gray


def test_noise_is_a_function_of_the_steps_seed():
    image = photo(32, 32)
    runs = [degrade_torch.run_batch([chw(image)], [[noise(kind, 5.0, False, seed)]])[0]
            for kind in ("gaussian", "poisson") for seed in (3, 3, 4)]
    for first, again, other in (runs[:3], runs[3:]):
        assert torch.equal(first, again) and not torch.equal(first, other)
    assert runs[0].min() >= 0 and runs[0].max() <= 1  # clipped, as degrade.run does


def quiet(config: DegradationConfig, **changes) -> DegradationConfig:
    """The config without noise (whose values differ between the executors)."""
    return dataclasses.replace(
        config, first=dataclasses.replace(config.first, noise_prob=0.0),
        second=dataclasses.replace(config.second, noise_prob=0.0), **changes)


def mixed_batch(config: DegradationConfig, count: int = 12):
    """Regions of three shapes, half uint8 and half float; the plans degrade.plan draws."""
    rng = np.random.default_rng(1)
    images, plans = [], []
    for i in range(count):
        h, w = [(96, 96), (80, 64), (64, 100)][i % 3]
        image = smooth_image(rng, h, w)
        images.append(image)
        plans.append(degrade.plan((h, w), (h // 4, w // 4), config, rng))
    inputs = [chw(image) if i % 2 else chw(image.astype(np.float32) / 255)
              for i, image in enumerate(images)]
    expected = [degrade.run(image.astype(np.float32) / 255, plan)
                for image, plan in zip(images, plans, strict=True)]
    return inputs, plans, expected


def test_a_batch_of_mixed_plans_shapes_and_dtypes_matches_the_numpy_executor():
    config = quiet(DegradationConfig(enabled=True), final_jpeg_prob=0.0)
    config = dataclasses.replace(config, first=dataclasses.replace(config.first, jpeg_prob=0.0))
    inputs, plans, expected = mixed_batch(config)
    got = degrade_torch.run_batch(inputs, plans)
    for result, reference, plan in zip(got, expected, plans, strict=True):
        assert result.dtype == torch.float32 and hwc(result).shape == reference.shape
        # float rounding can tip a value across a half level at the final quantize, no further
        assert np.abs(hwc(result) - reference).max() <= 1 / 255 + 1e-6, [s.op for s in plan]
        assert np.mean(hwc(result) != reference) < 0.01


def test_with_jpeg_in_the_chains_most_samples_come_out_identical():
    # a rounding tipped before a JPEG can change a DCT coefficient and with it a block: rare
    inputs, plans, expected = mixed_batch(quiet(DegradationConfig(enabled=True)), count=18)
    got = degrade_torch.run_batch(inputs, plans)
    identical = sum(np.array_equal(hwc(r), e) for r, e in zip(got, expected, strict=True))
    assert identical >= 14
    for result, reference in zip(got, expected, strict=True):
        assert np.abs(hwc(result) - reference).mean() < 2 / 255


def test_whole_default_chains_are_repeatable_and_on_8_bit_levels():
    inputs, plans, _ = mixed_batch(DegradationConfig(enabled=True))
    first, again = (degrade_torch.run_batch(inputs, plans) for _ in range(2))
    for a, b, image in zip(first, again, inputs, strict=True):
        assert torch.equal(a, b)
        assert a.shape[-2:] == (image.shape[-2] // 4, image.shape[-1] // 4)
        assert a.min() >= 0 and a.max() <= 1 and torch.equal(a * 255, torch.round(a * 255))


@pytest.mark.parametrize("setting, device, on_device", [
    ("auto", None, False), ("auto", torch.device("cpu"), False),
    ("auto", torch.device("cuda", 0), True), ("loader", torch.device("cuda", 0), False),
    ("train", torch.device("cpu"), True), ("train", None, True)])
def test_degradation_device_picks_where_the_chains_run(tmp_path, setting, device, on_device):
    config = tiny_config(tmp_path, None, "degradation.enabled=true",
                         f"degradation.device='{setting}'")
    assert data_spec(config, 0, device).degrade_on_device is on_device


def test_planned_patches_made_in_the_step_match_the_loaders(tmp_path):
    hr = write_images(tmp_path / "hr", [(64, 64), (48, 56)])
    settings = ["degradation.enabled=true", "degradation.clean_prob=0.3",
                "degradation.first.noise_prob=0", "degradation.second.noise_prob=0",
                "degradation.first.jpeg_prob=0", "degradation.final_jpeg_prob=0"]
    loader = PatchDataset(data_spec(tiny_config(hr, None, *settings), 0))
    planner = PatchDataset(data_spec(tiny_config(hr, None, *settings,
                                                 "degradation.device='train'"), 0))
    indices = range(12)  # with flips and transposes (data.augment is on)
    made = collate([loader[i] for i in indices])
    planned = collate([planner[i] for i in indices])
    assert 0 < len(planned.planned) < 12 and isinstance(planned.planned[0], Planned)
    assert made.planned == [] and torch.equal(made.hr, planned.hr)
    lr_made, hr_made = training_pair(made, torch.device("cpu"))
    lr_step, hr_step = training_pair(planned, torch.device("cpu"))
    assert torch.equal(hr_made, hr_step) and lr_step.shape == lr_made.shape
    assert (lr_step - lr_made).abs().max() <= 1 / 255 + 1e-6
    assert (lr_step != lr_made).float().mean() < 0.01


def test_resume_is_bit_identical_with_the_chains_run_in_the_step(tmp_path):
    hr = write_images(tmp_path / "hr", [(64, 64), (48, 56)])
    config = tiny_config(hr, None, "degradation.enabled=true", "degradation.clean_prob=0.2",
                         "degradation.device='train'", "psnr.steps=4",
                         "train.checkpoint_every=2", "train.keep_checkpoints=5")
    straight = run_training(config, tmp_path / "straight")
    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "straight" / "checkpoints" / "psnr_00000002.pth",
                resumed_dir / "checkpoints")
    resumed = run_training(config, resumed_dir, resume=True)
    for name, value in straight["params"].items():
        assert torch.equal(value, resumed["params"][name]), name
