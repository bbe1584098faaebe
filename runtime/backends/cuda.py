"""onnxruntime on NVIDIA GPUs: the CUDA and TensorRT providers, fp16, device-side I/O.

- Libraries: `uprez[cuda]` installs onnxruntime-gpu with the CUDA and cuDNN wheels, which
  `preload_dlls` loads, so a machine with only the NVIDIA driver runs.
- Precision: fp16 where the model's metadata allows it (`precision.py`). CUDA runs an fp16 copy
  of the graph (`half.py`); TensorRT builds fp16 engines from the fp32 graph.
- I/O binding: each batch is copied to the GPU as a device OrtValue before the run and the
  output stays on the GPU until one copy back, instead of onnxruntime's staging inside `run`.
  The Upscaler keeps two batches in flight per GPU, so one batch's copies run while the other
  computes (onnxruntime gives concurrent runs their own CUDA streams).
- TensorRT: one session per input shape, its profile fixed to that shape, with the engine and
  timing caches in the user cache keyed by model bytes, GPU model, precision and shape (the
  timing cache by GPU alone), so each engine is built once. Probing and any failure of a shape
  use a plain CUDA session.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from uprez.runtime.backends import cache
from uprez.runtime.backends.engine import DeviceError, Engine
from uprez.runtime.backends.half import fp16_model
from uprez.runtime.backends.nvidia import Gpu, free_memory
from uprez.runtime.backends.ort import (
    CPU,
    CUDA,
    TENSORRT,
    OrtApi,
    captured_native_output,
    one_line,
    session_signature,
    try_session,
)
from uprez.runtime.backends.precision import choose_precision
from uprez.runtime.metadata import ModelInfo

INSTALL = 'pip install "uprez[cuda]"'
KEEP_ENGINES = 4  # TensorRT shapes kept loaded


class GpuUnavailable(Exception):
    """CUDA (or TensorRT) cannot start on a GPU that is there; the message is the reason."""


class CudaEngine(Engine):
    on_gpu = True
    lanes = 2  # one batch copies while the other computes

    def __init__(self, session, gpu: Gpu, precision: str, provider: str = CUDA):
        self.session = session
        self.gpu = gpu
        self.device_id = gpu.index
        self.precision = precision
        self.provider = provider
        self.signature = session_signature(session)
        self._output = session.get_outputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return run_bound(self.session, self.signature.input_name, self._output, batch,
                         self.device_id)

    def free_memory(self) -> int | None:
        return free_memory(self.gpu)


class TensorrtEngine(CudaEngine):
    fixed_shapes = True

    def __init__(self, fallback, gpu: Gpu, precision: str, make_session):
        super().__init__(fallback, gpu, precision, TENSORRT)
        self._make_session = make_session  # shape -> session whose first provider is TensorRT
        self._sessions: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self._lock = threading.Lock()

    def probe(self, batch: np.ndarray) -> np.ndarray:
        return super().run(batch)  # the CUDA session: no engine build for a probe's shape

    def run(self, batch: np.ndarray) -> np.ndarray:
        session = self._session_for(tuple(batch.shape))
        return run_bound(session, self.signature.input_name, self._output, batch, self.device_id)

    def _session_for(self, shape: tuple[int, ...]):
        with self._lock:  # an engine build takes minutes once; later runs load it from cache
            session = self._sessions.get(shape)
            if session is None:
                session = self._make_session(shape) or self.session
                self._sessions[shape] = session
                while len(self._sessions) > KEEP_ENGINES:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(shape)
            return session


def run_bound(session, input_name: str, output_name: str, batch: np.ndarray,
              device_id: int) -> np.ndarray:
    """One run with the input copied to the GPU first and the output left there until read."""
    import onnxruntime as ort

    binding = session.io_binding()
    value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch), "cuda", device_id)
    binding.bind_ortvalue_input(input_name, value)
    binding.bind_output(output_name, "cuda", device_id)
    session.run_with_iobinding(binding)
    return binding.copy_outputs_to_cpu()[0]


def open_gpu(model_path: Path, kind: str, gpu: Gpu, precision: str, info: ModelInfo,
             api: OrtApi) -> CudaEngine:
    """A CUDA or TensorRT engine on `gpu`; GpuUnavailable says why it cannot start."""
    available = api.available_providers()
    if CUDA not in available:
        raise GpuUnavailable("the installed onnxruntime has no CUDA support (it is the "
                             "CPU-only package)")
    if kind == "tensorrt" and TENSORRT not in available:
        raise GpuUnavailable("this onnxruntime build has no TensorRT provider")
    chosen = choose_precision(precision, info, ("fp16",), f"CUDA on {gpu.name}")
    with captured_native_output() as preload:  # it prints each library it cannot find
        try:
            api.preload_dlls()
        except Exception:  # noqa: BLE001 - what is missing shows when the session starts
            pass
    graph = model_path
    if kind == "cuda" and chosen == "fp16" and info.precision != "fp16":
        try:
            graph = fp16_model(model_path)
        except DeviceError:
            if precision != "auto":
                raise
            chosen = "fp32"  # auto: without the converter, full precision is still right
    session, reason = try_session(graph, [_cuda(gpu), CPU], api)
    if session is None or session.get_providers()[0] != CUDA:
        raise GpuUnavailable(reason or _missing_library(preload.get("text", ""))
                             or "the CUDA provider did not start")
    if kind == "cuda":
        return CudaEngine(session, gpu, chosen)
    name = session.get_inputs()[0].name
    key = (cache.model_key(model_path), f"{gpu.key()}-{chosen}")

    def tensorrt_session(shape: tuple[int, ...]):
        providers = [_tensorrt(gpu, chosen, name, shape, key), _cuda(gpu), CPU]
        built, _ = try_session(model_path, providers, api)
        return built if built is not None and built.get_providers()[0] == TENSORRT else None

    return TensorrtEngine(session, gpu, chosen, tensorrt_session)


def _missing_library(text: str) -> str | None:
    """'Failed to load libcublasLt.so.13: ...' from preload_dlls, as one line."""
    lines = [ln for ln in text.splitlines() if ln.startswith("Failed to load")]
    return one_line(lines[0].removeprefix("Failed to load ")) if lines else None


def _cuda(gpu: Gpu) -> tuple[str, dict]:
    return (CUDA, {
        "device_id": gpu.index,
        # the default (EXHAUSTIVE) benchmarks every conv algorithm again for each new input
        # shape; the heuristic pick is close in speed and costs nothing per shape
        "cudnn_conv_algo_search": "HEURISTIC",
        "cudnn_conv_use_max_workspace": "1",
        "arena_extend_strategy": "kSameAsRequested",
    })


def _tensorrt(gpu: Gpu, precision: str, input_name: str, shape: tuple[int, ...],
              key: tuple[str, str]) -> tuple[str, dict]:
    dims = f"{input_name}:{'x'.join(map(str, shape))}"
    options = {
        "device_id": gpu.index,
        "trt_fp16_enable": precision == "fp16",
        # one shape per engine: the tiler gives every window the same shape
        "trt_profile_min_shapes": dims, "trt_profile_opt_shapes": dims,
        "trt_profile_max_shapes": dims,
    }
    engines = cache.entry_folder("tensorrt", *key, "x".join(map(str, shape)))
    timing = cache.entry_folder("tensorrt-timing", gpu.key())
    if engines is not None:
        options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(engines))
    if timing is not None:
        options.update(trt_timing_cache_enable=True, trt_timing_cache_path=str(timing))
    return (TENSORRT, options)
