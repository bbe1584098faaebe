"""Empty and truncated image files among training, validation and sr-downscale inputs: skipped by
name with the runtime reader's reason, once each, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from uprez.runtime.base.imageio import ImageReadError, read_image
from uprez.trainer.cli import cli

from .conftest import write_images


def _add_bad_files(folder):
    """A zero-byte PNG and a PNG cut in half, named to sort first; their reasons as sr-run
    would give them."""
    whole = (folder / "img0.png").read_bytes()
    (folder / "a_empty.png").write_bytes(b"")
    (folder / "a_truncated.png").write_bytes(whole[:len(whole) // 2])
    reasons = {}
    for name in ("a_empty.png", "a_truncated.png"):
        with pytest.raises(ImageReadError) as refused:
            read_image(folder / name)
        reasons[name] = refused.value.reason
    return reasons


def test_empty_and_truncated_images_in_data_and_val_are_skipped_by_name(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32), (40, 40)])
    val = write_images(tmp_path / "val", [(32, 32)], seed=1)
    reasons = _add_bad_files(hr) | _add_bad_files(val)
    assert reasons["a_empty.png"] == "empty file (0 bytes)"
    result = CliRunner().invoke(cli, [
        "--preset", "compact-x2", "--data", str(hr), "--val", str(val), "--output",
        str(tmp_path / "run"), "--set", "psnr.steps=1", "--set", "data.patch_size=32",
        "--set", "data.num_workers=0", "--set", 'model.hparams={ num_feat = 4, num_conv = 1 }'])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for what, folder in (("training data", hr), ("validation data", val)):
        for name, reason in reasons.items():
            line = f"warning: {what}: skipping {folder / name}: {reason}"
            assert result.output.count(line) == 1, result.output
    assert "training on 2 images" in result.output
    assert "validating on 1 images" in result.output


def test_sr_downscale_names_an_empty_and_a_truncated_input_and_does_the_rest(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32), (16, 16)])
    reasons = _add_bad_files(hr)
    # a process of its own: the first failure comes while the progress bar is being set up
    done = subprocess.run([sys.executable, "-m", "uprez.trainer.downscale", "-i", str(hr), "-o",
                           str(tmp_path / "lr"), "-s", "2"], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    for name, reason in reasons.items():
        assert done.stderr.count(f"{hr / name}: {reason}") == 1, done.stderr
    assert "2 done, 2 failed" in done.stdout
    assert sorted(p.name for p in (tmp_path / "lr").iterdir()) == ["img0.png", "img1.png"]
