"""The models shipped inside the package, by name: `sr-run -m NAME`, `sr-run --list-models`.

How each was trained, scored and timed is in this folder's README.md (the model card).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ShippedModel:
    name: str
    scale: int
    purpose: str
    seconds_per_megapixel: float  # sr-run end to end on the 2-core CPU of the model card

    @property
    def path(self) -> Path:
        return MODELS_DIR / f"{self.name}.onnx"


@dataclass(frozen=True)
class AutoModel:
    """Two shipped models of one scale, chosen per input (runtime/auto.py)."""

    name: str
    scale: int
    clean: str  # for clean inputs
    real: str  # for inputs with JPEG damage at or below real_below_quality, and lossy video
    real_below_quality: int
    # Between the two, the outputs are blended: the real model's share grows linearly from 0 at
    # quality 100 to 1 at real_only_below_quality (a mildly compressed photo is best served by
    # a mix: model card, "Choosing per input")
    real_only_below_quality: int = 65

    def real_share(self, quality: int | None) -> float:
        """The real-input model's share of the output for an input of this JPEG quality
        (None: no JPEG damage found): 0 = the clean model alone, 1 = the real model alone."""
        if quality is None or quality > self.real_below_quality:
            return 0.0
        share = (100 - quality) / (100 - self.real_only_below_quality)
        return float(min(1.0, max(0.0, share)))


SHIPPED: tuple[ShippedModel, ...] = (
    ShippedModel("uprez-compact-x4", 4, "clean downscales: restores detail bicubic blurs", 3.5),
    ShippedModel("uprez-compact-x2", 2, "clean downscales: restores detail bicubic blurs", 3.5),
    ShippedModel("uprez-real-x4", 4, "real inputs: removes JPEG blocks and noise while "
                 "upscaling (phone and web photos, lossy video)", 4.0),
    ShippedModel("uprez-real-x2", 2, "real inputs: removes JPEG blocks and noise while "
                 "upscaling (phone and web photos, lossy video)", 4.0),
)
# real_below_quality: where the real model starts to beat the clean one on JPEG'd val photos
# (model card, "Choosing per input")
AUTO: tuple[AutoModel, ...] = (
    AutoModel("uprez-auto-x4", 4, clean="uprez-compact-x4", real="uprez-real-x4",
              real_below_quality=95, real_only_below_quality=65),
    AutoModel("uprez-auto-x2", 2, clean="uprez-compact-x2", real="uprez-real-x2",
              real_below_quality=95, real_only_below_quality=65),
)
DEFAULT_MODELS = {4: "uprez-auto-x4", 2: "uprez-auto-x2"}


class DefaultModelMissing(FileNotFoundError):
    """The default model for a scale is not in this installation."""


def shipped_model(name: str) -> ShippedModel | None:
    """The shipped model called `name` (with or without .onnx), else None."""
    name = name.removesuffix(".onnx")
    return next((model for model in SHIPPED if model.name == name), None)


def auto_model(name: str) -> AutoModel | None:
    """The shipped auto choice called `name`, else None."""
    return next((choice for choice in AUTO if choice.name == name), None)


def default_model_path(scale: int = 4) -> Path:
    """The file of the shipped default for `scale` (2 or 4), the clean model where the default
    is an auto choice; raises DefaultModelMissing naming the file."""
    if scale not in DEFAULT_MODELS:
        raise DefaultModelMissing(f"there is no default x{scale} model (defaults exist for "
                                  f"x2 and x4); pass --model PATH.onnx")
    name = DEFAULT_MODELS[scale]
    choice = auto_model(name)
    path = MODELS_DIR / f"{choice.clean if choice else name}.onnx"
    if not path.is_file():
        raise DefaultModelMissing(f"the default x{scale} model {path} is not in this "
                                  f"installation; pass --model PATH.onnx")
    return path


def resolve_model(model: str | Path) -> Path:
    """A model argument as a path: an existing file as it is, else a shipped model's name."""
    path = Path(model)
    if path.exists():
        return path
    shipped = shipped_model(str(model))
    return shipped.path if shipped is not None and shipped.path.is_file() else path


def model_table() -> str:
    """The shipped models, one line each: name, scale, size, speed, purpose; defaults marked."""
    rows = [("name", "scale", "size", "s/MP", "purpose")]
    for choice in AUTO:
        default = " (default)" if DEFAULT_MODELS.get(choice.scale) == choice.name else ""
        rows.append((choice.name + default, f"x{choice.scale}", "", "",
                     f"{choice.real} for inputs with JPEG damage found in the pixels (alone "
                     f"at quality <= {choice.real_only_below_quality}, blended with "
                     f"{choice.clean} up to {choice.real_below_quality}) and for lossy video, "
                     f"{choice.clean} for the rest"))
    for model in SHIPPED:
        size = f"{model.path.stat().st_size / 1e6:.2f} MB" if model.path.is_file() else "missing"
        default = " (default)" if DEFAULT_MODELS.get(model.scale) == model.name else ""
        rows.append((model.name + default, f"x{model.scale}", size,
                     f"{model.seconds_per_megapixel:g}", model.purpose))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
             + "  " + row[4] for row in rows]
    return "\n".join(lines) + ("\n\ns/MP: seconds per input megapixel, sr-run end to end on a "
                               "2-core CPU (runtime/models/README.md)")
