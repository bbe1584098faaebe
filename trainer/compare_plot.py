"""sr-compare's figure: validation Y-PSNR and each training loss of several runs, against step
(left) and against training time (right), one colour per run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .plot import BICUBIC_STYLE, new_figure, plot_series
from .runs import RunRecords, label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOSS_ORDER = ("loss", "loss_pixel", "loss_perceptual", "loss_adversarial", "loss_disc")


def loss_names(runs: list[RunRecords]) -> list[str]:
    """The losses any run logged, the generator's total first."""
    found = {key for run in runs for record in run.train for key in record
             if key.startswith("loss")}
    return [n for n in LOSS_ORDER if n in found] + sorted(found - set(LOSS_ORDER))


def comparison_figure(runs: list[RunRecords], differences: dict[str, list[str]]) -> Figure:
    losses = loss_names(runs)
    rows = [("psnr_y", "validation Y-PSNR (dB)", False)] + [
        (name, f"training {name.replace('_', ' ')}" + (" (generator)" if name == "loss" else ""),
         True) for name in losses]
    figure, axes = new_figure(len(rows), 2, width=12.0, row_height=3.2)
    for (key, title, log_y), (by_step, by_time) in zip(rows, axes, strict=True):
        for index, run in enumerate(runs):
            records = run.val if key == "psnr_y" else run.train
            ys = [r.get(key, math.nan) for r in records]
            style = {"color": f"C{index % 10}", "linewidth": 1.4}
            plot_series(by_step, [r["run_step"] for r in records], ys, label=run.name,
                        log_y=log_y, **style)
            plot_series(by_time, [r.get("elapsed_s", math.nan) / 60 for r in records], ys,
                        label=run.name, log_y=log_y, **style)
        for ax, xlabel in ((by_step, "step"), (by_time, "training time (minutes)")):
            if key == "psnr_y":
                _bicubic_line(ax, runs)
            ax.set_title(title, fontsize=10, loc="left")
            ax.set_xlabel(xlabel, fontsize=9)
            ax.tick_params(labelsize=8)
    handles = [line for line in axes[0][0].get_lines() if line.get_label() != "bicubic"]
    labels = {run.name: label(run.name, differences[run.name]) for run in runs}
    shown = [labels[h.get_label()] for h in handles]
    bicubic = [line for line in axes[0][0].get_lines() if line.get_label() == "bicubic"]
    figure.legend(handles + bicubic, shown + ["bicubic"][:len(bicubic)], loc="outside upper left",
                  fontsize=8, ncols=1 if max(map(len, shown), default=0) > 60 else 2,
                  frameon=False)
    return figure


def _bicubic_line(ax, runs: list[RunRecords]) -> None:
    """The bicubic score of the validation images, when the runs agree on it."""
    scores = {round(r.val[-1]["bicubic_psnr_y"], 6) for r in runs
              if r.val and "bicubic_psnr_y" in r.val[-1]}
    if len(scores) == 1:
        ax.axhline(scores.pop(), label="bicubic", **BICUBIC_STYLE)
