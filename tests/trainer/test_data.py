"""Training patches: LR made like a downscaled file, deterministic by index, paired folders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from uprez.runtime.resize import imresize, mod_crop
from uprez.trainer.data import DataSpec, PatchDataset, StepSampler
from uprez.trainer.images import read_rgb

from .conftest import write_images


def spec(hr, lr="", scale=4, patch=32, augment=False, seed=0, cache=2**30):
    return DataSpec(str(hr), str(lr) if lr else "", scale, patch, augment, seed, cache)


def find(image, patch):
    """Every (y, x) where `patch` occurs exactly in `image`."""
    h, w = patch.shape[:2]
    return [(y, x) for y in range(image.shape[0] - h + 1) for x in range(image.shape[1] - w + 1)
            if np.array_equal(image[y:y + h, x:x + w], patch)]


def as_uint8(tensor):
    return (tensor.numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("cache", [2**30, 0])
def test_lr_patch_equals_the_same_crop_of_the_whole_image_downscaled(tmp_path, cache):
    hr_dir = write_images(tmp_path / "hr", [(70, 90)])
    whole_hr = mod_crop(read_rgb(hr_dir / "img0.png"), 4)
    whole_lr = imresize(whole_hr, 1 / 4)
    dataset = PatchDataset(spec(hr_dir, cache=cache))
    for index in range(20):
        lr, hr = (as_uint8(t) for t in dataset[index])
        # find where the HR patch came from, then compare the LR patch with the whole-image LR
        (y, x), = find(whole_hr, hr)
        assert y % 4 == 0 and x % 4 == 0
        np.testing.assert_array_equal(lr, whole_lr[y // 4:y // 4 + 8, x // 4:x // 4 + 8])


def test_samples_are_a_function_of_seed_and_index(tmp_path):
    hr_dir = write_images(tmp_path / "hr", [(64, 64), (80, 48)])
    a, b = PatchDataset(spec(hr_dir, augment=True)), PatchDataset(spec(hr_dir, augment=True))
    other_seed = PatchDataset(spec(hr_dir, augment=True, seed=1))
    for index in (5, 0, 17):
        assert all((x == y).all() for x, y in zip(a[index], b[index], strict=True))
    assert any(not (a[i][1] == other_seed[i][1]).all() for i in range(4))


def test_augmentation_keeps_lr_and_hr_aligned(tmp_path):
    hr_dir = write_images(tmp_path / "hr", [(64, 96)])
    dataset = PatchDataset(spec(hr_dir, augment=True))
    for index in range(12):
        lr, hr = (as_uint8(t) for t in dataset[index])
        # flips and transposes commute with the (symmetric) bicubic downscale of an aligned crop
        assert np.abs(imresize(hr, 1 / 4).astype(int) - lr).mean() < 1.5


def test_each_epoch_visits_every_image_once(tmp_path):
    hr_dir = write_images(tmp_path / "hr", [(32, 32)] * 5)
    dataset = PatchDataset(spec(hr_dir, scale=2, patch=32))
    firsts = [dataset[i][1] for i in range(5)]
    assert len({t.numpy().tobytes() for t in firsts}) == 5


def test_step_sampler_splits_steps_between_processes_and_resumes_mid_run():
    full = list(StepSampler(0, 4, batch_size=2))
    assert full == list(range(8))
    assert list(StepSampler(2, 4, batch_size=2)) == full[4:]
    rank0 = list(StepSampler(0, 2, 2, rank=0, world=2))
    rank1 = list(StepSampler(0, 2, 2, rank=1, world=2))
    assert rank0 == [0, 1, 4, 5] and rank1 == [2, 3, 6, 7]


def test_paired_folders_match_by_name_and_report_mismatches(tmp_path):
    hr_dir = write_images(tmp_path / "hr", [(64, 64), (64, 64), (64, 64)])
    lr_dir = tmp_path / "lr"
    lr_dir.mkdir()
    for name in ("img0.png", "img1.png"):
        cv2.imwrite(str(lr_dir / name), cv2.resize(cv2.imread(str(hr_dir / name)), (16, 16)))
    cv2.imwrite(str(lr_dir / "img1.png"), np.zeros((20, 16, 3), np.uint8))  # wrong size
    dataset = PatchDataset(spec(hr_dir, lr_dir, patch=32))
    assert len(dataset) == 1
    reasons = {r.path.name: r.reason for r in dataset.rejected}
    assert reasons["img2.png"].startswith("no img2.png in")
    assert reasons["img1.png"] == "64x64 is not 4x its LR 16x20"
    lr, hr = (as_uint8(t) for t in dataset[0])
    whole_lr = cv2.cvtColor(cv2.imread(str(lr_dir / "img0.png")), cv2.COLOR_BGR2RGB)
    whole_hr = read_rgb(hr_dir / "img0.png")
    (y, x), = find(whole_lr, lr)
    np.testing.assert_array_equal(hr, whole_hr[4 * y:4 * y + 32, 4 * x:4 * x + 32])
