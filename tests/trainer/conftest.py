"""Small images and tiny configs so that real training steps take a fraction of a second."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from uprez.runtime.base import console
from uprez.trainer import config_io
from uprez.trainer.config import Config
from uprez.trainer.vgg import VGG19Features


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A photo-like RGB image: blurred noise plus an edge, so there is something to learn."""
    noise = rng.random((height, width, 3)).astype(np.float32)
    image = cv2.GaussianBlur(noise, (0, 0), 2.0)
    image = (image - image.min()) / (image.max() - image.min() + 1e-6)
    image[:, width // 2:] *= 0.5
    return (image * 255).round().astype(np.uint8)


def write_images(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"img{i}.png"), smooth_image(rng, h, w))
    return folder


def tiny_config(hr: Path, val: Path | None = None, *settings: str) -> Config:
    """compact x2, 8 features, fixed 32 px patches, batch 4, no loader processes."""
    base = [
        f'data.hr="{hr}"', "model.scale=2", 'model.hparams={ num_feat = 8, num_conv = 2 }',
        "data.patch_size=32", "data.batch_size=4", "data.num_workers=0",
        "train.log_every=1", "train.checkpoint_every=1000", "val.every=1000",
        "psnr.steps=4", "psnr.warmup_steps=0", "psnr.lr=1e-3", "psnr.schedule='constant'",
        "gan.steps=4", "gan.lr=1e-3", "gan.lr_d=1e-3", "gan.schedule='constant'",
        "gan.disc_arch='vgg'", "gan.disc_hparams={ num_feat = 4 }",
        "gan.perceptual_layers={ conv1_2 = 1.0, relu2_1 = 0.5 }",
    ]
    if val is not None:
        base.append(f'val.dir="{val}"')
    config = config_io.apply_overrides(Config(), base + list(settings))
    config_io.validate(config)
    return config


@pytest.fixture(scope="session")
def vgg_weights(tmp_path_factory) -> Path:
    """A VGG19 state dict in torchvision's format (random weights: the loader is under test)."""
    torch.manual_seed(0)
    features = VGG19Features(["conv5_4"]).features
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision files also hold the classifier
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path


@pytest.fixture(autouse=True)
def _loud_console():
    """CLI tests with --quiet flip the process-wide console switch; each test starts loud."""
    console.set_quiet(False)
    yield
    console.set_quiet(False)
