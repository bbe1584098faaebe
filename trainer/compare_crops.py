"""sr-compare's sample crops: each run's final generator upscales the same validation image, and
the same region of it is cut out of every result, as a bicubic | SR | HR strip per run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from uprez.runtime.base.imageio import ImageReadError, list_images
from uprez.runtime.base.weights import CheckpointError

from . import checkpoint as ckpt
from .archs import build_generator
from .images import read_rgb
from .samples import labelled_strip
from .validate import scores, upscale, val_image

PANEL_MIN_WIDTH = 256  # small crops are enlarged (nearest neighbour) to at least this width


class CropError(Exception):
    """A run whose generator cannot be found or loaded, or an image that cannot be used."""


@dataclass(frozen=True)
class Generator:
    module: nn.Module
    scale: int
    phase: str
    step: int
    path: Path


def generator_file(run_dir: Path) -> Path:
    """The run's final generator.pth; for a run that has not finished, the newest phase
    generator or training checkpoint."""
    run_dir = Path(run_dir)
    if (run_dir / "generator.pth").is_file():
        return run_dir / "generator.pth"
    newest = ckpt.latest(run_dir)
    if newest is not None:
        return newest
    phase_files = sorted(run_dir.glob("generator_*.pth"))
    if phase_files:
        return phase_files[-1]
    raise CropError(f"{run_dir}: no generator.pth and no checkpoint to take the generator from")


def load_generator(run_dir: Path, device: torch.device) -> Generator:
    path = generator_file(run_dir)
    try:
        state = ckpt.load(path)
        module = build_generator(state["arch"], **state["hparams"])
        module.load_state_dict(state["params_ema"] or state["params"])
    except (CheckpointError, KeyError, RuntimeError, ValueError) as exc:
        raise CropError(f"{path}: cannot load the generator ({exc})") from None
    return Generator(module.to(device).eval(), int(state["hparams"]["scale"]), state["phase"],
                     int(state["step"]), path)


def pick_image(folder: Path, name: str | None) -> Path:
    """The validation image named `name` (file name or stem), else the first one."""
    try:
        images = list_images(folder)
    except ImageReadError as exc:
        raise CropError(str(exc)) from None
    if not images:
        raise CropError(f"{folder}: no images")
    if name is None:
        return Path(images[0])
    for path in map(Path, images):
        if name in (path.name, path.stem):
            return path
    raise CropError(f"{folder} has no image {name!r}; it has "
                    + ", ".join(Path(p).name for p in images))


def most_detailed_region(hr: np.ndarray, size: int) -> tuple[int, int]:
    """(y, x) of the size x size window with the most edges: where upscalers differ most."""
    grey = cv2.cvtColor(hr, cv2.COLOR_RGB2GRAY).astype(np.float32)
    edges = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    integral = cv2.integral(edges)
    stride = max(1, size // 4)
    best, where = -1.0, (0, 0)
    for y in range(0, hr.shape[0] - size + 1, stride):
        for x in range(0, hr.shape[1] - size + 1, stride):
            total = (integral[y + size, x + size] - integral[y, x + size]
                     - integral[y + size, x] + integral[y, x])
            if total > best:
                best, where = total, (y, x)
    return where


def crop_strip(generator: Generator, hr_full: np.ndarray, run_name: str, image_name: str,
               region: tuple[int, int, int], device: torch.device) -> np.ndarray:
    """bicubic | SR | HR of `region` (y, x, size in HR pixels), captioned with whole-image
    Y-PSNRs."""
    image = val_image(image_name, hr_full, generator.scale)
    sr = upscale(generator.module, image.lr, device)
    scale = generator.scale
    y, x, size = region
    if y + size > image.hr.shape[0] or x + size > image.hr.shape[1]:
        raise CropError(f"the region {size} px at x={x}, y={y} is not inside {image_name} "
                        f"({image.hr.shape[1]}x{image.hr.shape[0]} at x{scale})")
    factor = max(1, math.ceil(PANEL_MIN_WIDTH / size))

    def panel(picture: np.ndarray) -> np.ndarray:
        cut = picture[y:y + size, x:x + size]
        return cv2.resize(cut, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)

    bicubic_psnr = scores(image.bicubic, image.hr, scale)["psnr_y"]
    captions = [[f"bicubic x{scale}", f"PSNR-Y {bicubic_psnr:.2f} dB"],
                [run_name, f"{generator.phase} {generator.step}: PSNR-Y "
                           f"{scores(sr, image.hr, scale)['psnr_y']:.2f} dB"],
                ["HR", image_name]]
    return labelled_strip([panel(image.bicubic), panel(sr), panel(image.hr)], captions)


def read_hr(path: Path) -> np.ndarray:
    try:
        return read_rgb(path)
    except ImageReadError as exc:
        raise CropError(f"{path}: {exc.reason}") from None
