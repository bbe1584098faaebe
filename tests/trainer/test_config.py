"""Config layering, type checks and the errors a user sees."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from uprez.trainer import config_io
from uprez.trainer.cli import cli
from uprez.trainer.config import Config
from uprez.trainer.presets import PRESETS, preset_path


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_loads_and_validates(name):
    config = config_io.load_toml(Config(), preset_path(name))
    config_io.validate(config)


def test_published_defaults_are_in_the_presets():
    esrgan = config_io.load_toml(Config(), preset_path("esrgan-x4"))
    assert (esrgan.model.arch, esrgan.model.hparams["num_block"]) == ("rrdbnet", 23)
    assert ((esrgan.gan.gan_type, esrgan.gan.gan_weight, esrgan.gan.pixel_weight)
            == ("ragan", 5e-3, 1e-2))
    assert esrgan.gan.perceptual_layers == {"conv5_4": 1.0}
    srgan = config_io.load_toml(Config(), preset_path("srgan-x4"))
    assert ((srgan.gan.gan_type, srgan.gan.gan_weight, srgan.data.patch_size)
            == ("vanilla", 1e-3, 96))


def test_set_reads_toml_values_and_bare_strings():
    config = config_io.apply_overrides(Config(), [
        "psnr.lr=2e-4", "train.phases=['psnr', 'gan']", "model.arch=rrdbnet",
        "model.hparams.num_block=2", "gan.perceptual_layers.conv4_4=0.5", "psnr.steps=10",
    ])
    assert config.psnr.lr == 2e-4 and config.psnr.steps == 10
    assert config.train.phases == ["psnr", "gan"] and config.model.arch == "rrdbnet"
    assert config.model.hparams == {"num_block": 2}
    assert config.gan.perceptual_layers == {"conv5_4": 1.0, "conv4_4": 0.5}


def test_integers_widen_to_float_but_not_the_other_way():
    assert config_io.apply_overrides(Config(), ["psnr.lr=1"]).psnr.lr == 1.0
    with pytest.raises(config_io.ConfigError, match="psnr.steps must be an integer, not 1.5"):
        config_io.apply_overrides(Config(), ["psnr.steps=1.5"])


@pytest.mark.parametrize("override, message", [
    ("psnr.stepz=3", "unknown key 'stepz' in \\[psnr\\].*did you mean 'steps'"),
    ("trian.seed=1", "unknown section 'trian'.*did you mean 'train'"),
    ("train.amp=fp8", "train.amp must be one of 'none', 'bf16', 'fp16', not 'fp8'"),
    ("data.augment=1", "data.augment must be a bool, not 1"),
    ("train.phases=psnr", "train.phases must be a list of str"),
    ("psnr.lr", "--set expects section.key=value"),
    ("psnr.lr.x=1", "psnr.lr is not a table"),
])
def test_bad_overrides_name_the_key_and_the_problem(override, message):
    with pytest.raises(config_io.ConfigError, match=message):
        config_io.apply_overrides(Config(), [override])


@pytest.mark.parametrize("override, message", [
    ("model.scale=5", "compact supports scales 1, 2, 3, 4, 8, not 5"),
    ("data.patch_size=130", "data.patch_size must be a multiple of model.scale"),
    ("train.phases=['gan', 'gan']", "train.phases must be"),
    ("model.hparams.scale=2", "set the scale with model.scale"),
])
def test_inconsistent_values_are_rejected_by_validate(override, message):
    with pytest.raises(config_io.ConfigError, match=message):
        config_io.validate(config_io.apply_overrides(Config(), [override]))


def test_unknown_key_in_a_config_file_names_the_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[psnr]\nsteps = 10\nlearning_rate = 1e-4\n")
    with pytest.raises(config_io.ConfigError,
                       match=r"unknown key 'learning_rate' in \[psnr\] \(.*mine.toml\)"):
        config_io.load_toml(Config(), path)


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = config_io.apply_overrides(config_io.load_toml(Config(), preset_path("esrgan-x4")),
                                       ['data.hr="C:\\\\data \\"hr\\""', "val.every=7"])
    path = tmp_path / "config.toml"
    path.write_text(config_io.to_toml(config))
    assert config_io.load_toml(Config(), path) == config


def test_cli_config_errors_are_usage_errors_without_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["--output", str(tmp_path / "run"), "--set", "psnr.stepz=1"])
    assert result.exit_code == 2
    assert "unknown key 'stepz'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["--output", str(tmp_path / "run")])
    assert result.exit_code == 2 and "no training data: give --data DIR" in result.output


def test_print_config_shows_cli_options_in_the_resolved_config(tmp_path):
    result = CliRunner().invoke(cli, ["--preset", "compact-x2", "--data", str(tmp_path),
                                      "--max-minutes", "20", "--output", str(tmp_path / "run"),
                                      "--print-config"])
    assert result.exit_code == 0, result.output
    assert "scale = 2" in result.output and "max_minutes = 20.0" in result.output
    assert f'hr = "{tmp_path}"' in result.output


def test_the_readme_print_config_example_runs_without_output():
    result = CliRunner().invoke(cli, ["--preset", "srgan-x4", "--set", "gan.gan_weight=1e-2",
                                      "--print-config"])
    assert result.exit_code == 0, result.output
    assert "gan_weight = 0.01" in result.output


@pytest.mark.parametrize("preset, setting, message", [
    ("compact-x4", "model.hparams.foo=1", "unknown key 'foo' in model.hparams (compact)"),
    ("esrgan-x4", "model.hparams.num_block=2.5",
     "model.hparams.num_block must be an integer, not 2.5"),
    ("esrgan-x4", "gan.disc_hparams.foo=1", "unknown key 'foo' in gan.disc_hparams (vgg)"),
    ("real-esrgan-x4", "gan.disc_hparams.skip_connection=1",
     "gan.disc_hparams.skip_connection must be a bool, not 1"),
    ("compact-x4", "gan.disc_hparams.num_feet=8",  # no gan phase: still not a silent no-op
     "unknown key 'num_feet' in gan.disc_hparams (unet) (did you mean 'num_feat'?)"),
])
def test_architecture_settings_are_checked_against_the_architecture_before_training(
        tmp_path, preset, setting, message):
    for extra in (["--print-config"], ["--data", str(tmp_path)]):
        result = CliRunner().invoke(cli, ["--preset", preset, "--set", setting, "--output",
                                          str(tmp_path / "run"), *extra])
        assert result.exit_code == 2 and message in result.output, result.output
        assert not (tmp_path / "run").exists()


def test_a_discriminator_that_refuses_its_settings_stops_the_run_before_the_psnr_phase(
        tmp_path):
    from uprez.trainer.run import run_training
    from uprez.trainer.setup import TrainingError

    from .conftest import tiny_config, write_images

    hr = write_images(tmp_path / "hr", [(32, 32)])
    config = tiny_config(hr, None, "train.phases=['psnr', 'gan']", "gan.perceptual_weight=0",
                         "gan.disc_hparams={ num_feat = -4 }")
    with pytest.raises(TrainingError, match=r"gan.disc_hparams: vgg cannot be built with "
                                            r"\{'num_feat': -4\}: .*negative dimension"):
        run_training(config, tmp_path / "run")
    assert not list((tmp_path / "run" / "checkpoints").iterdir())
