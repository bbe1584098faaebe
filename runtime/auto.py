"""The default model: a clean and a real-input model of one scale, chosen per input.

One small model cannot be best at both: a model trained on JPEG and noise smooths the fine
detail of a clean downscale, and a model trained on clean downscales sharpens JPEG blocks along
with the edges. So the shipped default (`uprez-auto-x4`, `uprez-auto-x2`) looks at each input's
pixels (`runtime.compression`: a JPEG saved as PNG counts too) and upscales it with the real-input
model when it finds heavy JPEG damage, with both and a blend of their outputs for milder damage
(the real model's share falls with the JPEG quality found, to none above `real_below_quality`),
and with the clean model alone when it finds none. A video is compressed by its codec, so it gets
the real-input model unless its codec is lossless. The model card (runtime/models/README.md) has
the measurements behind the shares.
"""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np

from uprez.runtime.compression import estimate_jpeg
from uprez.runtime.models import AutoModel
from uprez.runtime.upscaler import Upscaler

# ffmpeg codec names whose video holds the source's pixels exactly
LOSSLESS_VIDEO_CODECS = frozenset({
    "ffv1", "huffyuv", "ffvhuff", "png", "rawvideo", "utvideo", "magicyuv", "qtrle", "r210",
    "v210", "v308", "v408", "v410", "y41p", "yuv4", "zlib", "lagarith", "apng", "tiff", "bmp"})


class AutoUpscaler:
    """Upscaler's image API over two Upscalers; each call picks one (thread-safe)."""

    def __init__(self, choice: AutoModel, **options):
        self.choice = choice
        self.clean = Upscaler(choice.clean, **options)
        self.real = Upscaler(choice.real, **options)
        if self.clean.scale != self.real.scale:
            raise ValueError(f"{choice.name}: its models differ in scale")
        self.scale = self.clean.scale
        self.provider = self.clean.provider
        self.precision = self.clean.precision
        self.notice = self.clean.notice
        self.batch = self.clean.batch
        self.parallel_images = self.clean.parallel_images
        self._lock = threading.Lock()
        self._used: Counter[str] = Counter()

    def real_share(self, image: np.ndarray) -> float:
        """The real-input model's share of this image's output (AutoModel.real_share)."""
        return self.choice.real_share(estimate_jpeg(image).quality)

    def pick(self, image: np.ndarray) -> Upscaler:
        """The model with the larger share for this image: the real-input one for JPEG damage
        at or below the blend's midpoint, else the clean one."""
        return self.real if self.real_share(image) >= 0.5 else self.clean

    def pick_for_video(self, codec: str) -> Upscaler:
        return self.clean if codec in LOSSLESS_VIDEO_CODECS else self.real

    def upscale(self, image: np.ndarray, **options) -> np.ndarray:
        share = self.real_share(image)
        if share in (0.0, 1.0):
            upscaler = self.real if share else self.clean
            self._count(_name(upscaler))
            return upscaler.upscale(image, **options)
        self._count(f"{_name(self.real)} + {_name(self.clean)} blended")
        progress = options.pop("progress", None)  # one model's tiles fill the bar once
        real = self.real.upscale(image, **options)
        clean = self.clean.upscale(image, progress=progress, **options)
        return _blend(real, clean, share)

    def _count(self, name: str) -> None:
        with self._lock:
            self._used[name] += 1

    def pick_for_frames(self, frames: list[np.ndarray]) -> Upscaler:
        """The one model for all frames of an animation, picked by its first frame (frames
        upscaled by two models would flicker); `usage` counts the animation as one input."""
        upscaler = self.pick(frames[0])
        self._count(_name(upscaler))
        return upscaler

    def describe(self) -> str:
        return (f"{self.choice.name}: {self.real.describe()} for inputs with JPEG damage, "
                f"{_name(self.clean)} for clean ones, the two blended for mild damage")

    def label(self) -> str:
        return self.clean.label()

    def usage(self) -> str:
        """How many images each model upscaled so far, e.g. '2 by uprez-real-x4, 1 by ...'."""
        return usage_line(self.used())

    def used(self) -> Counter[str]:
        """How many inputs each model upscaled so far, by model name."""
        with self._lock:
            return Counter(self._used)


def usage_line(used: Counter[str]) -> str:
    """'2 by uprez-real-x4, 1 by uprez-compact-x4': the summary's account of the auto choice."""
    return ", ".join(f"{count} by {name}" for name, count in used.most_common())


def _name(upscaler: Upscaler) -> str:
    return upscaler.info.name or upscaler.model_path.stem


def _blend(real: np.ndarray, clean: np.ndarray, share: float) -> np.ndarray:
    """share * real + (1 - share) * clean, rounded back to the images' integer type."""
    mixed = share * real.astype(np.float32) + (1.0 - share) * clean.astype(np.float32)
    return np.clip(np.rint(mixed), 0, np.iinfo(real.dtype).max).astype(real.dtype)


def open_upscaler(model=None, *, scale: int | None = None, **options):
    """An Upscaler for a model file or shipped name, or an AutoUpscaler for an auto choice (the
    default for `scale` when `model` is None). Raises the Upscaler's ModelError/DeviceError."""
    from uprez.runtime.models import DEFAULT_MODELS, auto_model

    name = str(model) if model is not None else DEFAULT_MODELS.get(scale or 4)
    choice = auto_model(name) if name is not None else None
    if choice is None:
        return Upscaler(model, scale=scale, **options)
    if scale is not None and scale != choice.scale:
        from uprez.runtime.backends import ModelError

        raise ModelError(f"{choice.name} is a x{choice.scale} model, not x{scale}")
    return AutoUpscaler(choice, **options)
