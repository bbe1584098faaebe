"""The training progress bar under a time budget."""

from __future__ import annotations

import io
import time

import torch
from tqdm import tqdm

from uprez.trainer import progress as progress_module
from uprez.trainer.distributed import Dist
from uprez.trainer.phase import Run
from uprez.trainer.progress import PhaseProgress
from uprez.trainer.schedule import Clock

from .conftest import tiny_config


def test_under_a_time_budget_the_bar_counts_to_the_deadline_not_to_the_last_step(
        tmp_path, monkeypatch):
    bars = []

    def drawn_bar(**options):  # a bar that draws, as on a terminal
        bars.append(tqdm(file=io.StringIO(), total=options["total"], desc=options["desc"]))
        return bars[-1]

    monkeypatch.setattr(progress_module.console, "progress", drawn_bar)
    config = tiny_config(tmp_path, None, "psnr.steps=100000", "train.max_minutes=2")
    clock = Clock(120.0, {"psnr": 100_000}, elapsed_s=20.0)  # 100 s of the budget left
    run = Run(config=config, run_dir=tmp_path, dist=Dist(), device=torch.device("cpu"),
              dataset=None, val_images=[], bicubic={}, log=None, clock=clock, backbone=None)
    progress = PhaseProgress(run, "psnr", 0)
    for _ in range(20):
        progress.step_taken()
    progress.loop_started = time.monotonic() - 2.0  # 20 steps took 2 s
    progress.step_taken()
    bar = bars[0]
    # 21 steps at about 10 a second, and about 100 s left: some 1050 more, not 99 979
    assert 21 + 900 <= bar.total <= 21 + 1100
    progress.out_of_time()
    assert bar.total == bar.n == 21
    assert "21/21" in bar.fp.getvalue().replace("\r", "\n").splitlines()[-1]
