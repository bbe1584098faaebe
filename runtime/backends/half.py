"""An fp16 copy of an fp32 ONNX model for the CUDA provider, made once and kept in the cache.

onnxruntime's CUDA provider runs a graph in the precision it is written in, so half precision
needs a half-precision graph. onnxruntime's own converter writes it (float32 inputs and outputs
kept, casts inside); it needs the onnx package, which `uprez[cuda]` installs. The copy lives in
the user cache under the fp32 model's SHA-256, so a changed model is converted again.
"""

from __future__ import annotations

from pathlib import Path

from uprez.runtime.backends import cache
from uprez.runtime.backends.engine import DeviceError


def fp16_model(model_path: Path) -> Path:
    """The path of the fp16 copy, converting now if there is none yet."""
    try:
        import onnx  # noqa: TID251 - only here, for the [cuda] extra's fp16 conversion
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError:
        raise DeviceError('--precision fp16 on CUDA needs the onnx package to convert the '
                          'model: pip install "uprez[cuda]" (or use --precision fp32)') from None
    folder = cache.entry_folder("fp16", cache.model_key(model_path))
    target = (folder or Path(_temp_folder())) / "model_fp16.onnx"
    if target.is_file():
        return target
    model = onnx.load(str(model_path))
    converted = convert_float_to_float16(model, keep_io_types=True)
    partial = target.with_suffix(".onnx.partial")
    onnx.save(converted, str(partial))
    partial.replace(target)  # whole or absent: a crash mid-write leaves no half file
    return target


def _temp_folder() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="uprez-fp16-")
