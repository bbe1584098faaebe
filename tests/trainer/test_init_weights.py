"""sr-train --init FILE: the model comes from the file (any layout sr-export reads), a value the
user set must agree with it, and training starts exactly at the file's weights."""

from __future__ import annotations

import json
import os

import pytest
import torch
from click.testing import CliRunner

from uprez.trainer import config_io
from uprez.trainer.cli import cli
from uprez.trainer.config import Config
from uprez.trainer.init_weights import load_init_weights
from uprez.trainer.run import run_training
from uprez.trainer.setup import TrainingError
from uprez.trainer.validate import load_val_images, validate

from .conftest import tiny_config, write_images
from .weight_layouts import perturbed, save_layout, tiny_model

WITH_EMA = ("uprez", "basicsr")  # the layouts that hold EMA weights beside the plain ones


def resolved(tmp_path, *args: str) -> tuple[Config, str]:
    """The config `sr-train ARGS --print-config` prints, read back; and what it said."""
    result = CliRunner().invoke(cli, [*args, "--print-config"])
    assert result.exit_code == 0, result.output
    text = result.stdout[result.stdout.index("# uprez sr-train"):]
    path = tmp_path / "printed.toml"
    path.write_text(text)
    return config_io.load_toml(Config(), path), result.output


@pytest.mark.parametrize("arch, scale, layout", [
    ("rrdbnet", 4, "basicsr"),  # RealESRGAN_x4plus.pth: {"params_ema": ..., "params": ...}
    ("compact", 2, "basicsr"),  # realesr-general-x4v3 style SRVGG
    ("compact", 4, "safetensors"),
    ("rrdbnet", 4, "esrgan-old"),  # RRDB_ESRGAN_x4.pth: model.0.weight, model.1.sub.N.RDB...
    ("srresnet", 2, "uprez"),  # our own generator.pth, of another arch than the preset
])
def test_init_file_sets_arch_scale_and_hparams_and_its_weights_load_in_our_names(
        tmp_path, arch, scale, layout):
    model = tiny_model(arch, scale)
    ema = perturbed(model)
    path = tmp_path / f"weights.{'safetensors' if layout == 'safetensors' else 'pth'}"
    save_layout(layout, path, model, ema)
    config, said = resolved(tmp_path, "--preset", "compact-x4", "--init", str(path))
    expected = dict(model.hparams)
    assert (config.model.arch, config.model.scale) == (arch, expected.pop("scale"))
    assert config.model.hparams == expected
    assert f"starting from {path}: {arch} x{scale}" in said
    config_io.validate(config)
    weights = load_init_weights(config)
    reference = (ema if layout in WITH_EMA else model).state_dict()
    assert set(weights) == set(reference)
    for key, value in reference.items():
        assert torch.equal(weights[key], value), key


@pytest.mark.parametrize("given, message", [
    (["--set", "model.arch=compact"], "model.arch = 'compact' (--set model.arch=compact) "
     "conflicts with --init {path}, which holds rrdbnet x4 ("),
    (["--set", "model.scale=2"], "model.scale = 2 (--set model.scale=2) conflicts with --init "
     "{path}, which holds rrdbnet x4"),
    (["--set", "model.hparams.num_feat=16"], "model.hparams.num_feat = 16 (--set "
     "model.hparams.num_feat=16) conflicts with --init {path}, whose rrdbnet has num_feat = 8"),
    (["--config", "{config}"], "model.arch = 'srresnet' (in {config}) conflicts with --init "
     "{path}"),
    (["--set", "model.hparams.act_type=prelu"], "unknown key 'act_type' in model.hparams "
     "(rrdbnet)"),
])
def test_a_value_set_explicitly_that_differs_from_the_file_is_a_usage_error_naming_both(
        tmp_path, given, message):
    path = tmp_path / "RealESRGAN_x4plus.pth"
    save_layout("basicsr", path, tiny_model("rrdbnet", 4), None)
    config = tmp_path / "mine.toml"
    config.write_text('[model]\narch = "srresnet"\n\n[psnr]\nlr = 1e-4\n')
    given = [arg.format(config=config) for arg in given]
    data = write_images(tmp_path / "hr", [(32, 32)])
    result = CliRunner().invoke(cli, ["--init", str(path), *given, "--data", str(data),
                                      "--output", str(tmp_path / "run")])
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and message.format(path=path, config=config) in error[0], \
        result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_values_set_explicitly_that_agree_with_the_file_are_accepted(tmp_path):
    path = tmp_path / "RealESRGAN_x4plus.pth"
    save_layout("basicsr", path, tiny_model("rrdbnet", 4), None)
    config, _ = resolved(tmp_path, "--init", str(path), "--set", "model.arch=rrdbnet",
                         "--set", "model.scale=4", "--set", "model.hparams.num_feat=8")
    assert config.model.hparams["num_block"] == 2  # the rest from the file


