"""The training degradation pipeline: shapes, seeds, its config, and resume with it on."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from uprez.runtime import degradations as ops
from uprez.trainer import config_io, degrade
from uprez.trainer.config import Config, DegradationConfig, DegradationStage
from uprez.trainer.data import PatchDataset, data_spec
from uprez.trainer.presets import PRESETS, preset_path
from uprez.trainer.run import run_training

from .conftest import smooth_image, tiny_config, write_images


def hr_region(size=96):
    return smooth_image(np.random.default_rng(0), size, size).astype(np.float32) / 255


def test_the_pipeline_makes_an_lr_image_of_the_asked_for_size_on_8_bit_levels():
    for seed in range(20):
        lr = degrade.degrade(hr_region(), (24, 24), DegradationConfig(enabled=True),
                             np.random.default_rng(seed))
        assert lr.shape == (24, 24, 3) and lr.dtype == np.float32
        assert lr.min() >= 0 and lr.max() <= 1
        np.testing.assert_array_equal(lr * 255, np.rint(lr * 255))


def test_the_pipeline_is_a_function_of_its_generator():
    config = DegradationConfig(enabled=True)
    runs = [degrade.degrade(hr_region(), (24, 24), config, np.random.default_rng(s))
            for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def off(**changes) -> DegradationStage:
    return dataclasses.replace(DegradationStage(prob=1.0, blur_prob=0.0, noise_prob=0.0,
                                                jpeg_prob=0.0, resize={"keep": 1.0}), **changes)


def test_with_every_step_off_it_is_the_final_resize_alone():
    config = DegradationConfig(enabled=True, first=off(), second=off(prob=0.0),
                               final_resize_modes={"matlab": 1.0}, final_sinc_prob=0.0,
                               final_jpeg_prob=0.0)
    image = hr_region()
    lr = degrade.degrade(image, (24, 24), config, np.random.default_rng(0))
    expected = ops.to_uint8(ops.resize(image, 24, 24, "matlab")) / np.float32(255)
    np.testing.assert_allclose(lr, expected, atol=1e-7)


def test_the_second_stage_brings_the_image_to_the_lr_size_before_its_noise():
    config = DegradationConfig(enabled=True, first=off(),
                               second=off(noise_prob=1.0, gaussian_noise_prob=1.0,
                                          noise_sigma=[20.0, 20.0], resize_modes={"area": 1}),
                               final_resize_modes={"matlab": 1.0}, final_sinc_prob=0.0,
                               final_jpeg_prob=0.0)
    flat = np.full((96, 96, 3), 0.5, np.float32)
    lr = degrade.degrade(flat, (24, 24), config, np.random.default_rng(0))
    # noise added at the LR size keeps its sigma; added at HR and then shrunk it would be ~4x less
    assert (lr * 255).std() == pytest.approx(20, rel=0.1)


def test_sampled_kernels_are_normalised_and_of_the_configured_sizes():
    stage = DegradationStage(kernel_size=[9, 13], sinc_prob=0.3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        kernel = degrade.sample_kernel(stage, rng)
        assert kernel.shape[0] in (9, 11, 13) and kernel.sum() == pytest.approx(1, abs=1e-5)


def test_the_clean_share_is_the_matlab_bicubic_patch(tmp_path):
    hr = write_images(tmp_path / "hr", [(64, 64)])
    clean = tiny_config(hr, None, "data.augment=false")
    always_clean = tiny_config(hr, None, "data.augment=false", "degradation.enabled=true",
                               "degradation.clean_prob=1.0")
    degraded = tiny_config(hr, None, "data.augment=false", "degradation.enabled=true")
    samples = [PatchDataset(data_spec(c, 0))[3] for c in (clean, always_clean, degraded)]
    assert torch.equal(samples[0][1], samples[1][1])  # same HR crop
    assert torch.equal(samples[0][0], samples[1][0])  # and the same bicubic LR
    assert torch.equal(samples[0][1], samples[2][1])
    assert not torch.equal(samples[0][0], samples[2][0])
    assert samples[2][0].shape == samples[0][0].shape


def test_sharpening_changes_the_hr_target_only(tmp_path):
    hr = write_images(tmp_path / "hr", [(64, 64)])
    plain = tiny_config(hr, None, "degradation.enabled=true")
    sharp = tiny_config(hr, None, "degradation.enabled=true", "degradation.sharpen_hr=true",
                        "degradation.sharpen_radius=5")
    (lr_a, hr_a), (lr_b, hr_b) = (PatchDataset(data_spec(c, 0))[1] for c in (plain, sharp))
    assert torch.equal(lr_a, lr_b) and not torch.equal(hr_a, hr_b)


def test_nested_degradation_settings_round_trip_through_toml_and_set(tmp_path):
    config = config_io.apply_overrides(Config(), [
        "degradation.enabled=true", "degradation.first.noise_prob=0.25",
        "degradation.second.kernels.iso=2.0", "degradation.final_jpeg_quality=[40, 90]"])
    assert config.degradation.first.noise_prob == 0.25
    assert config.degradation.second.kernels["iso"] == 2.0
    assert config.degradation.second.kernels["aniso"] == 0.25  # the other weights stay
    text = config_io.to_toml(config)
    assert "[degradation.first]" in text and "[degradation.second]" in text
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert config_io.load_toml(Config(), path) == config


@pytest.mark.parametrize("setting, message", [
    ("degradation.frist.noise_prob=0.1", "unknown key 'frist'.*did you mean 'first'"),
    ("degradation.first.noise_prop=0.1", "unknown key 'noise_prop' in \\[degradation.first\\]"),
    ("degradation.first.noise_prob='x'", "degradation.first.noise_prob must be a number"),
    ("degradation.first.noise_prob=1.5", "degradation.first.noise_prob must be a probability"),
    ("degradation.first.kernels.disc=1", "degradation.first.kernels: unknown name\\(s\\) disc"),
    ("degradation.second.kernel_size=[8, 8]", "kernel_size must be"),
    ("degradation.final_jpeg_quality=[95, 30]", "final_jpeg_quality must be \\[low, high\\]"),
    ("degradation.final_resize_modes={ nearest = 1.0 }", "unknown name\\(s\\) nearest"),
    ("degradation.clean_prob.x=1", "degradation.clean_prob is not a table"),
])
def test_bad_degradation_settings_are_config_errors_naming_the_key(setting, message):
    with pytest.raises(config_io.ConfigError, match=message):
        config = config_io.apply_overrides(Config(), [setting])
        config_io.validate(config)


def test_degradations_need_lr_made_from_hr(tmp_path):
    config = config_io.apply_overrides(Config(), ["degradation.enabled=true", 'data.hr="a"',
                                                  'data.lr="b"'])
    with pytest.raises(config_io.ConfigError, match="cannot be used with pre-made --lr/--hr"):
        config_io.validate(config)


def test_real_presets_turn_degradations_on_and_paper_presets_leave_them_off():
    for name in PRESETS:
        config = config_io.load_toml(Config(), preset_path(name))
        config_io.validate(config)
        assert config.degradation.enabled == name.startswith("real-"), name


def test_resume_is_bit_identical_with_degradations_on(tmp_path):
    hr = write_images(tmp_path / "hr", [(64, 64), (48, 56)])
    config = tiny_config(hr, None, "degradation.enabled=true", "degradation.clean_prob=0.2",
                         "psnr.steps=4", "train.checkpoint_every=2", "train.keep_checkpoints=5")
    straight = run_training(config, tmp_path / "straight")
    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "straight" / "checkpoints" / "psnr_00000002.pth",
                resumed_dir / "checkpoints")
    resumed = run_training(config, resumed_dir, resume=True)
    for name, value in straight["params"].items():
        assert torch.equal(value, resumed["params"][name]), name
