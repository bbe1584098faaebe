"""onnxruntime sessions, created quietly, and the engine that runs them on the CPU.

onnxruntime prints provider-loading failures straight to the C stdout/stderr, so session
creation that may try a GPU runs with both file descriptors captured: the terminal stays clean
and the reason can be quoted in one line. Everything that touches the onnxruntime module goes
through `OrtApi`, the one boundary tests replace to play a GPU machine.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np

from uprez.runtime.backends.engine import Engine, ModelError, Signature

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# onnxruntime log severities (0 verbose .. 4 fatal). Provider start-up errors are logged at 3
# and captured (see module docstring) to quote the reason; afterwards only fatal messages may
# print, because every failure reaches the user through uprez's own message.
_ORT_ERRORS = 3
_ORT_FATAL = 4
_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}
_capture_lock = threading.Lock()


class OrtApi:
    """The calls uprez makes into onnxruntime (tests substitute a GPU machine's answers)."""

    def available_providers(self) -> list[str]:
        import onnxruntime as ort

        return ort.get_available_providers()

    def preload_dlls(self) -> None:
        """Load the CUDA/cuDNN libraries of the nvidia-* wheels (`uprez[cuda]`), if any."""
        import onnxruntime as ort

        preload = getattr(ort, "preload_dlls", None)  # onnxruntime-gpu >= 1.21
        if preload is not None:
            preload()

    def create_session(self, model_path: Path, providers: list, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = _ORT_FATAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # Worker threads spinning between runs would steal the cores decode/encode threads use.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(model_path), options, providers=providers)


API = OrtApi()


class OrtEngine(Engine):
    """An onnxruntime session; `run` copies through host memory (right for the CPU)."""

    def __init__(self, session, provider: str, precision: str):
        self.session = session
        self.provider = provider
        self.precision = precision
        self.signature = session_signature(session)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.signature.input_name: batch})[0]


def open_cpu(model_path: Path, precision: str, api: OrtApi | None = None,
             threads: int | None = None) -> OrtEngine:
    """onnxruntime's CPU provider (`threads` for its inference, default: all cores); raises
    ModelError when the model itself is bad."""
    session = create_cpu_session(model_path, api or API, threads)
    return OrtEngine(session, CPU, precision)


def session_signature(session) -> Signature:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if not inputs:
        return Signature(0, len(outputs), "", (), "none")
    first = inputs[0]
    shape = tuple(d if isinstance(d, int) else None for d in first.shape)
    kind = _TYPES.get(first.type, first.type.removeprefix("tensor(").removesuffix(")"))
    return Signature(len(inputs), len(outputs), first.name, shape, kind)


def create_cpu_session(model_path: Path, api: OrtApi, threads: int | None = None):
    import onnxruntime as ort

    ort.set_default_logger_severity(_ORT_FATAL)
    try:
        if threads:
            return api.create_session(model_path, [CPU], threads)
        return api.create_session(model_path, [CPU])
    except Exception as exc:
        raise ModelError(f"cannot load model {model_path}: {model_problem(exc)}") from None


def model_problem(exc: BaseException) -> str:
    reason = re.sub(r"^Load model from .* failed:\s*", "", one_line(str(exc)))
    if "Protobuf parsing failed" in reason:
        reason = "not an ONNX model (protobuf parsing failed)"
    return reason


def try_session(model_path: Path, providers: list, api: OrtApi):
    """(session or None, reason it did not get the first provider or None), output captured."""
    import onnxruntime as ort

    ort.set_default_logger_severity(_ORT_ERRORS)
    try:
        with captured_native_output() as captured:
            try:
                session, error = api.create_session(model_path, providers), None
            except Exception as exc:  # a provider that fails to start raises from onnxruntime
                session, error = None, one_line(str(exc))
    finally:
        ort.set_default_logger_severity(_ORT_FATAL)
    return session, reason_from_log(captured.get("text", "")) or error


def reason_from_log(text: str) -> str | None:
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
    return one_line(lines[0]) if lines else None


def one_line(message: str) -> str:
    """onnxruntime errors come as '[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model ...'."""
    first = next((ln.strip() for ln in message.splitlines() if ln.strip()), message)
    first = re.sub(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*", "", first)
    first = re.sub(r"\s*\x1b\[[0-9;]*m", "", first)  # colour codes of the onnxruntime logger
    return first[:300]


@contextmanager
def captured_native_output() -> Iterator[dict]:
    """Send fds 1 and 2 (C output) and Python's sys.stdout/stderr, wherever those point, to
    temporary buffers for the duration; result["text"] holds what was written."""
    result: dict = {}
    python_side = io.StringIO()
    with _capture_lock, tempfile.TemporaryFile() as sink:
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        try:
            saved = [os.dup(1), os.dup(2)]
        except OSError:  # no usable descriptors (embedded interpreter): Python streams only
            saved = None
        if saved is not None:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
        try:
            with redirect_stdout(python_side), redirect_stderr(python_side):
                yield result
        finally:
            if saved is not None:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in saved:
                    os.close(fd)
            sink.seek(0)
            result["text"] = python_side.getvalue() + sink.read().decode("utf-8", "replace")


def _flush(stream) -> None:
    try:
        stream.flush()
    except (AttributeError, ValueError, OSError):
        pass
