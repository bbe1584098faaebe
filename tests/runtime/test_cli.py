"""`sr-run` end to end on real files and real ONNX models."""

import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tests.runtime.helpers import noise
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.cli import main


def sr_run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture
def photos(tmp_path, rng):
    """A small tree of real images of several kinds, plus some broken files."""
    folder = tmp_path / "photos"
    write_image(folder / "colour.png", noise(rng, (20, 30, 3)))
    write_image(folder / "sub" / "deep16.png", noise(rng, (12, 10, 3), np.uint16))
    write_image(folder / "sub" / "gray.jpg", noise(rng, (16, 16)))
    write_image(folder / "alpha.webp", noise(rng, (10, 12, 4)), quality=100)
    return folder


def test_a_folder_tree_is_upscaled_into_a_mirrored_tree(photos, tmp_path, models):
    out = tmp_path / "out"
    result = sr_run(photos, "-r", "-o", out, "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert read_image(out / "colour.png").shape == (40, 60, 3)
    deep = read_image(out / "sub" / "deep16.png")
    assert deep.shape == (24, 20, 3) and deep.dtype == np.uint16
    assert read_image(out / "sub" / "gray.jpg").shape == (32, 32)
    assert read_image(out / "alpha.webp").shape == (20, 24, 4)
    summary = result.stdout.strip().splitlines()[-1]
    assert "4 images" in summary and "MP out" in summary and "MP/s" in summary
    assert "CPUExecutionProvider" in summary


def test_without_recursive_only_the_top_folder_is_taken(photos, tmp_path, models):
    result = sr_run(photos, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alpha.webp", "colour.png"]


def test_format_quality_suffix_and_outscale(photos, tmp_path, models):
    out = tmp_path / "out"
    result = sr_run("-i", str(photos / "*.png"), "-o", out, "-m", models["x2"], "--device", "cpu",
                    "--format", "jpg", "--quality", "80", "--suffix", "_big", "--outscale", "1.5")
    assert result.exit_code == 0, result.output
    assert read_image(out / "colour_big.jpg").shape == (30, 45, 3)
    assert (out / "colour_big.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


def test_one_file_to_a_file_name(photos, tmp_path, models):
    target = tmp_path / "single.png"
    result = sr_run(photos / "colour.png", "-o", target, "-m", models["x4"], "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert read_image(target).shape == (80, 120, 3)


def test_existing_outputs_are_skipped_unless_overwrite(photos, tmp_path, models):
    out = tmp_path / "out"
    args = [photos, "-o", out, "-m", models["x2"], "--device", "cpu"]
    assert sr_run(*args).exit_code == 0
    before = (out / "colour.png").stat().st_mtime_ns
    second = sr_run(*args)
    assert second.exit_code == 0 and "2 skipped" in second.stdout
    assert (out / "colour.png").stat().st_mtime_ns == before
    third = sr_run(*args, "--overwrite")
    assert third.exit_code == 0 and "2 done" in third.stdout
    assert (out / "colour.png").stat().st_mtime_ns != before


def test_writing_over_the_inputs_is_refused(photos, models):
    result = sr_run(photos, "-o", photos, "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 2
    assert "inputs are never overwritten" in result.stderr
    assert sorted(p.name for p in photos.iterdir()) == ["alpha.webp", "colour.png", "sub"]


def test_broken_files_are_reported_and_the_rest_is_done(photos, tmp_path, models):
    (photos / "empty.png").write_bytes(b"")
    (photos / "text.jpg").write_text("not an image")
    (photos / "cut.png").write_bytes((photos / "colour.png").read_bytes()[:60])
    out = tmp_path / "out"
    result = sr_run(photos, "-o", out, "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 1
    for name, reason in [("empty.png", "empty file"), ("text.jpg", "not an image"),
                         ("cut.png", "corrupt or truncated PNG")]:
        assert any(str(photos / name) in line and reason in line
                   for line in result.stderr.splitlines()), result.stderr
    assert (out / "colour.png").is_file() and (out / "alpha.webp").is_file()
    assert "2 done" in result.stdout and "3 failed" in result.stdout


@pytest.mark.parametrize("model_kind, message", [
    ("missing", "model file not found"),
    ("garbage", "not an ONNX model"),
    ("folder", "is a folder"),
])
def test_a_missing_or_invalid_model_is_one_line(photos, tmp_path, model_kind, message):
    model = {"missing": tmp_path / "none.onnx", "folder": tmp_path}.get(model_kind,
                                                                        tmp_path / "junk.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00garbage")
    result = sr_run(photos, "-o", tmp_path / "out", "-m", model, "--device", "cpu")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_a_model_that_is_not_an_upscaler_is_refused(photos, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["output"], axes=[2, 3], keepdims=0)], "mean",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "mean.onnx"))
    result = sr_run(photos, "-o", tmp_path / "out", "-m", tmp_path / "mean.onnx")
    assert result.exit_code == 2 and "not an image upscaler" in result.stderr


@pytest.mark.parametrize("args", [[], ["--tile", "big"], ["--device", "gpu7"], ["--batch", "0"]])
def test_usage_errors_exit_2(photos, models, args):
    base = [photos, "-m", models["x2"]] if args else []
    assert sr_run(*base, *args).exit_code == 2


def test_progress_is_over_images_and_over_tiles_for_a_big_image(tmp_path, models, rng,
                                                                monkeypatch):
    from uprez.runtime.base import console

    write_image(tmp_path / "in" / "big.png", noise(rng, (64, 64, 3)))
    write_image(tmp_path / "in" / "small.png", noise(rng, (8, 8, 3)))
    bars = []
    original = console.progress

    def recording_progress(*args, **kwargs):
        bars.append((kwargs.get("unit"), kwargs.get("total")))
        return original(*args, **kwargs)

    monkeypatch.setattr(console, "progress", recording_progress)
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x2"],
                    "--tile", "8", "--device", "cpu")
    assert result.exit_code == 0
    assert bars == [("img", 2), ("tile", 64)]  # only the 8x8-tile image gets a tile bar


def test_ctrl_c_leaves_no_partial_file_and_a_rerun_resumes(tmp_path, models, rng):
    folder = tmp_path / "many"
    for i in range(40):
        write_image(folder / f"{i:02d}.png", noise(rng, (96, 96, 3)))
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from uprez.runtime.cli import main; main()", str(folder),
               "-o", str(out), "-m", str(models["x2"]), "--device", "cpu", "--tile", "8",
               "--batch", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("*.png"))):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    written = sorted(out.iterdir())
    assert written and all(p.suffix == ".png" and not p.name.startswith(".") for p in written)
    assert len(written) < 40
    for path in written:
        assert read_image(path).shape == (192, 192, 3)
    rerun = subprocess.run(command[:-4], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(written)} skipped" in rerun.stdout
    assert len(list(out.iterdir())) == 40


