"""onnxruntime sessions: load a model on the asked-for device, quietly, and say what ran.

`--device auto` tries CUDA and falls back to CPU with one line saying why. onnxruntime prints
provider-loading failures straight to the C stdout/stderr, so those attempts run with both file
descriptors captured: the terminal stays clean and the reason can be quoted in one line.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|tensorrt(:\d+)?)$")
# onnxruntime log severities (0 verbose .. 4 fatal). Provider start-up errors are logged at 3
# and captured (see module docstring) to quote the reason; afterwards only fatal messages may
# print, because every failure reaches the user through uprez's own message.
_ORT_ERRORS = 3
_ORT_FATAL = 4
_capture_lock = threading.Lock()


class ModelError(Exception):
    """A model file that is missing or cannot be used; the message is one line."""


class DeviceError(Exception):
    """An explicitly requested device that cannot run here; the message is one line."""


@dataclass(frozen=True)
class LoadedSession:
    session: object  # onnxruntime.InferenceSession
    provider: str
    device_id: int
    fallback_reason: str | None  # why `auto` did not get a GPU, else None


def parse_device(device: str) -> tuple[str, int]:
    """'cuda:1' -> ('cuda', 1); ValueError for anything but auto|cpu|cuda[:N]|tensorrt."""
    device = device.strip().lower()
    if not DEVICE_PATTERN.match(device):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or tensorrt, not {device!r}")
    kind, _, index = device.partition(":")
    return kind, int(index or 0)


def load_session(model_path: Path, device: str) -> LoadedSession:
    """Create an InferenceSession for the model on the device; see module docstring."""
    import onnxruntime as ort

    kind, device_id = parse_device(device)
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")
    ort.set_default_logger_severity(_ORT_ERRORS)
    try:
        return _load(ort, model_path, device, kind, device_id)
    finally:
        ort.set_default_logger_severity(_ORT_FATAL)


def _load(ort, model_path: Path, device: str, kind: str, device_id: int) -> LoadedSession:
    if kind == "cpu":
        return LoadedSession(_create_cpu(model_path), CPU, 0, None)
    wanted = TENSORRT if kind == "tensorrt" else CUDA
    session = None
    if wanted not in ort.get_available_providers():
        reason = f"this onnxruntime build has no {wanted} (install onnxruntime-gpu)"
    else:
        session, reason = _try_create(model_path, _gpu_providers(kind, device_id))
        if session is not None and session.get_providers()[0] == wanted:
            return LoadedSession(session, wanted, device_id, None)
        reason = reason or f"{wanted} could not start"
    if session is None or session.get_providers()[0] != CPU:
        session = _create_cpu(model_path)  # raises ModelError when the model itself is bad
    if kind != "auto":
        raise DeviceError(f"--device {device}: {reason}")
    return LoadedSession(session, CPU, 0, reason)


def _gpu_providers(kind: str, device_id: int) -> list:
    cuda = (CUDA, {
        "device_id": device_id,
        # the default (EXHAUSTIVE) benchmarks every conv algorithm again for each new input
        # shape; the heuristic pick is close in speed and costs nothing per shape
        "cudnn_conv_algo_search": "HEURISTIC",
        "cudnn_conv_use_max_workspace": "1",
        "arena_extend_strategy": "kSameAsRequested",
    })
    if kind != "tensorrt":
        return [cuda, CPU]
    # fp16 stays off: a model's fp16_safe metadata is readable only once a session exists
    tensorrt_options = {"device_id": device_id, "trt_fp16_enable": "False"}
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uprez" / "tensorrt"
    try:  # building an engine takes minutes; the cache makes it once per model and shape
        cache.mkdir(parents=True, exist_ok=True)
        tensorrt_options.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(cache))
    except OSError:
        pass
    tensorrt = (TENSORRT, tensorrt_options)
    return [tensorrt, cuda, CPU]


def _try_create(model_path: Path, providers: list):
    """(session or None, reason it did not get the first provider or None)."""
    with _captured_native_output() as captured:
        try:
            session, error = _create(model_path, providers), None
        except Exception as exc:  # a provider that fails to start raises from onnxruntime
            session, error = None, _one_line(str(exc))
    return session, _reason_from_log(captured.get("text", "")) or error


def _create_cpu(model_path: Path):
    try:
        return _create(model_path, [CPU])
    except Exception as exc:
        reason = re.sub(r"^Load model from .* failed:\s*", "", _one_line(str(exc)))
        if "Protobuf parsing failed" in reason:
            reason = "not an ONNX model (protobuf parsing failed)"
        raise ModelError(f"cannot load model {model_path}: {reason}") from None


def _create(model_path: Path, providers: list):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = _ORT_FATAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Worker threads spinning between runs would steal the cores that decode/encode threads use.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), options, providers=providers)


def _reason_from_log(text: str) -> str | None:
    if not text.strip():
        return None
    found = re.search(r"with error: ([^\n]+)", text)
    reason = found.group(1).strip() if found else None
    needs = re.search(r"Require (cuDNN [\d.*]+ and CUDA [\d.*]+)", text)
    if reason and needs:
        return f"{reason} (onnxruntime-gpu needs {needs.group(1)})"
    if reason:
        return reason
    lines = [ln.strip() for ln in text.splitlines() if "rror" in ln or "ailed" in ln]
    return _one_line(lines[0]) if lines else None


def _one_line(message: str) -> str:
    """onnxruntime errors come as '[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model ...'."""
    first = next((ln.strip() for ln in message.splitlines() if ln.strip()), message)
    first = re.sub(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*", "", first)
    first = re.sub(r"\s*\x1b\[[0-9;]*m", "", first)  # colour codes of the onnxruntime logger
    return first[:300]


@contextmanager
def _captured_native_output() -> Iterator[dict]:
    """Send fds 1 and 2 (C and Python output alike) to a temp file for the duration."""
    result: dict = {}
    with _capture_lock, tempfile.TemporaryFile() as sink:
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        try:
            saved = [os.dup(1), os.dup(2)]
        except OSError:  # no usable descriptors (embedded interpreter): do not capture
            yield result
            return
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield result
        finally:
            for stream in (sys.stdout, sys.stderr):
                _flush(stream)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            result["text"] = sink.read().decode("utf-8", "replace")


def _flush(stream) -> None:
    try:
        stream.flush()
    except (AttributeError, ValueError, OSError):
        pass
