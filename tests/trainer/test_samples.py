"""samples/: a bounded number of strips per validation image, each labelled."""

from __future__ import annotations

import cv2
import numpy as np

from uprez.runtime.resize import imresize, mod_crop
from uprez.trainer.run import run_training

from .conftest import tiny_config, write_images


def test_samples_keep_the_newest_strips_of_each_image_each_labelled(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32)])
    val = write_images(tmp_path / "val", [(96, 128), (96, 96)], seed=1)
    config = tiny_config(hr, val, "psnr.steps=5", "val.every=1", "val.num_samples=1",
                         "val.keep_samples=2")
    run_training(config, tmp_path / "run")
    samples = tmp_path / "run" / "samples"
    assert sorted(p.name for p in samples.iterdir()) == [
        "psnr_00000004_img0.png", "psnr_00000005_img0.png"]  # of 6 validations, one image

    strips = [cv2.cvtColor(cv2.imread(str(samples / f"psnr_0000000{step}_img0.png")),
                           cv2.COLOR_BGR2RGB) for step in (4, 5)]
    whole_hr = mod_crop(cv2.cvtColor(cv2.imread(str(val / "img0.png")), cv2.COLOR_BGR2RGB), 2)
    band = strips[0].shape[0] - 96
    assert strips[0].shape == (band + 96, 3 * 128, 3) and 16 <= band <= 40
    # the panels under the captions: bicubic of the LR, (SR), the HR itself
    np.testing.assert_array_equal(strips[0][band:, 256:], whole_hr)
    np.testing.assert_array_equal(strips[0][band:, :128],
                                  imresize(imresize(whole_hr, 1 / 2), 2))
    # each panel's caption band carries text; the SR caption names its step, HR's is the same
    for left in (0, 128, 256):
        caption = strips[0][:band, left:left + 128]
        assert (caption > 200).any() and (caption < 64).mean() > 0.5
    assert not np.array_equal(strips[0][:band, 128:256], strips[1][:band, 128:256])
    np.testing.assert_array_equal(strips[0][:band, 256:], strips[1][:band, 256:])
