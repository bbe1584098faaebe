"""Charts of training runs with matplotlib: a run's progress.png (runlog.py) and the comparison
figure of several runs (compare_plot.py).

Figures are matplotlib `Figure` objects drawn on the Agg canvas, never through pyplot, so
nothing global changes and a training process with no display can draw them from any thread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from uprez.runtime.base import atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BICUBIC_STYLE = {"color": "0.45", "linestyle": "--", "linewidth": 1.0}


def new_figure(rows: int, columns: int, *, width: float = 10.0,
               row_height: float = 3.0) -> tuple[Figure, list[list[Axes]]]:
    """A figure of rows x columns charts (inches), with a grid on each."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, row_height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
    return figure, [list(row) for row in axes]


def finite_points(xs: list[float], ys: list[float], *,
                  log_y: bool = False) -> tuple[list[float], list[float]]:
    """The (x, y) pairs a chart can show: finite, and positive on a log scale."""
    kept = [(x, y) for x, y in zip(xs, ys, strict=True)
            if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
    return [x for x, _ in kept], [y for _, y in kept]


def plot_series(ax: Axes, xs: list[float], ys: list[float], *, label: str, log_y: bool = False,
                **style) -> bool:
    """One line (a dot when it has one point); False when none of its values can be shown."""
    xs, ys = finite_points(xs, ys, log_y=log_y)
    if not xs:
        return False
    ax.plot(xs, ys, label=label, marker="o" if len(xs) == 1 else None, markersize=3, **style)
    if log_y:
        ax.set_yscale("log")
    return True


def progress_figure(records: list[dict]) -> Figure | None:
    """progress.png of one run: per phase, its training losses (log scale) beside its
    validation Y-PSNR with the bicubic line; None before there is anything to draw."""
    phases = list(dict.fromkeys(r["phase"] for r in records))
    if not phases:
        return None
    figure, axes = new_figure(len(phases), 2)
    for (loss_ax, val_ax), phase in zip(axes, phases, strict=True):
        train = [r for r in records if r["kind"] == "train" and r["phase"] == phase]
        val = [r for r in records if r["kind"] == "val" and r["phase"] == phase]
        names = [k for k in (train[-1] if train else {}) if k.startswith("loss")]
        steps = [r["step"] for r in train]
        drawn = [plot_series(loss_ax, steps, [r.get(n, math.nan) for r in train], label=n,
                             log_y=True) for n in names]
        _finish(loss_ax, f"{phase}: training loss", "step", any(drawn))
        if val:
            plot_series(val_ax, [r["step"] for r in val], [r["psnr_y"] for r in val],
                        label="PSNR-Y (dB)", color="C0")
            val_ax.axhline(val[-1]["bicubic_psnr_y"], label="bicubic", **BICUBIC_STYLE)
        _finish(val_ax, f"{phase}: validation Y-PSNR (dB)", "step", bool(val))
    return figure


def _finish(ax: Axes, title: str, xlabel: str, has_data: bool) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(labelsize=8)
    if has_data:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", color="0.5")


def save_png(figure: Figure, path: str | Path, *, dpi: int = 100) -> None:
    """The figure as a PNG, written atomically (a reader never sees half a file)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
