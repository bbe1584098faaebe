"""Learning-rate schedules and the time budget."""

from __future__ import annotations

import pytest
import torch

from uprez.trainer.config import PsnrConfig
from uprez.trainer.run import run_training
from uprez.trainer.schedule import Clock, lr_factor
from uprez.trainer.setup import TrainingError

from .conftest import tiny_config, write_images


def test_cosine_goes_from_the_base_rate_to_min_lr_after_warmup():
    phase = PsnrConfig(steps=100, lr=1e-3, min_lr=1e-5, schedule="cosine", warmup_steps=10)
    assert lr_factor(phase, 0, 0.0) == pytest.approx(0.1)
    assert lr_factor(phase, 10, 0.1) == pytest.approx(0.5 * (1 + 0.951056516), rel=1e-3)
    assert lr_factor(phase, 99, 1.0) == pytest.approx(0.01)


def test_step_schedule_multiplies_by_gamma_at_each_milestone():
    phase = PsnrConfig(steps=400, schedule="step", milestones=[100, 300], gamma=0.5)
    assert [lr_factor(phase, s, s / 400) for s in (0, 99, 100, 299, 300)] == [1, 1, 0.5, 0.5, 0.25]


def test_time_budget_is_shared_by_phases_in_proportion_to_their_steps():
    clock = Clock(600, {"psnr": 300, "gan": 100})
    assert clock.deadlines == {"psnr": 450, "gan": 600}
    assert not clock.phase_over("psnr") and clock.time_left("psnr") <= 450
    assert Clock(0, {"psnr": 1}).time_left("psnr") == float("inf")


def test_max_minutes_stops_cleanly_with_a_checkpoint_and_a_generator(tmp_path):
    hr = write_images(tmp_path / "hr", [(48, 48)])
    config = tiny_config(hr, None, "psnr.steps=1000000", "train.max_minutes=0.03")
    # the first use of an optimiser imports torch._dynamo (~2 s)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    final = run_training(config, tmp_path / "run")
    assert 0 < final["step"] < 1_000_000
    assert (tmp_path / "run" / "checkpoints" / f"psnr_{final['step']:08d}.pth").exists()
    saved = torch.load(tmp_path / "run" / "generator.pth", weights_only=True)
    assert saved["step"] == final["step"]


def test_missing_vgg_weights_fail_before_any_training(tmp_path):
    hr = write_images(tmp_path / "hr", [(48, 48)])
    config = tiny_config(hr, None, "train.phases=['psnr', 'gan']",
                         f'gan.vgg_weights="{tmp_path / "nope.pth"}"')
    with pytest.raises(TrainingError, match="VGG19 weights .*nope.pth do not exist"):
        run_training(config, tmp_path / "run")
    assert not list((tmp_path / "run" / "checkpoints").iterdir())
