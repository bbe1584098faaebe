"""A full disk during training: a clear one-line error with the way on, and every checkpoint
already saved stays whole (checkpoints are written atomically)."""

from __future__ import annotations

import errno

import pytest
import torch
from click.testing import CliRunner

from tests.small_disk import leave_free, small_disk
from uprez.trainer import checkpoint as ckpt
from uprez.trainer.cli import cli

from .conftest import write_images


def test_a_checkpoint_that_does_not_fit_says_so_and_the_old_one_stays_whole(tmp_path):
    with small_disk(tmp_path) as disk:
        path = disk / "latest.pth"
        ckpt.save_atomic({"step": 1, "params": {"w": torch.ones(10)}}, path)
        leave_free(disk, 8192)
        with pytest.raises(OSError) as raised:
            ckpt.save_atomic({"step": 2, "params": {"w": torch.ones(100_000)}}, path)
        assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)
        kept = torch.load(path, weights_only=True)
        assert kept["step"] == 1 and torch.equal(kept["params"]["w"], torch.ones(10))
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "latest.pth"]


def test_sr_train_on_a_full_disk_fails_in_one_line_with_how_to_resume(tmp_path):
    data = write_images(tmp_path / "hr", [(48, 48)] * 2)
    settings = ["--device", "cpu", "--set", "model.scale=2", "--set",
                "model.hparams={ num_feat = 8, num_conv = 2 }", "--set", "data.patch_size=32",
                "--set", "data.batch_size=2", "--set", "data.num_workers=0",
                "--set", "train.checkpoint_every=1", "--set", "val.every=1000"]
    with small_disk(tmp_path) as disk:
        run = disk / "run"
        first = CliRunner().invoke(cli, ["--data", str(data), "--output", str(run), *settings,
                                         "--set", "psnr.steps=2"])
        assert first.exit_code == 0, first.output
        saved = sorted((run / "checkpoints").iterdir())
        leave_free(disk, 0)
        more = CliRunner().invoke(cli, ["--output", str(run), "--resume",
                                        "--set", "psnr.steps=4"])
        assert more.exit_code == 1, more.output
        error = more.output.strip().splitlines()[-1]  # the file it could not write, and why
        assert error.startswith(f"Error: {run}/") and ": No space left on device;" in error
        assert "Traceback" not in more.output
        assert f"sr-train --output {run} --resume" in more.output
        assert sorted((run / "checkpoints").iterdir()) == saved  # whole, and nothing else
        assert torch.load(saved[-1], weights_only=True)["step"] == 2


def test_sr_train_that_cannot_save_its_first_checkpoint_offers_no_resume(tmp_path):
    data = write_images(tmp_path / "hr", [(48, 48)] * 2)
    with small_disk(tmp_path) as disk:
        leave_free(disk, 16384)  # the config fits, a checkpoint does not
        result = CliRunner().invoke(cli, [
            "--data", str(data), "--output", str(disk / "run"), "--device", "cpu",
            "--set", "model.scale=2", "--set", "data.patch_size=32",
            "--set", "data.batch_size=2", "--set", "data.num_workers=0",
            "--set", "psnr.steps=2", "--set", "train.checkpoint_every=1"])
        assert result.exit_code == 1 and "No space left on device" in result.output
        assert "--resume" not in result.output


def test_sr_downscale_names_each_output_that_does_not_fit(tmp_path):
    from uprez.trainer.downscale import main as downscale

    hr = write_images(tmp_path / "hr", [(96, 96)] * 3)
    with small_disk(tmp_path) as disk:
        leave_free(disk, 0)
        result = CliRunner().invoke(downscale, ["-i", str(hr), "-o", str(disk / "lr"), "-s", "2"])
        assert result.exit_code == 1, result.output
        for i in range(3):
            assert (f"{hr / f'img{i}.png'}: cannot write {disk / 'lr' / f'img{i}.png'}: "
                    "No space left on device") in result.output
        assert list((disk / "lr").iterdir()) == []
