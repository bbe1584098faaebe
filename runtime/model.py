"""Open an ONNX super-resolution model: metadata, engines, and a probe run that checks it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uprez.runtime.backends import Engine, ModelError, open_engines
from uprez.runtime.base import console
from uprez.runtime.base.weights import checkpoint_kind
from uprez.runtime.metadata import MetadataError, ModelInfo
from uprez.runtime.onnx_file import NotProtobuf, read_metadata_props


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    engines: tuple[Engine, ...]  # one per device; run() is safe to call from several threads
    notice: str | None  # one line for the user about the device choice, else None
    info: ModelInfo  # scale always filled in (metadata, else the probe)

    @property
    def engine(self) -> Engine:
        return self.engines[0]

    @property
    def fixed_batch(self) -> int | None:  # a model exported with a static batch size
        return self.engine.signature.fixed_batch

    @property
    def fixed_size(self) -> tuple[int, int] | None:  # a model exported with a static H x W
        return self.engine.signature.fixed_size


def load_model(path: str | os.PathLike, device: str = "auto", precision: str = "auto",
               cpu_threads: int | None = None) -> LoadedModel:
    """Load and probe; raises ModelError (one line) for anything that is not a usable SR model,
    DeviceError for a device or precision that cannot run here."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"model path is a folder, not an .onnx file: {path}")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    _refuse_checkpoint(path)
    try:
        info = ModelInfo.from_props(read_metadata_props(path))
    except NotProtobuf:
        raise ModelError(f"cannot load model {path}: not an ONNX model (protobuf parsing "
                         "failed)") from None
    except MetadataError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc.strerror or exc}") from None
    opened = open_engines(path, device, precision, info, cpu_threads=cpu_threads)
    signature = opened.engines[0].signature
    if signature.inputs != 1 or signature.outputs < 1 or len(signature.input_shape) != 4:
        raise ModelError(f"{path} is not an image model: it must take one NCHW image tensor")
    channels = signature.input_shape[1]
    if channels is not None and channels != 3:
        raise ModelError(f"{path} takes {channels}-channel input; uprez runs 3-channel models")
    if signature.input_dtype is None:
        raise ModelError(f"{path} takes {signature.input_type} input; uprez runs float models")
    probed = 0
    for engine in opened.engines:  # every device must run it
        probed = _probe_scale(engine, info, path)
    if info.scale is not None and info.scale != probed:
        raise ModelError(f"{path}: metadata says x{info.scale} but the model outputs x{probed}")
    info = dataclasses.replace(info, scale=probed)
    return LoadedModel(path, opened.engines, opened.notice, info)


def _refuse_checkpoint(path: Path) -> None:
    """A PyTorch or safetensors checkpoint given as the model: say what it is and how to get an
    ONNX model from it, rather than that protobuf parsing failed."""
    try:
        with open(path, "rb") as handle:
            kind = checkpoint_kind(handle.read(16))
    except OSError:
        return  # reading it for real says what is wrong
    if kind is not None:
        onnx_name = path.with_suffix(".onnx").name
        raise ModelError(f"{path} is a {kind} checkpoint, not an ONNX model: export it first "
                         f"with `sr-export {path}` (it says what to install if PyTorch is "
                         f"missing), then use -m {path.parent / onnx_name}")


def _probe_scale(engine: Engine, info: ModelInfo, path: Path) -> int:
    """Run the model once on a small input: proves it runs, and measures its scale."""
    multiple = info.size_multiple
    side = -(-max(16, multiple) // multiple) * multiple
    signature = engine.signature
    height, width = signature.fixed_size or (side, side)
    probe = np.full((signature.fixed_batch or 1, 3, height, width), 0.5, signature.input_dtype)
    try:
        out = engine.probe(probe)
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
