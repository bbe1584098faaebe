"""--resume when things went wrong: a damaged checkpoint, a used-up time budget; what sr-train
says and which exit code it gives when a run cannot start or go on."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from uprez.trainer import checkpoint as ckpt
from uprez.trainer.cli import cli
from uprez.trainer.run import run_training
from uprez.trainer.setup import TrainingFailed

from .conftest import tiny_config, write_images


@pytest.fixture
def one_patch(tmp_path):
    return write_images(tmp_path / "hr", [(32, 32)])


def _train(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_resume_passes_over_a_damaged_newest_checkpoint_and_says_so(one_patch, tmp_path,
                                                                      capsys):
    run_dir = tmp_path / "run"
    config = tiny_config(one_patch, None, "psnr.steps=4", "train.checkpoint_every=2")
    run_training(config, run_dir)
    newest = ckpt.checkpoint_path(run_dir, "psnr", 4)
    newest.write_bytes(newest.read_bytes()[:5000])  # a copy cut short
    capsys.readouterr()
    final = run_training(tiny_config(one_patch, None, "psnr.steps=6",
                                     "train.checkpoint_every=2"), run_dir, resume=True)
    err = capsys.readouterr().err
    assert f"passing over a damaged checkpoint: {newest}: damaged or cut short" in err
    assert (f"resuming from {ckpt.checkpoint_path(run_dir, 'psnr', 2)}, the newest one that "
            "loads (phase psnr, step 2)") in err
    assert final["step"] == 6 and ckpt.load(newest)["step"] == 4  # trained over it again


def test_resume_with_no_checkpoint_that_loads_is_one_line_and_exit_2(one_patch, tmp_path):
    run_dir = tmp_path / "run"
    run_training(tiny_config(one_patch, None, "psnr.steps=4", "train.checkpoint_every=2"),
                 run_dir)
    ckpt.checkpoint_path(run_dir, "psnr", 4).write_bytes(b"")
    ckpt.checkpoint_path(run_dir, "psnr", 2).write_bytes(b"\x80\x02 not a checkpoint")
    result = _train("--output", str(run_dir), "--resume")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(
        f"Error: --resume: none of the 2 checkpoints in {run_dir / 'checkpoints'} can be loaded "
        f"(the newest: {ckpt.checkpoint_path(run_dir, 'psnr', 4)}: empty file (0 bytes))")


def test_resume_after_the_time_budget_says_how_to_raise_it_and_that_works(one_patch, tmp_path):
    run_dir = tmp_path / "run"
    run_training(tiny_config(one_patch, None, "psnr.steps=2", "train.checkpoint_every=2"),
                 run_dir)
    # the run's budget was spent (here: made smaller than the time it already trained)
    result = _train("--output", str(run_dir), "--resume", "--max-minutes", "0.0001",
                    "--set", "psnr.steps=4")
    assert result.exit_code == 2, result.output
    assert "the run's time budget (train.max_minutes = 0.0001) is used up: it stopped at " \
           "psnr step 2 of 4" in result.output
    assert "nothing was trained" not in result.output
    hint = result.output.split("raise it: ")[1].split(" (or 0")[0]
    assert hint.startswith(f"sr-train --output {run_dir} --resume --max-minutes ")
    again = _train(*hint.split()[1:], "--set", "psnr.steps=4")
    assert again.exit_code == 0, again.output
    assert ckpt.load(ckpt.latest(run_dir))["step"] == 4


def test_the_nan_guard_offers_resume_only_when_there_is_a_checkpoint(one_patch, tmp_path):
    diverging = ["psnr.lr=1e30", "psnr.steps=50", "train.max_bad_steps=3"]
    with pytest.raises(TrainingFailed) as without:
        run_training(tiny_config(one_patch, None, *diverging), tmp_path / "first")
    assert "no checkpoint was saved yet, so start the run again" in str(without.value)
    assert "--resume" not in str(without.value)
    with pytest.raises(TrainingFailed) as with_one:
        run_training(tiny_config(one_patch, None, *diverging, "train.checkpoint_every=1"),
                     tmp_path / "second")
    assert (f"then go on from checkpoints/psnr_00000001.pth with: sr-train --output "
            f"{tmp_path / 'second'} --resume --set KEY=VALUE") in str(with_one.value)


def test_sr_train_exit_codes_follow_the_shared_rule(one_patch, tmp_path):
    missing = _train("--data", str(tmp_path / "nowhere"), "--output", str(tmp_path / "run"))
    assert missing.exit_code == 2 and "nowhere' does not exist" in missing.output
    too_small = write_images(tmp_path / "small", [(16, 16)])
    unusable = _train("--preset", "compact-x2", "--data", str(too_small), "--output",
                      str(tmp_path / "run"), "--set", "data.patch_size=32")
    assert unusable.exit_code == 2 and "no usable training images" in unusable.output
    diverged = _train("--preset", "compact-x2", "--data", str(one_patch), "--output",
                      str(tmp_path / "run"), "--set", "data.patch_size=32", "--set",
                      "psnr.lr=1e30", "--set", "train.max_bad_steps=2", "--set",
                      "data.num_workers=0", "--set", 'model.hparams={ num_feat = 4, num_conv = 1 }')
    assert diverged.exit_code == 1 and "the model diverged" in diverged.output
