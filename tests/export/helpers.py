"""ONNX inspection helpers, and the tiny models in every checkpoint layout sr-export reads
(tests/trainer/weight_layouts.py, beside the reader and the detectors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from uprez.runtime.metadata import ModelInfo

from ..trainer.weight_layouts import perturbed, save_layout, tiny_model  # noqa: F401


def onnx_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_output(path: Path, x: np.ndarray) -> np.ndarray:
    return onnx_session(path).run(["output"], {"input": x})[0]


def onnx_info(path: Path) -> tuple[ModelInfo, dict[str, str]]:
    session = onnx_session(path)
    props = session.get_modelmeta().custom_metadata_map
    return ModelInfo.from_props(props), props


def torch_output(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()
