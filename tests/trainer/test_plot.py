"""progress.png with matplotlib: per phase the losses (log scale) and validation Y-PSNR against
the bicubic line, values it cannot show left out, written as a whole PNG."""

from __future__ import annotations

import math

import cv2
import numpy as np

from uprez.trainer.plot import progress_figure, save_png
from uprez.trainer.runlog import RunLog


def records() -> list[dict]:
    out = []
    for step, loss in ((10, 0.5), (20, 0.25), (30, math.nan)):
        out.append({"kind": "train", "phase": "psnr", "step": step, "loss": loss})
    for step, psnr in ((0, 25.0), (30, 27.5)):
        out.append({"kind": "val", "phase": "psnr", "step": step, "psnr_y": psnr,
                    "bicubic_psnr_y": 26.0})
    for step in (5, 10):
        out.append({"kind": "train", "phase": "gan", "step": step, "loss": 2.0,
                    "loss_pixel": 0.1, "loss_adversarial": 0.01 * step, "loss_disc": 0.7})
    return out


def lines_by_label(ax) -> dict:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()}


def test_each_phase_is_a_row_of_losses_beside_validation():
    figure = progress_figure(records())
    (psnr_loss, psnr_val), (gan_loss, gan_val) = np.reshape(figure.axes, (2, 2))
    assert psnr_loss.get_yscale() == "log" and psnr_val.get_yscale() == "linear"
    assert lines_by_label(psnr_loss) == {"loss": ([10, 20], [0.5, 0.25])}  # NaN left out
    val = lines_by_label(psnr_val)
    assert val["PSNR-Y (dB)"] == ([0, 30], [25.0, 27.5])
    assert val["bicubic"][1] == [26.0, 26.0]  # a horizontal line at the bicubic score
    assert set(lines_by_label(gan_loss)) == {"loss", "loss_pixel", "loss_adversarial",
                                             "loss_disc"}
    colours = {line.get_color() for line in gan_loss.get_lines()}
    assert len(colours) == 4
    assert "no data yet" in [t.get_text() for t in gan_val.texts]  # no validation in gan


def test_nothing_to_draw_is_no_figure():
    assert progress_figure([]) is None


def test_the_png_is_written_whole_and_has_the_figures_size(tmp_path):
    path = tmp_path / "progress.png"
    save_png(progress_figure(records()), path)
    image = cv2.imread(str(path))
    assert image.shape == (600, 1000, 3)  # 10 x 3 inches per row at 100 dpi, two rows
    assert (image < 128).any() and (image > 250).mean() > 0.5  # drawn on white
    assert [p.name for p in tmp_path.iterdir()] == ["progress.png"]  # no temp file left


def test_run_log_plot_draws_its_records(tmp_path):
    log = RunLog(tmp_path)
    for record in records()[:5]:
        log.append(record)
    log.plot()
    assert cv2.imread(str(tmp_path / "progress.png")).shape == (300, 1000, 3)
