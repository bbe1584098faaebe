"""`sr-eval` with several `--model`: each is scored on the same LR images as it would be alone,
and the tables, Markdown and JSON put them side by side."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from uprez.runtime.evaluation.cli import main
from uprez.runtime.evaluation.compare import model_labels

pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from tests.onnx_models import make_sr_model
    from uprez.runtime.metadata import SCALE

    folder = tmp_path_factory.mktemp("models")
    models = [make_sr_model(folder / "a.onnx", scale=2, seed=1, metadata={SCALE: "2"}),
              make_sr_model(folder / "b.onnx", scale=2, seed=2, metadata={SCALE: "2"})]
    data = folder / "hr"
    data.mkdir()
    rng = np.random.default_rng(3)
    for name in ("x.png", "y.png"):
        assert cv2.imwrite(str(data / name), rng.integers(0, 256, (28, 36, 3), dtype=np.uint8))
    return data, models


def run(data: Path, models: list[Path], *args: str):
    model_args = [arg for model in models for arg in ("-m", str(model))]
    return CliRunner().invoke(main, ["--data", str(data), "--scale", "2", "--device", "cpu",
                                     "-q", *model_args, *args])


def test_each_model_scores_as_it_does_alone(setup):
    data, models = setup
    conditions = ["--degrade", "none", "--degrade", "jpeg=60"]
    together = run(data, models, *conditions, "--json")
    assert together.exit_code == 0, together.output
    report = json.loads(together.stdout)
    assert [m["name"] for m in report["models"]] == ["a", "b"]
    assert [c["degradation"] for c in report["conditions"]] == ["none", "jpeg=60"]
    for model in models:
        alone = json.loads(run(data, [model], *conditions, "--json").stdout)
        for mine, single in zip(report["conditions"], alone["conditions"], strict=True):
            for image, single_image in zip(mine["images"], single["images"], strict=True):
                assert image["name"] == single_image["name"]
                assert image["models"][model.stem] == single_image["model"]
                assert image["bicubic"] == single_image["bicubic"]
            assert mine["mean"]["models"][model.stem] == single["mean"]["model"]


def test_the_text_and_markdown_tables_show_every_model_per_condition(setup):
    data, models = setup
    text = run(data, models, "--degrade", "none", "--degrade", "noise=5").stdout
    assert text.startswith(f"models: a = {models[0]}, b = {models[1]}")
    assert "x2, LR degraded: noise=5" in text
    header = next(line for line in text.splitlines() if line.startswith("image"))
    assert header.count("Y-PSNR") == 3 and header.count("gain") == 2
    assert "mean of 2 images" in text and text.rstrip().splitlines()[-1].startswith("noise=5")
    markdown = run(data, models, "--markdown").stdout
    assert "| image | size | bicubic Y-PSNR |" in markdown and "| b gain |" in markdown
    assert "**mean (2)**" in markdown and "Mean of" not in markdown  # one condition: no summary


def test_one_model_keeps_the_single_model_formats(setup):
    data, models = setup
    single = json.loads(run(data, models[:1], "--json").stdout)
    assert set(single) == {"model", "scale", "degradation", "device", "protocol", "images",
                           "mean", "failed"}
    assert single["device"].endswith("fp32")  # the engine and precision that ran


def test_several_models_save_their_images_apart(setup, tmp_path):
    data, models = setup
    result = run(data, models, "--save-dir", str(tmp_path / "sr"))
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(tmp_path / "sr")) for p in (tmp_path / "sr").rglob("*.png")) \
        == ["a/x.png", "a/y.png", "b/x.png", "b/y.png"]


def test_a_model_given_twice_or_of_another_scale_is_a_usage_error(setup, tmp_path):
    from tests.onnx_models import make_sr_model
    from uprez.runtime.metadata import SCALE

    data, models = setup
    twice = run(data, [models[0], models[0]])
    assert twice.exit_code == 2 and "given twice" in twice.output
    x4 = make_sr_model(tmp_path / "x4.onnx", scale=4, metadata={SCALE: "4"})
    other = run(data, [models[0], x4])
    assert other.exit_code == 2 and "x4 model, not x2" in other.output
    assert "Traceback" not in other.output


def test_models_with_the_same_file_name_are_named_by_their_paths():
    assert model_labels([Path("runs/a/model.onnx"), Path("runs/b/model.onnx"),
                         Path("uprez-compact-x4")]) == [
        "runs/a/model.onnx", "runs/b/model.onnx", "uprez-compact-x4"]
