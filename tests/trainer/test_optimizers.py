"""The optimiser choice per phase and network: typed settings, what torch gets, their state in
the checkpoint, and resume bit for bit with every one of them."""

from __future__ import annotations

import shutil

import pytest
import torch

from uprez.trainer import checkpoint as ckpt
from uprez.trainer import config_io
from uprez.trainer.config import Config
from uprez.trainer.optimizers import OPTIMIZERS
from uprez.trainer.run import run_training
from uprez.trainer.setup import TrainingError

from .conftest import tiny_config, write_images
from .test_interrupts import _assert_same_state

# each optimiser with settings that give it state of its own to carry (momentum buffers,
# squared-gradient averages), and the state entry that shows torch got that optimiser
CASES = {
    "adam": (["amsgrad=true"], "max_exp_avg_sq"),
    "adamw": (["eps=1e-7"], "exp_avg_sq"),
    "sgd": (["momentum=0.9", "nesterov=true"], "momentum_buffer"),
    "adagrad": (["lr_decay=0.01", "initial_accumulator_value=0.1"], "sum"),
    "rmsprop": (["momentum=0.5", "centered=true"], "grad_avg"),
}


def optimizer_settings(name: str) -> list[str]:
    """The gan phase's generator and discriminator both on optimiser `name`."""
    settings, _ = CASES[name]
    weight_decay = "1e-2" if name == "adamw" else "0"
    out = [f"gan.optimizer='{name}'", f"gan.optimizer_d='{name}'",
           f"gan.weight_decay={weight_decay}", f"gan.weight_decay_d={weight_decay}"]
    for setting in settings:
        out += [f"gan.optimizer_settings.{setting}", f"gan.optimizer_settings_d.{setting}"]
    return out


def test_every_optimizer_has_a_resume_case():
    assert set(CASES) == set(OPTIMIZERS)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("opt") / "hr", [(40, 48), (48, 36), (32, 32)])


@pytest.mark.parametrize("name", list(CASES))
def test_resume_is_bit_identical_with_every_optimizer(data, tmp_path, name):
    config = tiny_config(data, None, "train.phases=['gan']", "gan.steps=4",
                         "gan.perceptual_weight=0", "train.checkpoint_every=2",
                         "train.keep_checkpoints=5", "gan.schedule='cosine'",
                         *optimizer_settings(name))
    run_training(config, tmp_path / "straight")
    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(ckpt.checkpoint_path(tmp_path / "straight", "gan", 2), resumed_dir / "checkpoints")
    run_training(config, resumed_dir, resume=True)

    straight = ckpt.load(ckpt.checkpoint_path(tmp_path / "straight", "gan", 4))
    resumed = ckpt.load(ckpt.checkpoint_path(resumed_dir, "gan", 4))
    _assert_same_state(resumed, straight)  # weights, EMA, both optimisers' state
    assert straight["optimizer_names"] == {"g": name, "d": name}
    _, state_key = CASES[name]
    for role in ("g", "d"):
        per_param = straight["optimizers"][role]["state"]
        assert per_param and all(state_key in entry for entry in per_param.values())
        assert resumed["optimizers"][role]["state"].keys() == per_param.keys()


def test_the_settings_reach_torch_and_the_defaults_are_torchs(data, tmp_path):
    config = tiny_config(data, None, "psnr.steps=1", "psnr.optimizer='sgd'", "psnr.lr=0.05",
                         "psnr.weight_decay=1e-4", "psnr.optimizer_settings.momentum=0.9",
                         "psnr.optimizer_settings.nesterov=true")
    run_training(config, tmp_path / "run")
    (group,) = ckpt.load(ckpt.checkpoint_path(tmp_path / "run", "psnr", 1))["optimizers"]["g"][
        "param_groups"]
    assert (group["momentum"], group["nesterov"], group["dampening"], group["weight_decay"]) \
        == (0.9, True, 0.0, 1e-4)
    assert "betas" not in group  # betas are adam's and adamw's
    defaults = torch.optim.RMSprop([torch.zeros(1, requires_grad=True)]).defaults
    rmsprop = tiny_config(data, None, "psnr.optimizer='rmsprop'")
    from uprez.trainer.optimizers import generator_optimizer

    arguments = generator_optimizer("psnr", rmsprop.psnr).arguments()
    assert {k: arguments[k] for k in ("alpha", "eps", "momentum", "centered")} \
        == {k: defaults[k] for k in ("alpha", "eps", "momentum", "centered")}


