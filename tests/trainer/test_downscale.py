"""sr-downscale: MATLAB-bicubic LR files, bit depth kept, bad files reported, no torch needed."""

from __future__ import annotations

import signal
import subprocess
import sys

import cv2
import numpy as np
from click.testing import CliRunner

from tests.runtime.test_imageio import with_jpeg_exif
from uprez.runtime.resize import imresize, mod_crop
from uprez.trainer.downscale import main

from .conftest import write_images


def test_lr_files_are_the_matlab_bicubic_of_the_mod_cropped_hr(tmp_path):
    hr = write_images(tmp_path / "hr", [(50, 66)])
    grey16 = (np.arange(40 * 44, dtype=np.uint16).reshape(40, 44) * 37)
    cv2.imwrite(str(hr / "grey16.png"), grey16)
    result = CliRunner().invoke(main, ["-i", str(hr), "-o", str(tmp_path / "lr"), "-s", "4", "-q"])
    assert result.exit_code == 0, result.output
    assert "2 done" in result.output
    lr = cv2.imread(str(tmp_path / "lr" / "img0.png"), cv2.IMREAD_UNCHANGED)
    expected = imresize(mod_crop(cv2.imread(str(hr / "img0.png")), 4), 1 / 4)
    assert lr.shape == (12, 16, 3)
    np.testing.assert_array_equal(lr, expected)
    lr16 = cv2.imread(str(tmp_path / "lr" / "grey16.png"), cv2.IMREAD_UNCHANGED)
    assert lr16.dtype == np.uint16 and lr16.shape == (10, 11)
    np.testing.assert_array_equal(lr16, imresize(grey16, 1 / 4))


def test_bad_files_are_reported_and_the_rest_done_and_existing_outputs_skipped(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32), (16, 16)])
    (hr / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "lr"
    result = CliRunner().invoke(main, ["-i", str(hr), "-o", str(out), "-s", "2"])
    assert result.exit_code == 1
    assert "broken.jpg: not a readable image" in result.output
    assert "2 done, 1 failed" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png"]
    again = CliRunner().invoke(main, ["-i", str(hr), "-o", str(out), "-s", "2"])
    assert "0 done, 2 skipped" in again.output


def test_output_folder_must_not_be_the_input(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32)])
    result = CliRunner().invoke(main, ["-i", str(hr), "-o", str(hr)])
    assert result.exit_code == 2 and "must differ from --input" in result.output


def test_sr_downscale_runs_without_torch(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32)])
    args = ["-i", str(hr), "-o", str(tmp_path / "lr"), "-q"]
    code = ("import sys; sys.modules['torch'] = None; "
            f"from uprez.trainer.downscale import main; main({args!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lr" / "img0.png").exists()


def test_exif_rotated_photo_is_downscaled_upright_like_the_trainer_reads_it(tmp_path):
    from uprez.trainer.images import read_rgb

    hr_dir, lr_dir = tmp_path / "hr", tmp_path / "lr"
    hr_dir.mkdir()
    landscape = np.random.default_rng(0).integers(0, 256, (16, 32, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", landscape, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes()
    (hr_dir / "rotated.jpg").write_bytes(with_jpeg_exif(jpeg, 6))  # 6: rotate 90 degrees clockwise
    result = CliRunner().invoke(main, ["-i", str(hr_dir), "-o", str(lr_dir), "-s", "4"])
    assert result.exit_code == 0, result.output
    upright = read_rgb(hr_dir / "rotated.jpg")
    assert upright.shape[:2] == (32, 16)
    assert cv2.imread(str(lr_dir / "rotated.png")).shape[:2] == (8, 4)


def test_ctrl_c_stops_sr_downscale_before_the_next_image_with_exit_130(tmp_path, monkeypatch):
    from uprez.trainer import downscale

    hr = write_images(tmp_path / "hr", [(32, 32)] * 6)
    done = []

    def interrupted_at_the_second(source, target, scale):
        if len(done) == 1:
            signal.raise_signal(signal.SIGINT)
        downscale_file(source, target, scale)
        done.append(target)

    downscale_file = downscale.downscale_file
    monkeypatch.setattr(downscale, "downscale_file", interrupted_at_the_second)
    result = CliRunner().invoke(main, ["-i", str(hr), "-o", str(tmp_path / "lr"), "-j", "1"])
    assert result.exit_code == 130, result.output
    written = len(list((tmp_path / "lr").iterdir()))
    assert written < 4  # not the whole folder: the pool's queued images were dropped
    assert f"interrupted: {written} done; run the same command again to go on" in result.output
