"""Pieces the training loop sets up once: device, autocast, messages (the starting weights:
init_weights.py)."""

from __future__ import annotations

import contextlib

import torch

from uprez.runtime.base import console
from uprez.runtime.base.report import EXIT_SOME_FAILED, EXIT_USAGE

from .images import Rejected


class TrainingError(RuntimeError):
    """Training cannot start or go on; the message says why and what to do. Most are about what
    was asked for (config, data, weights, device, run folder): exit code 2, as usage errors."""

    exit_code = EXIT_USAGE


class TrainingFailed(TrainingError):
    """The run failed on the way (it diverged): exit code 1."""

    exit_code = EXIT_SOME_FAILED


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError(f"train.device is {name!r} but this PyTorch sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise TrainingError("train.device is 'mps' but MPS is not available")
    return device


def check_amp(amp: str, device: torch.device) -> None:
    if amp == "fp16" and device.type != "cuda":
        raise TrainingError("train.amp = 'fp16' needs a CUDA device; use 'bf16' (or 'none') on "
                            f"{device.type}")
    if amp == "bf16" and device.type == "cpu" and not _cpu_has_bf16():
        console.warn("this CPU has no native bfloat16 (AVX512-BF16/AMX): bf16 autocast will be "
                     "much slower than float32 here (train.amp = 'none')")


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a private check: assume yes when it is missing
        return True


def autocast(device: torch.device, amp: str):
    """Mixed precision for the forward passes; `none` is plain float32."""
    if amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def report_rejected(rejected: list[Rejected], what: str, shown: int = 10) -> None:
    for item in rejected[:shown]:
        console.warn(f"{what}: skipping {item.path}: {item.reason}")
    if len(rejected) > shown:
        console.warn(f"{what}: ... and {len(rejected) - shown} more skipped")


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
