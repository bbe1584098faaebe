"""Ctrl-C at any moment of a training step: the state it saves resumes to the same run, bit for
bit, as one that was never stopped. SIGTERM stops a real sr-train process the same way."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch

from uprez.trainer import checkpoint as ckpt
from uprez.trainer import step as step_module
from uprez.trainer import train as train_module
from uprez.trainer.ema import EMA
from uprez.trainer.progress import PhaseProgress
from uprez.trainer.run import run_training
from uprez.trainer.train import TrainingInterrupted

from .conftest import tiny_config, write_images

STEPS = 8


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    """An 8-step gan phase (a discriminator with BatchNorm statistics, the EMA), checkpoints and
    validation every 2 steps; and the state after every step of it run without a stop."""
    folder = tmp_path_factory.mktemp("gan")
    hr = write_images(folder / "hr", [(40, 48), (48, 36), (32, 32)])
    val = write_images(folder / "val", [(32, 32)], seed=1)
    settings = ["train.phases=['gan']", f"gan.steps={STEPS}", "gan.perceptual_weight=0",
                "train.keep_checkpoints=100", "val.every=2", "gan.schedule='cosine'"]
    straight = folder / "straight"
    run_training(tiny_config(hr, val, *settings, "train.checkpoint_every=1"), straight)
    states = {step: ckpt.load(ckpt.checkpoint_path(straight, "gan", step))
              for step in range(1, STEPS + 1)}
    return tiny_config(hr, val, *settings, "train.checkpoint_every=2"), states


def _signal_after_call(patch, owner, name: str, nth: int, signals: int = 1) -> None:
    """After the `nth` call of `owner.name`, a real SIGINT to this process, as a Ctrl-C."""
    original = getattr(owner, name)
    calls = []

    def interrupted(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == nth:
            for _ in range(signals):
                signal.raise_signal(signal.SIGINT)
        return result

    patch.setattr(owner, name, interrupted)


def _assert_same_state(resumed, straight, where: str = "") -> None:
    """Every tensor of two training states equal, bit for bit (weights, EMA, discriminator with
    its BatchNorm statistics, both optimisers' moments)."""
    if isinstance(straight, torch.Tensor):
        assert torch.equal(resumed, straight), f"{where} differs"
    elif isinstance(straight, dict):
        for key, value in straight.items():
            if key not in ("rng", "elapsed_s", "phase_start_s", "config"):
                _assert_same_state(resumed[key], value, f"{where}.{key}")
    elif isinstance(straight, (list, tuple)):
        for i, value in enumerate(straight):
            _assert_same_state(resumed[i], value, f"{where}[{i}]")


# Where a Ctrl-C lands, as (moment, owner, attribute, which call of the resumed run): each stop
# is resumed and stopped again at the next moment. Both networks go backward and step, the
# generator first, so their second calls are the discriminator's.
MOMENTS = [
    ("generator forward", step_module, "pixel_loss", 1),
    ("discriminator backward", torch.Tensor, "backward", 2),
    ("generator update", torch.optim.Adam, "step", 1),
    ("discriminator update", torch.optim.Adam, "step", 2),
    ("EMA update", EMA, "update", 1),
    ("loading the batch", train_module, "training_pair", 1),
    ("setting the learning rate", train_module, "set_learning_rates", 1),
    ("checkpoint write", ckpt, "save_atomic", 1),
    ("loss record", PhaseProgress, "log", 1),
    ("validation", PhaseProgress, "validate", 1),
]


def test_resume_after_a_ctrl_c_anywhere_in_a_step_is_bit_identical(gan_run, tmp_path,
                                                                    monkeypatch):
    config, straight = gan_run
    run_dir = tmp_path / "run"
    for i, (moment, owner, name, nth) in enumerate(MOMENTS):
        with monkeypatch.context() as patch:
            _signal_after_call(patch, owner, name, nth)
            with pytest.raises(TrainingInterrupted) as stopped:
                run_training(config, run_dir, resume=i > 0)
        saved = ckpt.load(ckpt.latest(run_dir))
        # a checkpoint of step k holds exactly k updates, the same as a run that never stopped
        assert saved["step"] == stopped.value.step == saved["ema"]["updates"], moment
        _assert_same_state(saved, straight[saved["step"]], f"stopped at {moment}: state")
        assert stopped.value.saved, moment
    assert stopped.value.step == STEPS  # the moments cover the run
    run_training(config, run_dir, resume=True)
    assert (run_dir / "generator_gan.pth").exists()


def test_a_second_ctrl_c_inside_a_step_stops_at_once_and_keeps_the_last_whole_checkpoint(
        gan_run, tmp_path, monkeypatch):
    config, straight = gan_run
    with monkeypatch.context() as patch:
        _signal_after_call(patch, torch.optim.Adam, "step", 5, signals=2)  # step 3, mid-update
        with pytest.raises(TrainingInterrupted) as stopped:
            run_training(config, tmp_path / "run")
    assert not stopped.value.saved
    assert [p.name for p in ckpt.training_checkpoints(tmp_path / "run")] == ["gan_00000002.pth"]
    run_training(config, tmp_path / "run", resume=True)
    _assert_same_state(ckpt.load(ckpt.checkpoint_path(tmp_path / "run", "gan", STEPS)),
                       straight[STEPS])


def test_sigterm_stops_a_real_sr_train_as_ctrl_c_does_even_with_ctrl_c_ignored(tmp_path):
    hr = write_images(tmp_path / "hr", [(32, 32)])
    run_dir = tmp_path / "run"
    settings = ['model.hparams={ num_feat = 8, num_conv = 2 }', "data.patch_size=32",
                "data.batch_size=4", "data.num_workers=0", "psnr.steps=100000",
                "train.log_every=1", "train.checkpoint_every=100000"]
    command = [sys.executable, "-m", "uprez.trainer.cli", "--preset", "compact-x2", "--data",
               str(hr), "--output", str(run_dir)] + [f"--set={s}" for s in settings]
    # started as `nohup sr-train ... &` from a script is: SIGINT ignored, so only SIGTERM can
    # stop it (as kill, cluster schedulers and service managers do)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_ignore_ctrl_c)
    try:
        deadline = time.monotonic() + 120
        while not _logged_steps(run_dir, 2) and process.poll() is None:
            assert time.monotonic() < deadline, "sr-train logged no steps"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    saved = ckpt.load(ckpt.latest(run_dir))
    assert saved["step"] == saved["ema"]["updates"] >= 2
    assert (f"SIGTERM in phase psnr at step {saved['step']}; state saved, continue with: "
            f"sr-train --output {run_dir} --resume") in err
    assert "Traceback" not in err


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _logged_steps(run_dir, steps: int) -> bool:
    log = run_dir / "metrics.jsonl"
    return log.exists() and log.read_text().count('"kind": "train"') >= steps
