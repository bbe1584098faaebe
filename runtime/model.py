"""Open an ONNX super-resolution model: session, metadata, and a probe run that checks it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uprez.runtime.base import console
from uprez.runtime.metadata import MetadataError, ModelInfo
from uprez.runtime.session import ModelError, load_session


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    session: object  # onnxruntime.InferenceSession; run() is safe to call from several threads
    provider: str
    device_id: int
    fallback_reason: str | None
    info: ModelInfo  # scale always filled in (metadata, else the probe)
    input_name: str
    input_dtype: type
    fixed_batch: int | None  # a model exported with a static batch size
    fixed_size: tuple[int, int] | None  # a model exported with a static H x W


def load_model(path: str | os.PathLike, device: str = "auto") -> LoadedModel:
    """Load and probe; raises ModelError (one line) for anything that is not a usable SR model."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"model path is a folder, not an .onnx file: {path}")
    loaded = load_session(path, device)
    session = loaded.session
    try:
        info = ModelInfo.from_props(session.get_modelmeta().custom_metadata_map)
    except MetadataError as exc:
        raise ModelError(f"{path}: {exc}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1 or len(inputs[0].shape) != 4:
        raise ModelError(f"{path} is not an image model: it must take one NCHW image tensor")
    shape = inputs[0].shape
    if isinstance(shape[1], int) and shape[1] != 3:
        raise ModelError(f"{path} takes {shape[1]}-channel input; uprez runs 3-channel models")
    dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16}.get(inputs[0].type)
    if dtype is None:
        raise ModelError(f"{path} takes {inputs[0].type} input; uprez runs float models")
    fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    static_hw = all(isinstance(d, int) and d > 0 for d in shape[2:])
    fixed_size = (shape[2], shape[3]) if static_hw else None
    probed = _probe_scale(session, inputs[0].name, dtype, info, fixed_size, fixed_batch, path)
    if info.scale is not None and info.scale != probed:
        raise ModelError(f"{path}: metadata says x{info.scale} but the model outputs x{probed}")
    info = dataclasses.replace(info, scale=probed)
    return LoadedModel(path, session, loaded.provider, loaded.device_id, loaded.fallback_reason,
                       info, inputs[0].name, dtype, fixed_batch, fixed_size)


def _probe_scale(session, input_name: str, dtype, info: ModelInfo, fixed_size, fixed_batch,
                 path: Path) -> int:
    """Run the model once on a small input: proves it runs, and measures its scale."""
    multiple = info.size_multiple
    side = -(-max(16, multiple) // multiple) * multiple
    height, width = fixed_size or (side, side)
    probe = np.full((fixed_batch or 1, 3, height, width), 0.5, dtype)
    try:
        out = session.run(None, {input_name: probe})[0]
    except Exception as exc:
        raise ModelError(f"{path}: the model failed on a {height}x{width} test input: "
                         f"{console.first_line(exc)}") from None
    out_shape = getattr(out, "shape", ())
    if len(out_shape) != 4 or out_shape[1] != 3 or out_shape[2] % height or out_shape[3] % width:
        raise ModelError(f"{path} is not an image upscaler: a 3x{height}x{width} input gave "
                         f"an output of shape {tuple(out_shape)}")
    scale = out_shape[2] // height
    if scale < 1 or out_shape[3] // width != scale:
        raise ModelError(f"{path} scales height and width differently ({tuple(out_shape)})")
    return scale
