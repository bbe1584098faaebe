"""sr-compare on real run folders: the table, the figure (what each line holds), the crop strips
from the same region of the same image, and folders that are not runs."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from uprez.trainer.compare_cli import cli
from uprez.trainer.compare_plot import comparison_figure
from uprez.trainer.run import run_training
from uprez.trainer.runs import differing_settings, label, read_run, summarize

from .conftest import tiny_config, write_images


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two 4-step runs that differ in the optimiser and its learning rate, validated at steps
    0 and 4."""
    folder = tmp_path_factory.mktemp("compare")
    hr = write_images(folder / "hr", [(40, 48), (48, 36), (32, 32)])
    val = write_images(folder / "val", [(48, 64), (40, 40)], seed=1)
    for name, settings in (("adam", ["psnr.optimizer='adam'"]),
                           ("sgd", ["psnr.optimizer='sgd'", "psnr.lr=0.5"])):
        config = tiny_config(hr, val, "psnr.steps=4", "val.every=4", "train.log_every=2",
                             *settings)
        run_training(config, folder / name)
    return folder, val


def _compare(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_the_table_has_each_runs_scores_and_what_differs(two_runs):
    folder, _ = two_runs
    result = _compare(folder / "adam", folder / "sgd")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["run", "best", "Y-PSNR", "at", "step", "last", "Y-PSNR", "steps",
                                "time"]
    adam = read_run(folder / "adam")
    summary = summarize(adam)
    best = max(r["psnr_y"] for r in adam.val)
    assert summary.best_psnr == best and summary.steps == 4
    assert lines[1].split()[:3] == ["adam", f"{best:.2f}", "dB"]
    assert lines[1].split()[6] == "4"  # steps
    assert "  adam: psnr.optimizer=adam, psnr.lr=0.001" in result.output
    assert "  sgd: psnr.optimizer=sgd, psnr.lr=0.5" in result.output
    assert "bicubic on the same images:" in result.output
    assert not (folder / "compare.png").exists()  # the table alone without --output


def test_the_figure_draws_every_run_against_step_and_time(two_runs):
    folder, _ = two_runs
    runs = [read_run(folder / "adam"), read_run(folder / "sgd")]
    differences = differing_settings(runs)
    figure = comparison_figure(runs, differences)
    psnr_step, psnr_time, loss_step, loss_time = figure.axes[:4]
    for ax in (psnr_step, psnr_time, loss_step, loss_time):
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels[:2] == ["adam", "sgd"]
    colours = {line.get_color() for line in psnr_step.get_lines()[:2]}
    assert len(colours) == 2
    sgd_line = psnr_step.get_lines()[1]
    assert list(sgd_line.get_xdata()) == [0, 4]
    assert list(sgd_line.get_ydata()) == [r["psnr_y"] for r in runs[1].val]
    minutes = [r["elapsed_s"] / 60 for r in runs[1].val]
    assert list(psnr_time.get_lines()[1].get_xdata()) == pytest.approx(minutes)
    assert loss_step.get_yscale() == "log"
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend[:2] == [label("adam", differences["adam"]), label("sgd", differences["sgd"])]
    assert legend[0] == "adam: psnr.optimizer=adam, psnr.lr=0.001"


def test_output_writes_the_figure_and_one_crop_strip_per_run_of_the_same_region(two_runs,
                                                                                 tmp_path):
    folder, val = two_runs
    out = tmp_path / "cmp"
    result = _compare(folder / "adam", folder / "sgd", "-o", out, "--image", "img0",
                      "--crop", "24")
    assert result.exit_code == 0, result.output
    figure = cv2.imread(str(out / "compare.png"))
    assert figure.shape[1] == 1200 and figure.shape[0] >= 640  # 12 in wide, two rows at 100 dpi
    adam, sgd = (cv2.imread(str(out / f"crops_{n}.png")) for n in ("adam", "sgd"))
    assert adam.shape == sgd.shape and adam.shape[1] == 3 * 24 * 11  # 24 px enlarged to 264
    both = cv2.imread(str(out / "crops.png"))
    assert np.array_equal(both, np.concatenate([adam, sgd]))
    third = adam.shape[1] // 3
    assert np.array_equal(adam[-100:, 2 * third:], sgd[-100:, 2 * third:])  # the same HR crop
    assert np.array_equal(adam[-100:, :third], sgd[-100:, :third])  # the same bicubic crop
    assert not np.array_equal(adam[-100:, third:2 * third], sgd[-100:, third:2 * third])
    assert "wrote 2 crop strips of img0.png" in result.output


def test_a_folder_that_is_not_a_run_is_named_and_the_others_go_on(two_runs, tmp_path):
    folder, _ = two_runs
    (tmp_path / "empty").mkdir()
    result = _compare(folder / "adam", tmp_path / "empty", tmp_path / "missing")
    assert result.exit_code == 1
    assert f"error: {tmp_path / 'empty'}: no metrics.jsonl" in result.output
    assert f"error: {tmp_path / 'missing'}: not a folder" in result.output
    assert "\nadam " in result.output


def test_an_unknown_image_names_the_ones_there(two_runs, tmp_path):
    folder, val = two_runs
    result = _compare(folder / "adam", "-o", tmp_path / "cmp", "--image", "nope")
    assert result.exit_code == 1
    assert f"no crops: {val} has no image 'nope'; it has img0.png, img1.png" in result.output
    assert (tmp_path / "cmp" / "compare.png").exists()  # the figure does not need the image


def test_steps_run_on_across_phases_and_old_val_records_get_their_time(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text('[psnr]\nlr = 0.001\n[psnr.optimizer_settings]\n')
    records = [{"kind": "val", "phase": "psnr", "step": 0, "psnr_y": 20.0},
               {"kind": "train", "phase": "psnr", "step": 10, "loss": 1.0, "elapsed_s": 10.0},
               {"kind": "train", "phase": "psnr", "step": 20, "loss": 0.5, "elapsed_s": 30.0},
               {"kind": "val", "phase": "psnr", "step": 15, "psnr_y": 21.0},
               {"kind": "train", "phase": "gan", "step": 5, "loss": 2.0, "elapsed_s": 40.0},
               {"kind": "val", "phase": "gan", "step": 5, "psnr_y": 20.5, "elapsed_s": 41.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    read = read_run(run)
    assert [r["run_step"] for r in read.train] == [10, 20, 25]
    assert [r["elapsed_s"] for r in read.val] == [10.0, 20.0, 41.0]  # before the first: its time
    summary = summarize(read)
    assert (summary.best_psnr, summary.best_step, summary.last_psnr, summary.steps) \
        == (21.0, 15, 20.5, 25)
    assert math.isnan(summary.bicubic_psnr)


def test_settings_a_run_lacks_count_as_different(tmp_path):
    for name, text in (("a", "[psnr]\nlr = 0.001\nsteps = 5\n"),
                       ("b", "[psnr]\nlr = 0.001\nsteps = 5\n[psnr.optimizer_settings]\n"
                             "momentum = 0.9\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.toml").write_text(text)
        (tmp_path / name / "metrics.jsonl").write_text(
            '{"kind": "train", "phase": "psnr", "step": 1, "loss": 1.0}\n')
    runs = [read_run(tmp_path / "a"), read_run(tmp_path / "b")]
    assert differing_settings(runs) == {"a": ["psnr.optimizer_settings.momentum=(not set)"],
                                        "b": ["psnr.optimizer_settings.momentum=0.9"]}
