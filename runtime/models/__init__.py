"""The ONNX models shipped with uprez, one per scale (package data of `uprez.runtime.models`)."""

from __future__ import annotations

from pathlib import Path

# Scale -> file name in this folder. Explicit, so a stray .onnx file here is never picked up.
DEFAULT_MODEL_FILES = {
    2: "compact_x2.onnx",
    4: "compact_x4.onnx",
}


def default_model_path(scale: int) -> Path:
    """The shipped model for `scale`; LookupError when there is none for that scale."""
    name = DEFAULT_MODEL_FILES.get(scale)
    if name is None:
        shipped = ", ".join(f"x{s}" for s in sorted(DEFAULT_MODEL_FILES))
        raise LookupError(f"no model is shipped for x{scale} (shipped: {shipped}); "
                          "give one with --model")
    path = Path(__file__).with_name(name)
    if not path.is_file():
        raise LookupError(f"the shipped x{scale} model is missing from this install ({path}); "
                          "give one with --model")
    return path
