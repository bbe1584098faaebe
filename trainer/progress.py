"""What a phase reports while it trains: the progress bar, the mean losses every
`train.log_every` steps (into metrics.jsonl), validations, and how long is left.

Every process counts; only rank 0 writes the run log and validates.
"""

from __future__ import annotations

import time
from collections import defaultdict

import torch

from uprez.runtime.base import console

from .phase import Run
from .setup import format_duration
from .validate import validate


class PhaseProgress:
    def __init__(self, run: Run, name: str, start: int):
        self.run, self.name, self.start = run, name, start
        self.steps = run.config.phase(name).steps
        self.bar = console.progress(total=self.steps, desc=name, unit="step", position=None)
        self.bar.n = self.bar.last_print_n = start
        self.loop_started = time.monotonic()
        self.last_loss: float | None = None  # the mean loss of the last record
        self._running: dict[str, torch.Tensor] = defaultdict(
            lambda: torch.zeros((), device=run.device))
        self._counted = 0
        self._last_log_time, self._last_log_step = time.monotonic(), start

    def restart_clock(self) -> None:
        """Step rates count from here (after the validation before step 1)."""
        self.loop_started = self._last_log_time = time.monotonic()

    def step_taken(self) -> None:
        self.bar.update(1)
        if self.run.clock.budget_s > 0:
            self._fit_total_to_budget()

    def _fit_total_to_budget(self) -> None:
        """Under a time budget the phase ends on time, usually before its last step: the bar's
        total is the steps the budget leaves room for at the rate so far, so its percentage
        and ETA count to the deadline."""
        done = self.bar.n - self.start
        seconds = time.monotonic() - self.loop_started
        if done < 3 or seconds <= 0:  # too early to know the rate
            return
        in_time = self.bar.n + int(done / seconds * self.run.clock.time_left(self.name))
        self.bar.total = max(self.bar.n, min(self.steps, in_time))

    def out_of_time(self) -> None:
        """The budget ended the phase here: the bar closes full."""
        self.bar.total = self.bar.n
        self.bar.refresh()

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        """The losses of a step whose update was applied, for the next record's means."""
        for key, value in losses.items():
            self._running[key] += value.detach().float()
        self._counted += 1

    def log(self, step: int, lr: float) -> None:
        """A train record of the mean losses since the last one: metrics.jsonl and the bar."""
        run = self.run
        means = {key: (value / self._counted).item() for key, value in self._running.items()}
        now = time.monotonic()
        record = {"kind": "train", "phase": self.name, "step": step, "lr": lr,
                  "loss": sum(v for k, v in means.items() if k != "disc"),
                  **({f"loss_{k}": v for k, v in means.items()} if self.name == "gan" else {}),
                  "steps_per_s": (step - self._last_log_step)
                  / max(now - self._last_log_time, 1e-9),
                  "elapsed_s": run.clock.elapsed_s}
        if run.dist.is_main:
            run.log.append(record)
            postfix = {k.removeprefix("loss_"): f"{v:.4g}" for k, v in record.items()
                       if k.startswith("loss")} | {"lr": f"{record['lr']:.2e}"}
            if run.clock.budget_s > 0:  # tqdm's ETA counts steps; the budget may end first
                postfix["time_left"] = format_duration(run.clock.time_left(self.name))
            self.bar.set_postfix(postfix, refresh=False)
        self._running.clear()
        self._counted, self._last_log_time, self._last_log_step = 0, now, step
        self.last_loss = record["loss"]

    def validate(self, step: int, model: torch.nn.Module) -> None:
        """Score `model` on the validation images (rank 0): run log, plot, samples, one line."""
        run = self.run
        if not (run.dist.is_main and run.val_images):
            return
        config = run.config
        result = validate(model, run.val_images, config.model.scale, run.device,
                          samples_dir=run.run_dir / "samples",
                          num_samples=config.val.num_samples,
                          keep_samples=config.val.keep_samples, phase=self.name, step=step)
        run.log.append({"kind": "val", "phase": self.name, "step": step,
                        "elapsed_s": run.clock.elapsed_s, **run.bicubic, **result})
        run.log.plot()
        self.bar.clear()
        loss = f", loss {self.last_loss:.4g}" if self.last_loss is not None else ""
        console.info(f"{self.name} {step}/{self.steps}: PSNR-Y {result['psnr_y']:.2f} dB "
                     f"(bicubic {run.bicubic['bicubic_psnr_y']:.2f}), "
                     f"SSIM-Y {result['ssim_y']:.4f}{loss}{self.timing(step)}")

    def saved(self, step: int) -> None:
        """A checkpoint was saved: without validation, this line is the news of the run."""
        if self.run.val_images or not self.run.dist.is_main:
            return
        self.bar.clear()
        loss = "" if self.last_loss is None else f": loss {self.last_loss:.4g}"  # none logged yet
        console.info(f"{self.name} {step}/{self.steps}{loss}" + self.timing(step))

    def timing(self, step: int) -> str:
        """", 4m10s elapsed, 15m50s to go" (to the end of the phase or of the time budget)."""
        clock = self.run.clock
        text = f", {format_duration(clock.elapsed_s)} elapsed"
        if self.start < step < self.steps:
            rate = (step - self.start) / max(time.monotonic() - self.loop_started, 1e-9)
            left = min((self.steps - step) / rate, clock.time_left(self.name))
            text += f", {format_duration(left)} to go" if left >= 1 else ""
        return text

    def close(self) -> None:
        self.bar.close()