def test_different_optimizers_train_to_different_weights(data, tmp_path):
    finals = {name: run_training(tiny_config(data, None, "psnr.steps=2", "train.ema_decay=0",
                                             f"psnr.optimizer='{name}'"), tmp_path / name)
              for name in ("adam", "sgd", "adagrad")}
    adam = finals["adam"]["params"]
    for name in ("sgd", "adagrad"):
        assert any(not torch.equal(adam[k], finals[name]["params"][k]) for k in adam), name


@pytest.mark.parametrize("override, message", [
    ("psnr.optimizer=adamm", r"unknown psnr.optimizer 'adamm' \(did you mean 'adam'\?\); known: "
                             "adam, adamw, sgd, adagrad, rmsprop"),
    ("gan.optimizer_d=lbfgs", "unknown gan.optimizer_d 'lbfgs'"),
    ("psnr.optimizer_settings.nesterov=true",  # adam, the default, has no nesterov
     r"unknown key 'nesterov' in psnr.optimizer_settings \(adam\)"),
    ("psnr.optimizer_settings.amsgrad=1", "psnr.optimizer_settings.amsgrad must be a bool, not 1"),
    ("gan.optimizer_settings.momentun=0.9",  # a phase that is not trained is checked too
     r"unknown key 'momentun' in gan.optimizer_settings \(adam\)"),
    ("psnr.betas=[0.9]", r"psnr.betas must be two numbers"),
])
def test_bad_optimizer_settings_name_the_key(override, message):
    with pytest.raises(config_io.ConfigError, match=message):
        config_io.validate(config_io.apply_overrides(Config(), [override]))


def test_settings_the_optimizer_itself_refuses_are_config_errors():
    config = config_io.apply_overrides(Config(), ["psnr.optimizer=sgd",
                                                  "psnr.optimizer_settings.nesterov=true"])
    with pytest.raises(config_io.ConfigError,
                       match=r"psnr.optimizer = 'sgd' with \{'nesterov': True\}: Nesterov"):
        config_io.validate(config)
    rmsprop = config_io.apply_overrides(Config(), ["gan.optimizer_d=rmsprop",
                                                   "gan.optimizer_settings_d.alpha=-1"])
    with pytest.raises(config_io.ConfigError, match="gan.optimizer_d = 'rmsprop'.*alpha"):
        config_io.validate(rmsprop)


def test_the_choice_round_trips_through_the_saved_config(tmp_path):
    config = config_io.apply_overrides(Config(), [
        "psnr.optimizer=rmsprop", "psnr.optimizer_settings={ centered = true, alpha = 0.9 }",
        "gan.optimizer_d=sgd", "gan.optimizer_settings_d.momentum=0.5"])
    config_io.validate(config)
    path = tmp_path / "config.toml"
    path.write_text(config_io.to_toml(config))
    assert config_io.load_toml(Config(), path) == config


def test_resume_with_another_optimizer_is_refused_with_what_to_do(data, tmp_path):
    run_dir = tmp_path / "run"
    run_training(tiny_config(data, None, "psnr.steps=2", "train.checkpoint_every=1"), run_dir)
    with pytest.raises(TrainingError) as info:
        run_training(tiny_config(data, None, "psnr.steps=4", "psnr.optimizer='sgd'"), run_dir,
                     resume=True)
    assert ("generator was trained with adam, but psnr.optimizer is 'sgd'; its state does not "
            "carry over. Resume with --set psnr.optimizer=adam") in str(info.value)


def test_a_setting_changed_on_resume_counts(data, tmp_path):
    run_dir = tmp_path / "run"
    sgd = ["psnr.optimizer='sgd'", "psnr.optimizer_settings.momentum=0.9",
           "train.checkpoint_every=2"]
    run_training(tiny_config(data, None, "psnr.steps=2", *sgd), run_dir)
    run_training(tiny_config(data, None, "psnr.steps=4", *sgd, "psnr.weight_decay=0.5",
                             "psnr.optimizer_settings.momentum=0.2"), run_dir, resume=True)
    (group,) = ckpt.load(ckpt.checkpoint_path(run_dir, "psnr", 4))["optimizers"]["g"][
        "param_groups"]
    assert (group["momentum"], group["weight_decay"]) == (0.2, 0.5)
