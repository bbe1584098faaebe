"""The default models shipped inside the package (added by a later release)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_MODELS = {4: "uprez-compact-x4.onnx", 2: "uprez-compact-x2.onnx"}


class DefaultModelMissing(FileNotFoundError):
    """The default model for a scale is not in this installation."""


def default_model_path(scale: int = 4) -> Path:
    """The shipped default model for `scale` (2 or 4); raises DefaultModelMissing naming the file."""
    if scale not in DEFAULT_MODELS:
        raise DefaultModelMissing(
            f"there is no default x{scale} model (defaults exist for x2 and x4); pass --model PATH.onnx")
    path = MODELS_DIR / DEFAULT_MODELS[scale]
    if not path.is_file():
        raise DefaultModelMissing(
            f"the default x{scale} model {path} is not in this installation; pass --model PATH.onnx")
    return path