@pytest.mark.parametrize("content, reason", [
    (b"weights\n", "not a PyTorch (.pth) or safetensors checkpoint"),
    ("pickle", "refused: the file pickles Python objects"),
    ("classifier", "unrecognised weights: tried"),
])
def test_an_init_file_that_cannot_be_used_is_a_usage_error_naming_it(tmp_path, content, reason):
    path = tmp_path / "weights.pth"
    proof = tmp_path / "code-ran"
    if content == "pickle":
        torch.save({"params": {}, "x": _MakesFolder(str(proof))}, path)
    elif content == "classifier":
        torch.save(torch.nn.Linear(4, 2).state_dict(), path)
    else:
        path.write_bytes(content)
    result = CliRunner().invoke(cli, ["--init", str(path), "--print-config"])
    assert result.exit_code == 2
    assert f"Error: --init {path}: {reason}" in result.output, result.output
    assert "Traceback" not in result.output and not proof.exists()


class _MakesFolder:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_training_from_an_init_file_starts_at_its_ema_weights_and_resumes_without_it(tmp_path):
    model = tiny_model("compact", 2, num_feat=8, num_conv=2)
    ema = perturbed(model)
    path = tmp_path / "realesr-x2.pth"
    save_layout("basicsr", path, model, ema)  # Real-ESRGAN's layout: params_ema and params
    hr = write_images(tmp_path / "hr", [(40, 40), (36, 44)])
    val = write_images(tmp_path / "val", [(40, 48)], seed=1)
    run = tmp_path / "run"
    settings = ["data.patch_size=32", "data.batch_size=2", "data.num_workers=0",
                "psnr.steps=2", "psnr.warmup_steps=0", "val.every=1000", "val.num_samples=0"]
    args = ["--preset", "compact-x4", "--init", str(path), "--data", str(hr), "--val", str(val),
            "--output", str(run)] + [a for s in settings for a in ("--set", s)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    step0 = next(r for r in records if r["kind"] == "val" and r["step"] == 0)
    images, _ = load_val_images(str(val), 2)
    device = torch.device("cpu")
    assert step0["psnr_y"] == pytest.approx(validate(ema, images, 2, device)["psnr_y"], abs=1e-9)
    assert step0["psnr_y"] != pytest.approx(validate(model, images, 2, device)["psnr_y"],
                                            abs=1e-3)
    trained = torch.load(run / "generator.pth", weights_only=True)
    assert trained["arch"] == "compact" and trained["step"] == 2
    assert any(not torch.equal(trained["params"][k], v) for k, v in ema.state_dict().items())

    path.unlink()  # --resume goes on from the run's own state, not from the init file
    result = CliRunner().invoke(cli, ["--output", str(run), "--resume", "--set", "psnr.steps=3"])
    assert result.exit_code == 0, result.output
    assert torch.load(run / "generator.pth", weights_only=True)["step"] == 3


def test_a_run_whose_config_differs_from_the_init_file_is_refused_naming_both(tmp_path):
    path = tmp_path / "RealESRGAN_x4plus.pth"
    save_layout("basicsr", path, tiny_model("rrdbnet", 4), None)
    hr = write_images(tmp_path / "hr", [(32, 32)])
    config = tiny_config(hr, None, f'model.init="{path}"')  # compact x2, not from the file
    with pytest.raises(TrainingError, match=r"model.init: .*RealESRGAN_x4plus.pth holds rrdbnet "
                                            r"x4 \(.*\), the config trains compact x2"):
        run_training(config, tmp_path / "run")
