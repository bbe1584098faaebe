"""The sr-export command: defaults, options, one clear line per bad file, exit codes."""

import subprocess
import sys

import numpy as np
from click.testing import CliRunner

from uprez.export.cli import main

from .helpers import onnx_info, onnx_output, perturbed, save_layout, tiny_model, torch_output


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_default_output_sits_next_to_the_checkpoint_named_after_it(tmp_path):
    model = tiny_model("compact", 2)
    ema = perturbed(model)
    save_layout("basicsr", tmp_path / "my_model.pth", model, ema)
    result = _invoke(tmp_path / "my_model.pth")
    assert result.exit_code == 0, result.output
    output = tmp_path / "my_model.onnx"
    assert str(output) in result.stdout
    assert ("weights params_ema (EMA)" in result.stderr
            and "verified with onnxruntime" in result.stderr)
    info, _ = onnx_info(output)
    assert (info.name, info.scale) == ("my_model", 2)
    x = np.random.default_rng(8).random((1, 3, 9, 11), dtype=np.float32)
    np.testing.assert_allclose(onnx_output(output, x), torch_output(ema, x), atol=1e-4, rtol=0)


def test_output_name_opset_and_no_ema_options_are_honoured(tmp_path):
    model = tiny_model("srresnet", 2)
    save_layout("uprez", tmp_path / "g.pth", model, perturbed(model))
    out = tmp_path / "sub" / "custom.onnx"
    result = _invoke(tmp_path / "g.pth", "-o", out, "--name", "Portrait x2", "--opset", 18,
                     "--no-ema", "--no-verify")
    assert result.exit_code == 0, result.output
    assert "verification skipped" in result.stderr
    info, _ = onnx_info(out)
    assert info.name == "Portrait x2"
    assert info.fp16_safe is False  # not measured without verification
    x = np.random.default_rng(9).random((1, 3, 6, 7), dtype=np.float32)
    np.testing.assert_allclose(onnx_output(out, x), torch_output(model, x), atol=1e-4, rtol=0)


def test_bad_files_get_one_line_each_and_the_good_ones_are_still_exported(tmp_path):
    save_layout("raw", tmp_path / "good.pth", tiny_model("compact", 3), None)
    (tmp_path / "notes.pth").write_text("not a model\n")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    result = _invoke(tmp_path / "notes.pth", tmp_path / "good.pth", tmp_path / "empty.safetensors")
    assert result.exit_code == 1
    assert (tmp_path / "good.onnx").exists()
    assert not (tmp_path / "notes.onnx").exists() and not (tmp_path / "empty.onnx").exists()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert "notes.pth: not a PyTorch (.pth) or safetensors checkpoint" in errors[0]
    assert "empty.safetensors: the file is empty" in errors[1]
    assert "1 done, 2 failed" in result.stderr
    assert "Traceback" not in result.output


def test_several_checkpoints_go_into_an_output_folder(tmp_path):
    for arch in ("compact", "rrdbnet"):
        save_layout("raw", tmp_path / f"{arch}.pth", tiny_model(arch, 4), None)
    folder = tmp_path / "onnx"
    folder.mkdir()
    result = _invoke(tmp_path / "compact.pth", tmp_path / "rrdbnet.pth", "-o", folder, "--fp16")
    assert result.exit_code == 0, result.output
    for arch in ("compact", "rrdbnet"):
        info, _ = onnx_info(folder / f"{arch}_fp16.onnx")
        assert (info.arch, info.precision) == (arch, "fp16")


def test_usage_mistakes_exit_2_before_any_work(tmp_path):
    save_layout("raw", tmp_path / "a.pth", tiny_model("compact", 2), None)
    assert _invoke(tmp_path / "a.pth", "-o", tmp_path / "a.bin").exit_code == 2
    assert _invoke(tmp_path / "a.pth", "--opset", 9).exit_code == 2
    assert _invoke(tmp_path / "a.pth", tmp_path / "a.pth", "--name", "x").exit_code == 2
    assert _invoke(tmp_path / "missing.pth").exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pth"]


def test_output_never_replaces_the_checkpoint(tmp_path):
    checkpoint = tmp_path / "model.onnx"  # misnamed, but a real checkpoint
    save_layout("raw", checkpoint, tiny_model("compact", 2), None)
    before = checkpoint.read_bytes()
    result = _invoke(checkpoint, "-o", checkpoint)
    assert result.exit_code == 1
    assert "the output path is the checkpoint itself" in result.stderr
    assert checkpoint.read_bytes() == before


def test_foreign_checkpoint_from_the_command_line_names_the_layouts_tried(tmp_path):
    import torch

    torch.save({"fc.weight": torch.zeros(10, 512), "fc.bias": torch.zeros(10)},
               tmp_path / "classifier.pth")
    done = subprocess.run(
        [sys.executable, "-m", "uprez.export.cli", str(tmp_path / "classifier.pth")],
        capture_output=True, text=True)
    assert done.returncode == 1
    assert "classifier.pth: unrecognised weights: tried RRDBNet" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_generic_checkpoint_name_gives_the_model_its_run_folders_name(tmp_path):
    run = tmp_path / "runs" / "portrait-x2"
    (run / "checkpoints").mkdir(parents=True)
    save_layout("uprez", run / "generator.pth", tiny_model("compact", 2), None)
    save_layout("basicsr", run / "checkpoints" / "net_g_latest.pth", tiny_model("compact", 2),
                None)
    for checkpoint in (run / "generator.pth", run / "checkpoints" / "net_g_latest.pth"):
        result = _invoke(checkpoint, "--no-verify")
        assert result.exit_code == 0, result.output
        info, _ = onnx_info(checkpoint.with_suffix(".onnx"))
        assert info.name == "portrait-x2"


def test_an_existing_onnx_is_skipped_if_from_the_same_checkpoint_else_refused_unless_overwrite(
        tmp_path):
    save_layout("basicsr", tmp_path / "a.pth", tiny_model("compact", 2), None)
    save_layout("basicsr", tmp_path / "b.pth", perturbed(tiny_model("compact", 2)), None)
    out = tmp_path / "m.onnx"
    assert _invoke(tmp_path / "a.pth", "-o", out, "--no-verify").exit_code == 0
    exported = out.read_bytes()
    again = _invoke(tmp_path / "a.pth", "-o", out, "--no-verify")
    assert again.exit_code == 0 and "exported from this checkpoint: skipped" in again.output
    other = _invoke(tmp_path / "b.pth", "-o", out, "--no-verify")
    assert other.exit_code == 1
    assert "was exported from another checkpoint; --overwrite replaces it" in other.output
    assert out.read_bytes() == exported
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"not a model")
    refused = _invoke(tmp_path / "a.pth", "-o", foreign, "--no-verify")
    assert refused.exit_code == 1 and foreign.read_bytes() == b"not a model"
    replaced = _invoke(tmp_path / "b.pth", "-o", out, "--no-verify", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert out.read_bytes() != exported