def test_palette_png_with_transparency_comes_out_with_alpha(tmp_path, models):
    from tests.runtime.test_imageio import palette_png

    indices = np.tile(np.array([[0, 1, 2, 1]], np.uint8), (4, 2))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "pal.png").write_bytes(
        palette_png(indices, [(255, 0, 0), (0, 255, 0), (0, 0, 255)], [255, 0, 128]))
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = cv2.imread(str(tmp_path / "out" / "pal.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (8, 16, 4)
    assert out[:, 0:2, 3].min() >= 200 and out[:, 2:4, 3].max() <= 60


def test_a_format_that_loses_depth_or_alpha_says_so_once(tmp_path, models, rng):
    for i in range(2):
        write_image(tmp_path / "in" / f"deep{i}.png", noise(rng, (8, 8, 4), np.uint16))
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x2"],
                    "--device", "cpu", "--format", "jpg")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("saved as 8-bit") == 1 and result.stderr.count("alpha") == 1
    out = read_image(tmp_path / "out" / "deep0.jpg")
    assert out.dtype == np.uint8 and out.shape == (16, 16, 3)


@pytest.mark.parametrize("kind", ["PyTorch", "safetensors"])
def test_a_checkpoint_given_as_the_model_is_named_with_the_sr_export_command(
        photos, tmp_path, kind):
    import json
    import pickle
    import struct

    checkpoint = tmp_path / ("net.pth" if kind == "PyTorch" else "net.safetensors")
    if kind == "PyTorch":  # torch's legacy format: a protocol-2 pickle (torch-free here)
        checkpoint.write_bytes(pickle.dumps({"conv.weight": [0.0] * 9}, protocol=2))
    else:
        header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
        checkpoint.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 4)
    result = sr_run(photos, "-o", tmp_path / "out", "-m", checkpoint)
    assert result.exit_code == 2, result.output
    assert f"{checkpoint} is a {kind} checkpoint, not an ONNX model" in result.output
    assert f"sr-export {checkpoint}" in result.output and "protobuf" not in result.output


