"""Learning-rate schedules and the wall-clock budget.

A schedule maps progress through a phase (0..1) to a multiple of the base learning rate. Progress
is step / steps, or, under a time budget (`--max-minutes`), the larger of that and the fraction of
the phase's time used, so a time-bounded run still decays its learning rate fully by the deadline.
"""

from __future__ import annotations

import math
import time

from .config import PhaseConfig


def lr_factor(phase: PhaseConfig, step: int, progress: float) -> float:
    """Multiplier of the base learning rate for the update after `step` completed steps."""
    if step < phase.warmup_steps:
        return (step + 1) / phase.warmup_steps
    progress = min(1.0, max(0.0, progress))
    if phase.schedule == "constant":
        return 1.0
    if phase.schedule == "step":
        passed = sum(1 for m in phase.milestones if progress >= m / phase.steps)
        return phase.gamma**passed
    floor = min(1.0, phase.min_lr / phase.lr)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Clock:
    """Seconds trained so far (carried across resumes) against an optional budget.

    The budget is split between the phases in proportion to their steps; each phase may use
    the time up to its cumulative deadline.
    """

    def __init__(self, budget_s: float, phase_steps: dict[str, int], elapsed_s: float = 0.0):
        self.budget_s = budget_s
        total = sum(phase_steps.values())
        self.deadlines: dict[str, float] = {}
        used = 0
        for name, steps in phase_steps.items():
            used += steps
            self.deadlines[name] = budget_s * used / total
        self._carried = elapsed_s
        self._started = time.monotonic()
        self.phase_start_s = elapsed_s

    @property
    def elapsed_s(self) -> float:
        return self._carried + time.monotonic() - self._started

    def start_phase(self, phase_start_s: float | None = None) -> None:
        self.phase_start_s = self.elapsed_s if phase_start_s is None else phase_start_s

    def time_progress(self, phase: str) -> float:
        """Fraction of this phase's time used; 0 without a budget."""
        if self.budget_s <= 0:
            return 0.0
        span = self.deadlines[phase] - self.phase_start_s
        return 1.0 if span <= 0 else (self.elapsed_s - self.phase_start_s) / span

    def time_left(self, phase: str) -> float:
        """Seconds until this phase's deadline; infinite without a budget."""
        if self.budget_s <= 0:
            return float("inf")
        return max(0.0, self.deadlines[phase] - self.elapsed_s)

    def phase_over(self, phase: str) -> bool:
        return self.budget_s > 0 and self.elapsed_s >= self.deadlines[phase]

    def run_over(self) -> bool:
        return self.budget_s > 0 and self.elapsed_s >= self.budget_s
