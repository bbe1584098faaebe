"""Inference backends behind one seam: a model file and a `--device` in, `Engine`s out.

| --device   | backend                                  | precisions            |
| ---------- | ---------------------------------------- | --------------------- |
| cpu        | onnxruntime, CPU provider (`ort.py`)     | fp32                  |
| openvino   | OpenVINO runtime (`openvino.py`)         | fp32, bf16/fp16 where the CPU has them |
| cuda[:N..] | onnxruntime, CUDA provider (`cuda.py`)   | fp32, fp16            |
| tensorrt   | onnxruntime, TensorRT provider (`cuda.py`) | fp32, fp16          |

`auto` takes CUDA when an NVIDIA GPU is there and CUDA starts, else OpenVINO when it is
installed, else onnxruntime's CPU provider. A machine without an NVIDIA GPU hears nothing about
GPUs; a GPU that is there but cannot run gets one line with the reason and the install command.
An explicit device that cannot run is a DeviceError (a usage error).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from uprez.runtime.backends import cuda, nvidia, ort
from uprez.runtime.backends import openvino as ov_backend
from uprez.runtime.backends.devices import DeviceRequest, parse_device
from uprez.runtime.backends.engine import DeviceError, Engine, ModelError
from uprez.runtime.backends.gpu_plan import plan_gpus
from uprez.runtime.backends.precision import choose_precision
from uprez.runtime.metadata import ModelInfo

__all__ = ["DeviceError", "Engine", "ModelError", "Opened", "open_engines", "parse_device"]


@dataclass(frozen=True)
class Opened:
    engines: tuple[Engine, ...]  # one per device (several for cuda:0,1)
    notice: str | None = None  # one line for the user: why a GPU that is there is not used


def open_engines(model_path: Path, device: str | DeviceRequest, precision: str,
                 info: ModelInfo, *, api: ort.OrtApi | None = None,
                 gpus: nvidia.GpuScan | None = None, cpu_threads: int | None = None) -> Opened:
    """Engines for the model on the device; `api` and `gpus` stand in for a GPU machine.
    `cpu_threads`: inference threads of a CPU engine (default: all the cores this process may
    use), for processes that share a machine's cores (sr-run --cluster's workers)."""
    request = parse_device(device) if isinstance(device, str) else device
    api = api or ort.API
    if request.kind == "cpu":
        return Opened((_cpu(model_path, precision, info, api, cpu_threads),))
    if request.kind == "openvino":
        if not ov_backend.installed():
            raise DeviceError(f"--device openvino needs OpenVINO, which is not installed: "
                              f"{ov_backend.INSTALL}")
        return Opened((ov_backend.OpenVinoEngine(model_path, precision, info, cpu_threads),))
    scan = gpus if gpus is not None else nvidia.scan()
    if request.on_gpu:
        return Opened(_gpus(model_path, request, precision, info, api, scan))
    notice = None
    if scan.gpus:
        try:
            return Opened((cuda.open_gpu(model_path, "cuda", scan.gpus[0], precision, info,
                                         api),))
        except cuda.GpuUnavailable as exc:
            notice = (f"{scan.gpus[0].name} found but CUDA cannot start ({exc}); running on "
                      f"the CPU. For the GPU: {cuda.INSTALL}")
    elif scan.problem:
        notice = f"NVIDIA GPU not usable: {scan.problem}; running on the CPU"
    if ov_backend.installed():
        return Opened((ov_backend.OpenVinoEngine(model_path, precision, info, cpu_threads),),
                      notice)
    return Opened((_cpu(model_path, precision, info, api, cpu_threads),), notice)


def _cpu(model_path: Path, precision: str, info: ModelInfo, api: ort.OrtApi,
         threads: int | None = None) -> Engine:
    advice = f"--device openvino runs bf16 where the CPU has it ({ov_backend.INSTALL})"
    chosen = choose_precision(precision, info, (), "onnxruntime's CPU provider", advice)
    return ort.open_cpu(model_path, info.precision if chosen == "fp32" else chosen, api,
                        threads)


def _gpus(model_path: Path, request: DeviceRequest, precision: str, info: ModelInfo,
          api: ort.OrtApi, scan: nvidia.GpuScan) -> tuple[Engine, ...]:
    if not scan.gpus:
        why = scan.problem or "no NVIDIA GPU found (no NVIDIA driver answers)"
        raise DeviceError(f"--device {request.text}: {why}; on a machine with an NVIDIA GPU: "
                          f"{cuda.INSTALL}")
    engines = []
    for gpu in plan_gpus(request, scan.gpus):
        try:
            engines.append(cuda.open_gpu(model_path, request.kind, gpu, precision, info, api))
        except cuda.GpuUnavailable as exc:
            ort.create_cpu_session(model_path, api)  # raises ModelError if the model is bad
            raise DeviceError(f"--device {request.text}: {exc}; {cuda.INSTALL}") from None
    return tuple(engines)
