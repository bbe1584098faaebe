"""Real training steps of both phases on tiny models, resume identity, the NaN guard."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from uprez.trainer import checkpoint as ckpt
from uprez.trainer.archs import build_discriminator, build_generator
from uprez.trainer.run import run_training
from uprez.trainer.setup import TrainingError

from .conftest import tiny_config, write_images


def train_records(run_dir, phase):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "train" and r["phase"] == phase]


@pytest.fixture
def one_patch(tmp_path):
    """One image exactly the patch size, no augmentation: every batch is the same fixed batch."""
    return write_images(tmp_path / "hr", [(32, 32)])


def test_psnr_steps_lower_the_loss_on_a_fixed_batch_and_change_the_weights(one_patch, tmp_path):
    config = tiny_config(one_patch, None, "data.augment=false", "psnr.steps=12", "psnr.lr=3e-3")
    torch.manual_seed(config.train.seed)
    initial = build_generator("compact", scale=2, num_feat=8, num_conv=2).state_dict()
    final = run_training(config, tmp_path / "run")
    losses = [r["loss"] for r in train_records(tmp_path / "run", "psnr")]
    assert len(losses) == 12
    assert losses[-1] < 0.8 * losses[0]
    assert any(not torch.equal(initial[k], final["params"][k]) for k in initial)


def test_gan_steps_lower_the_content_loss_and_train_both_networks(one_patch, tmp_path, vgg_weights):
    config = tiny_config(one_patch, None, "data.augment=false", "train.phases=['gan']",
                         "gan.steps=12", f'gan.vgg_weights="{vgg_weights}"',
                         "train.checkpoint_every=12")
    final = run_training(config, tmp_path / "run")
    records = train_records(tmp_path / "run", "gan")
    content = [r["loss_pixel"] + r["loss_perceptual"] for r in records]
    assert content[-1] < content[0]
    assert all(r["loss_adversarial"] > 0 and r["loss_disc"] > 0 for r in records)
    state = ckpt.load(tmp_path / "run" / "checkpoints" / "gan_00000012.pth")
    torch.manual_seed(config.train.seed)
    build_generator("compact", scale=2, num_feat=8, num_conv=2)  # same RNG draws as the trainer
    initial_disc = build_discriminator("vgg", num_feat=4).state_dict()
    assert any(not torch.equal(initial_disc[k], state["disc_params"][k]) for k in initial_disc)
    assert final["phase"] == "gan" and state["optimizers"]["d"]["state"]


def test_two_phases_start_gan_from_the_psnr_ema_and_write_an_exportable_generator(
        tmp_path, vgg_weights):
    hr = write_images(tmp_path / "hr", [(40, 48), (36, 36)])
    val = write_images(tmp_path / "val", [(40, 40)], seed=1)
    config = tiny_config(hr, val, "train.phases=['psnr', 'gan']", "psnr.steps=3", "gan.steps=2",
                         "psnr.lr=3e-2", "gan.lr=1e-12", f'gan.vgg_weights="{vgg_weights}"',
                         "val.every=2")
    run_dir = tmp_path / "run"
    run_training(config, run_dir)
    psnr = torch.load(run_dir / "generator_psnr.pth", weights_only=True)
    final = torch.load(run_dir / "generator.pth", weights_only=True)
    assert final["format"] == "uprez-checkpoint" and final["phase"] == "gan" and final["step"] == 2
    assert "optimizers" not in final
    model = build_generator(final["arch"], **final["hparams"])
    model.load_state_dict(final["params_ema"])
    # the GAN phase (with a negligible learning rate) started from the PSNR phase's EMA weights
    torch.manual_seed(config.train.seed)
    fresh = build_generator("compact", scale=2, num_feat=8, num_conv=2).state_dict()
    assert any((psnr["params_ema"][k] - fresh[k]).abs().max() > 1e-3 for k in fresh)
    for key, value in psnr["params_ema"].items():
        assert torch.allclose(value, final["params"][key], atol=1e-6)
    assert ckpt.load(run_dir / "checkpoints" / "gan_00000002.pth")["ema"]["updates"] == 2
    val_rows = (run_dir / "val.csv").read_text().splitlines()
    assert val_rows[0].startswith("phase,step,psnr_y") and len(val_rows) == 1 + 3 + 2  # 0,2,3 | 0,2
    assert (run_dir / "progress.png").stat().st_size > 0
    assert sorted(p.name for p in (run_dir / "samples").iterdir())[0] == "gan_00000000_img0.png"


@pytest.mark.parametrize("resume_from", ["psnr_00000002.pth", "gan_00000002.pth"])
def test_n_steps_straight_equal_n_half_plus_resume_plus_n_half(tmp_path, vgg_weights, resume_from):
    hr = write_images(tmp_path / "hr", [(40, 48), (48, 36), (32, 32)])
    config = tiny_config(hr, None, "train.phases=['psnr', 'gan']", "psnr.steps=2", "gan.steps=4",
                         "train.checkpoint_every=2", "train.keep_checkpoints=5",
                         f'gan.vgg_weights="{vgg_weights}"', "psnr.schedule='cosine'")
    straight = run_training(config, tmp_path / "straight")

    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "straight" / "checkpoints" / resume_from, resumed_dir / "checkpoints")
    resumed = run_training(config, resumed_dir, resume=True)

    for key in ("params", "params_ema"):
        for name, value in straight[key].items():
            assert torch.equal(value, resumed[key][name]), f"{key}.{name} differs after resume"


def test_resume_without_a_checkpoint_and_reusing_a_run_folder_are_clear_errors(one_patch, tmp_path):
    config = tiny_config(one_patch, None, "psnr.steps=1")
    with pytest.raises(TrainingError, match="--resume: no checkpoint in"):
        run_training(config, tmp_path / "run", resume=True)
    run_training(config, tmp_path / "run")
    with pytest.raises(TrainingError, match="already holds a run; continue it with --resume"):
        run_training(config, tmp_path / "run")


def test_diverging_training_is_stopped_by_the_nan_guard(one_patch, tmp_path):
    config = tiny_config(one_patch, None, "psnr.lr=1e30", "psnr.steps=50", "train.max_bad_steps=3")
    with pytest.raises(TrainingError, match="3 steps in a row had a non-finite loss"):
        run_training(config, tmp_path / "run")


def test_bf16_autocast_trains_on_cpu(one_patch, tmp_path):
    config = tiny_config(one_patch, None, "data.augment=false", "psnr.steps=8", "psnr.lr=3e-3",
                         "train.amp='bf16'")
    run_training(config, tmp_path / "run")
    losses = [r["loss"] for r in train_records(tmp_path / "run", "psnr")]
    assert losses[-1] < losses[0]


def test_images_too_small_for_the_patch_are_skipped_with_their_reason(tmp_path, capsys):
    hr = write_images(tmp_path / "hr", [(32, 32), (20, 64)])
    (hr / "broken.png").write_bytes(b"not a png")
    run_training(tiny_config(hr, None, "psnr.steps=1"), tmp_path / "run")
    err = capsys.readouterr().err
    assert "img1.png: 64x20 is smaller than the 32 px patch" in err
    assert "broken.png: not a readable image" in err
    assert "training on 1 images" in err


def test_no_usable_image_is_a_clear_error(tmp_path):
    hr = write_images(tmp_path / "hr", [(16, 16)])
    with pytest.raises(TrainingError, match="no usable training images .*16x16 is smaller"):
        run_training(tiny_config(hr, None), tmp_path / "run")


def test_a_checkpoint_saved_before_the_first_loss_is_logged_is_announced_without_one(
        one_patch, tmp_path, capsys):
    config = tiny_config(one_patch, None, "train.log_every=10", "train.checkpoint_every=1",
                         "psnr.steps=2")
    run_training(config, tmp_path / "run")
    assert "psnr 1/2," in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())


@pytest.mark.slow
def test_sr_train_trains_a_swinir_whose_generator_sr_export_reads(one_patch, tmp_path):
    from uprez.export.exporter import ExportOptions, export_checkpoint

    config = tiny_config(
        one_patch, None, "model.arch='swinir'", "psnr.steps=2",
        "model.hparams={ embed_dim = 12, depths = [2], num_heads = [2], window_size = 4, "
        "img_size = 8, upsampler = 'pixelshuffledirect' }")
    run_training(config, tmp_path / "run")
    result = export_checkpoint(tmp_path / "run" / "generator.pth", tmp_path / "g.onnx",
                               ExportOptions())
    assert (result.info.arch, result.info.scale) == ("swinir", 2)
    assert result.info.hparams["depths"] == [2] and result.info.size_multiple == 4
