"""Validation on a folder of HR images: paper-convention metrics, and sample strips (samples.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from uprez.runtime.base.imageio import ImageReadError, list_images
from uprez.runtime.evaluation.protocol import score
from uprez.runtime.resize import imresize, mod_crop

from .images import Rejected, read_rgb
from .samples import save_sample


@dataclass(frozen=True)
class ValImage:
    name: str
    hr: np.ndarray  # RGB uint8, mod-cropped to the scale
    lr: np.ndarray  # MATLAB-bicubic downscale of hr, uint8 as a saved LR file would be
    bicubic: np.ndarray  # MATLAB-bicubic upscale of lr: the baseline


def load_val_images(folder: str, scale: int,
                    center_crop: int = 0) -> tuple[list[ValImage], list[Rejected]]:
    images, rejected = [], []
    for path in list_images(folder):
        try:
            hr = read_rgb(path)
        except ImageReadError as exc:
            rejected.append(Rejected(path, exc.reason))
            continue
        if center_crop:
            size = center_crop - center_crop % scale
            y, x = max(0, (hr.shape[0] - size) // 2), max(0, (hr.shape[1] - size) // 2)
            hr = hr[y:y + size, x:x + size]
        try:
            images.append(val_image(Path(path).stem, hr, scale))
        except ValueError as exc:
            rejected.append(Rejected(path, str(exc)))
    return images, rejected


def val_image(name: str, hr: np.ndarray, scale: int) -> ValImage:
    """An HR image mod-cropped to the scale, its LR and its bicubic upscale; ValueError when it
    is too small to score."""
    hr = np.ascontiguousarray(mod_crop(hr, scale))
    if min(hr.shape[:2]) < 2 * scale + 16:  # room for the border crop and the SSIM window
        raise ValueError(f"{hr.shape[1]}x{hr.shape[0]} is too small to validate at x{scale}")
    lr = imresize(hr, 1 / scale)
    return ValImage(name, hr, lr, imresize(lr, scale))


def scores(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    return asdict(score(sr, hr, scale=scale, channel_order="RGB"))


def bicubic_scores(images: list[ValImage], scale: int) -> dict[str, float]:
    per_image = [scores(im.bicubic, im.hr, scale) for im in images]
    return {f"bicubic_{k}": float(np.mean([s[k] for s in per_image])) for k in ("psnr_y", "ssim_y")}


@torch.no_grad()
def upscale(model: nn.Module, lr: np.ndarray, device: torch.device) -> np.ndarray:
    x = torch.from_numpy(lr.transpose(2, 0, 1).copy()).float().div_(255).unsqueeze(0).to(device)
    y = model(x).float().clamp_(0, 1).mul_(255).round_()
    return y.squeeze(0).permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def validate(model: nn.Module, images: list[ValImage], scale: int, device: torch.device,
             *, samples_dir: Path | None = None, num_samples: int = 0, keep_samples: int = 1,
             phase: str = "", step: int = 0) -> dict:
    """Mean metrics over the images ({"psnr_y", "ssim_y", "psnr_rgb", "images": {...}}).

    The first `num_samples` images are saved as labelled strips in `samples_dir`, the newest
    `keep_samples` of each kept (samples.py).
    """
    was_training = model.training
    model.eval()
    per_image = {}
    try:
        for i, image in enumerate(images):
            sr = upscale(model, image.lr, device)
            per_image[image.name] = scores(sr, image.hr, scale)
            if samples_dir is not None and i < num_samples:
                save_sample(samples_dir, phase=phase, step=step, name=image.name,
                            bicubic=image.bicubic, sr=sr, hr=image.hr,
                            bicubic_psnr=scores(image.bicubic, image.hr, scale)["psnr_y"],
                            sr_psnr=per_image[image.name]["psnr_y"], keep=keep_samples)
    finally:
        model.train(was_training)
    means = {k: float(np.mean([s[k] for s in per_image.values()]))
             for k in ("psnr_y", "ssim_y", "psnr_rgb")}
    return {**means, "images": per_image}