def test_a_scale_the_models_lack_points_to_outscale(photos, tmp_path):
    result = sr_run(photos, "-o", tmp_path / "out", "--scale", "3")
    assert result.exit_code == 2
    assert "--outscale 3" in result.output


@pytest.mark.parametrize("inputs", ["folder", "several", "glob"])
def test_an_output_file_name_with_a_folder_or_several_inputs_is_a_usage_error(
        photos, tmp_path, models, inputs):
    given = {"folder": [photos], "several": [photos / "colour.png", photos / "alpha.webp"],
             "glob": [photos / "*.png"]}[inputs]
    result = sr_run(*given, "-o", tmp_path / "big.png", "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert "is a file name, but the input is" in result.output
    assert not (tmp_path / "big.png").exists()


def test_a_glob_that_matches_nothing_says_so_without_suggesting_recursive(photos, tmp_path,
                                                                          models):
    result = sr_run(photos / "*.tiff", "-o", tmp_path / "out", "-m", models["x2"])
    assert result.exit_code == 2
    assert "matched no image or video file" in result.output
    assert "--recursive also takes subfolders" not in result.output
    folder = sr_run(photos, "-o", tmp_path / "out", "-m", models["x2"], "--format", "png")
    assert folder.exit_code == 0  # the top folder has images: no hint needed
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "x.png").write_bytes((photos / "colour.png").read_bytes())
    result = sr_run(empty, "-o", tmp_path / "out2", "-m", models["x2"])
    assert result.exit_code == 2 and "--recursive also takes subfolders" in result.output


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_gray_and_alpha_png_comes_out_gray_and_alpha(tmp_path, models, dtype):
    image = np.zeros((12, 16, 2), dtype)
    image[:, :, 0] = np.linspace(0, np.iinfo(dtype).max, 16).astype(dtype)
    image[:, :, 1] = np.iinfo(dtype).max
    image[:, :8, 1] = 0  # the left half transparent
    write_image(tmp_path / "in" / "la.png", image)
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu",
                    "--alpha", "bicubic")
    assert result.exit_code == 0, result.output
    data = (tmp_path / "out" / "la.png").read_bytes()
    assert data[25] == 4  # PNG colour type 4: gray with alpha, not RGBA (6)
    out = read_image(tmp_path / "out" / "la.png")
    assert out.shape == (24, 32, 2) and out.dtype == dtype
    assert (out[:, :12, 1] == 0).all() and (out[:, 20:, 1] == np.iinfo(dtype).max).all()


def test_format_tiff_writes_tiff_and_a_tif_file_name_fits_it(photos, tmp_path, models):
    result = sr_run(photos, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu",
                    "--format", "tiff")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alpha.tiff", "colour.tiff"]
    assert read_image(tmp_path / "out" / "alpha.tiff").shape == (20, 24, 4)
    one = sr_run(photos / "colour.png", "-o", tmp_path / "one.tif", "-m", models["x2"],
                 "--device", "cpu", "--format", "tiff")
    assert one.exit_code == 0, one.output
    assert (tmp_path / "one.tif").read_bytes()[:4] in (b"II*\x00", b"MM\x00*")
