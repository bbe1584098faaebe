"""OpenVINO on the CPU: the ONNX file compiled by the OpenVINO runtime (`uprez[openvino]`).

- Shapes: a model is compiled once per input shape (static shapes run faster than a dynamic
  model, and the tiler gives every window of an image the same shape); the last few stay in
  memory, and the compiled blobs go to the user cache (`cache.py`), in a folder per model bytes,
  OpenVINO version, precision and input shape, so a changed model or tile shape never loads a
  stale blob.
- Precision: always set explicitly. bf16 (or fp16) only where the CPU reports it in
  OPTIMIZATION_CAPABILITIES, chosen by `precision.choose_precision`; fp32 must be asked for by
  name too, because OpenVINO itself defaults to bf16 on CPUs with AMX.
- Threads: one stream with as many threads as this process may use, not pinned to cores, so the
  decode and encode threads still get scheduled between them.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from uprez.runtime.backends import cache
from uprez.runtime.backends.engine import Engine, ModelError, Signature
from uprez.runtime.backends.precision import choose_precision
from uprez.runtime.metadata import ModelInfo

INSTALL = 'pip install "uprez[openvino]"'
PROVIDER = "OpenVINO CPU"
KEEP_COMPILED = 4  # input shapes kept compiled in memory (an image's windows share one)
_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_CAPABILITIES = (("bf16", "BF16"), ("fp16", "FP16"))  # reduced precisions, best first


@functools.cache
def _core():
    """One OpenVINO Core for the process, never released: a second Core's teardown unloads the
    CPU plugin under the first, after which the next signal (Ctrl-C) crashes the process."""
    import openvino as ov

    return ov.Core()


def installed() -> bool:
    try:
        import openvino  # noqa: F401 - the extra is there when this imports
    except ImportError:
        return False
    return True


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OpenVinoEngine(Engine):
    provider = PROVIDER

    def __init__(self, model_path: Path, precision: str, info: ModelInfo,
                 threads: int | None = None):
        import openvino as ov

        self._ov = ov
        self._core = _core()
        capabilities = tuple(self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        reduced = tuple(name for name, flag in _CAPABILITIES if flag in capabilities)
        self.precision = choose_precision(
            precision, info, reduced, f"OpenVINO on this CPU ({', '.join(capabilities)})")
        try:
            self._model = self._core.read_model(str(model_path))
        except RuntimeError as exc:
            raise ModelError(f"cannot load model {model_path}: {_first_line(exc)}") from None
        self.signature = _signature(self._model)
        self._config = {
            "INFERENCE_PRECISION_HINT": _HINTS[self.precision],
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "INFERENCE_NUM_THREADS": threads or cpu_threads(),
            "ENABLE_CPU_PINNING": False,
        }
        version = ov.get_version().split("-")[0]
        self._cache_key = (cache.model_key(model_path), f"openvino-{version}-{self.precision}")
        self._compiled: OrderedDict[tuple[int, ...], _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._for_shape(tuple(batch.shape)).run(np.ascontiguousarray(batch))

    def _for_shape(self, shape: tuple[int, ...]) -> _Compiled:
        with self._lock:  # one compile at a time; runs of compiled shapes do not wait
            compiled = self._compiled.get(shape)
            if compiled is None:
                compiled = _Compiled(self._ov, self._compile(shape))
                self._compiled[shape] = compiled
                while len(self._compiled) > KEEP_COMPILED:
                    self._compiled.popitem(last=False)
            self._compiled.move_to_end(shape)
            return compiled

    def _compile(self, shape: tuple[int, ...]):
        model = self._model.clone()
        model.reshape({model.input().get_any_name(): self._ov.PartialShape(list(shape))})
        config = dict(self._config)
        folder = cache.entry_folder("openvino", *self._cache_key, "x".join(map(str, shape)))
        fresh = folder is not None and not any(folder.iterdir())
        if folder is not None:
            config["CACHE_DIR"] = str(folder)
        compiled = self._core.compile_model(model, "CPU", config)
        if fresh:
            cache.prune("openvino", keep=folder)
        return compiled


class _Compiled:
    """One compiled shape and its idle infer requests (a request serves one thread at a time)."""

    def __init__(self, ov, compiled):
        self._ov = ov
        self._compiled = compiled
        output = compiled.output(0)
        self._output_shape = tuple(output.get_shape())
        self._output_dtype = output.get_element_type().to_dtype()
        self._idle: list = []
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            request = self._idle.pop() if self._idle else self._compiled.create_infer_request()
        try:
            # the request reads and writes these arrays in place: no copies, and the returned
            # array belongs to the caller (the next run gets a fresh one)
            out = np.empty(self._output_shape, self._output_dtype)
            request.set_input_tensor(self._ov.Tensor(batch, shared_memory=True))
            request.set_output_tensor(self._ov.Tensor(out, shared_memory=True))
            request.infer()
        finally:
            with self._lock:
                self._idle.append(request)
        return out


def _signature(model) -> Signature:
    inputs, outputs = model.inputs, model.outputs
    if not inputs:
        return Signature(0, len(outputs), "", (), "none")
    first = inputs[0]
    shape = tuple(None if d.is_dynamic else d.get_length() for d in first.get_partial_shape())
    dtype = first.get_element_type().to_dtype()
    kind = "float32" if dtype == np.float32 else "float16" if dtype == np.float16 else str(dtype)
    return Signature(len(inputs), len(outputs), first.get_any_name(), shape, kind)


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(exc).__name__
