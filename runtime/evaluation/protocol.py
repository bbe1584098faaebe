"""The evaluation protocol of super-resolution papers, for one image at a time.

For an HR image and a scale s (the convention of SRCNN, VDSR, EDSR, SRGAN and BasicSR):
1. crop HR to a multiple of s (MATLAB `modcrop`);
2. LR = MATLAB `imresize(HR, 1/s, 'bicubic')` (antialiased), unless a pre-made LR is given;
3. SR = the model's upscale of LR; the baseline is `imresize(LR, s, 'bicubic')`;
4. scores against HR: PSNR and SSIM of the BT.601 Y channel (MATLAB `rgb2ycbcr`, rounded for
   integer images), and PSNR over the colour channels, all after cropping s pixels per edge.
Images are in OpenCV layout: BGR (or grey) uint8/uint16; an alpha channel is not scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from uprez.runtime.evaluation.metrics import psnr_rgb, psnr_y, ssim_y
from uprez.runtime.resize import imresize, mod_crop

UpscaleFn = Callable[[np.ndarray], np.ndarray]


class ModelOutputError(ValueError):
    """The model's output does not fit the evaluation (wrong scale or type): a problem of the
    model or the options, not of one image, so a batch stops on it. `model_index` says which
    of several models it was."""

    def __init__(self, message: str, model_index: int = 0):
        super().__init__(message)
        self.model_index = model_index


@dataclass(frozen=True)
class Scores:
    psnr_y: float
    ssim_y: float
    psnr_rgb: float

    @classmethod
    def mean(cls, scores: Sequence[Scores]) -> Scores:
        if not scores:
            raise ValueError("no scores to average")
        return cls(
            psnr_y=float(np.mean([s.psnr_y for s in scores])),
            ssim_y=float(np.mean([s.ssim_y for s in scores])),
            psnr_rgb=float(np.mean([s.psnr_rgb for s in scores])),
        )


@dataclass(frozen=True)
class ImageScores:
    """The scores of one image; `height` and `width` are of the (cropped) HR image."""

    name: str
    height: int
    width: int
    model: Scores
    bicubic: Scores

    @property
    def gain_psnr_y(self) -> float:
        return self.model.psnr_y - self.bicubic.psnr_y


def colour_channels(image: np.ndarray) -> np.ndarray:
    """The image without its alpha channel: grey or BGR."""
    if image.ndim == 3 and image.shape[2] == 4:
        return image[..., :3]
    if image.ndim == 3 and image.shape[2] in (1, 2):  # gray, or gray and alpha
        return image[..., 0]
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3):
        return image
    raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")


def make_lr(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(mod-cropped HR, its MATLAB-bicubic LR) for an HR image."""
    hr = mod_crop(colour_channels(hr), scale)
    if min(hr.shape[:2]) < scale:
        raise ValueError(f"image of {hr.shape[1]}x{hr.shape[0]} is smaller than the scale {scale}")
    return hr, imresize(hr, 1.0 / scale)


def match_pair(hr: np.ndarray, lr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """A pre-made (HR, LR) pair with HR cropped to LR x scale, as when LR came from modcrop(HR)."""
    hr, lr = colour_channels(hr), colour_channels(lr)
    if hr.ndim != lr.ndim:
        raise ValueError("HR and LR differ in channels (one is grey, the other colour)")
    target = (lr.shape[0] * scale, lr.shape[1] * scale)
    fits = all(0 <= h - t < scale for h, t in zip(hr.shape[:2], target, strict=True))
    if not fits:
        raise ValueError(f"HR is {hr.shape[1]}x{hr.shape[0]} but LR x{scale} is "
                         f"{target[1]}x{target[0]}: not a pair at this scale")
    return hr[:target[0], :target[1]], lr


def score(sr: np.ndarray, hr: np.ndarray, *, scale: int, channel_order: str = "BGR") -> Scores:
    """Y-PSNR, Y-SSIM and RGB-PSNR of an SR image against HR, `scale` pixels cropped per edge."""
    return Scores(
        psnr_y=psnr_y(sr, hr, border=scale, channel_order=channel_order),
        ssim_y=ssim_y(sr, hr, border=scale, channel_order=channel_order),
        psnr_rgb=psnr_rgb(sr, hr, border=scale),
    )


def evaluate_image(name: str, hr: np.ndarray, upscale: UpscaleFn, *, scale: int,
                   lr: np.ndarray | None = None,
                   degrade: Callable[[np.ndarray], np.ndarray] | None = None,
                   ) -> tuple[ImageScores, np.ndarray]:
    """Score `upscale` and bicubic on one image; returns the scores and the SR image.

    `degrade`, when given, changes the LR image before both upscale it (JPEG, noise, ...); the
    scores stay against the clean HR image.
    """
    result = evaluate_image_models(name, hr, [upscale], scale=scale, lr=lr, degrade=degrade)
    return result.scores[0], result.srs[0]


@dataclass(frozen=True)
class EvaluatedImage:
    """One image through the protocol with one or more models: the images and their scores."""

    hr: np.ndarray  # mod-cropped (or matched to the LR), what everything is scored against
    lr: np.ndarray  # the input every upscaler saw (degraded when asked)
    bicubic: np.ndarray
    srs: tuple[np.ndarray, ...]  # one per model, in order
    scores: tuple[ImageScores, ...]  # one per model, each with the same bicubic scores


def evaluate_image_models(name: str, hr: np.ndarray, upscales: Sequence[UpscaleFn], *,
                          scale: int, lr: np.ndarray | None = None,
                          degrade: Callable[[np.ndarray], np.ndarray] | None = None,
                          ) -> EvaluatedImage:
    """`evaluate_image` for several models on the same LR input; bicubic is made once."""
    if lr is None:
        hr, lr = make_lr(hr, scale)
    else:
        hr, lr = match_pair(hr, lr, scale)
    if degrade is not None:
        lr = degrade(lr)
    srs = []
    for index, upscale in enumerate(upscales):
        sr = upscale(lr)
        if sr.shape != hr.shape:
            raise ModelOutputError(f"the model made a {_describe(sr)} image from a "
                                   f"{_describe(lr)} input; x{scale} needs {_describe(hr)} "
                                   f"(is the model's scale {scale}?)", index)
        if sr.dtype != hr.dtype:
            raise ModelOutputError(f"the model returned {sr.dtype} for a {hr.dtype} image",
                                   index)
        srs.append(sr)
    bicubic = imresize(lr, scale)
    bicubic_scores = score(bicubic, hr, scale=scale)
    scores = tuple(ImageScores(name=name, height=hr.shape[0], width=hr.shape[1],
                               model=score(sr, hr, scale=scale), bicubic=bicubic_scores)
                   for sr in srs)
    return EvaluatedImage(hr=hr, lr=lr, bicubic=bicubic, srs=tuple(srs), scores=scores)


def _describe(image: np.ndarray) -> str:
    channels = 1 if image.ndim == 2 else image.shape[2]
    return f"{image.shape[1]}x{image.shape[0]}x{channels}"


def finite_or_none(value: float) -> float | None:
    """JSON has no infinity: identical images (PSNR = inf) are written as null."""
    return value if math.isfinite(value) else None
