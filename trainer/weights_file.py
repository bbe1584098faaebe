"""Read a generator checkpoint (.pth or .safetensors) into a flat float32 state dict: the one
reader of weight files for `sr-train --init` and `sr-export`.

Never executes pickled code: .pth files go through `torch.load(weights_only=True)` and an unsafe
pickle is refused, never retried without it. The file type is sniffed from its first bytes, not
its extension, so a misnamed file still gets a precise message.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from uprez.runtime.base.weights import (
    PYTORCH,
    SAFETENSORS,
    CheckpointError,
    checkpoint_kind,
    unwrap_weights,
)
from uprez.runtime.metadata import file_sha256

from .checkpoint import FORMAT as UPREZ_FORMAT
from .checkpoint import FORMAT_VERSION as UPREZ_FORMAT_VERSION


@dataclass(frozen=True)
class LoadedCheckpoint:
    """The weights of one checkpoint and what the file said about them."""

    path: Path
    sha256: str
    state_dict: dict = field(repr=False)  # name -> float32 tensor, wrappers and prefixes removed
    weights: str  # which weights were taken, e.g. "params_ema (EMA)"
    arch: str | None = None  # set by self-describing (uprez) checkpoints
    hparams: dict | None = None


def load_checkpoint(path: str | Path, *, prefer_ema: bool = True) -> LoadedCheckpoint:
    path = Path(path)
    raw = _read_any(path)
    if not isinstance(raw, dict):
        raise CheckpointError(f"holds a {type(raw).__name__}, not a dict of weights")
    arch = hparams = None
    if raw.get("format") == UPREZ_FORMAT:
        arch, hparams = _uprez_arch(raw)
    weights, label = unwrap_weights(raw, prefer_ema=prefer_ema)
    return LoadedCheckpoint(path=path, sha256=file_sha256(path), state_dict=_clean(weights),
                            weights=label, arch=arch, hparams=hparams)


def _read_any(path: Path):
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise CheckpointError(f"cannot read it ({exc.strerror or exc})") from None
    if not head:
        raise CheckpointError("the file is empty")
    kind = checkpoint_kind(head)
    if kind == PYTORCH:
        return _read_torch(path)
    if kind == SAFETENSORS:
        return _read_safetensors(path)
    kind = "a text file" if _is_text(head) else "an unknown binary format"
    raise CheckpointError(f"not a PyTorch (.pth) or safetensors checkpoint: it looks like {kind}")


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c >= 32 or c in b"\t\r\n" for c in head)


def _read_torch(path: Path):
    import pickle

    import torch

    try:
        with warnings.catch_warnings():  # torch's warnings about odd files: the error says it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL) ([\w.]+)", str(exc))
        if found is None and not _names_code(str(exc)):
            raise CheckpointError("truncated or corrupt PyTorch file (its pickle cannot be "
                                  "read)") from None
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"refused: the file pickles Python objects{what}, not just weights, and loading it "
            "could run code; re-save it as a plain state_dict (or .safetensors)"
        ) from None
    except (EOFError, RuntimeError, OSError) as exc:
        reason = str(exc).split(". ")[0].strip() or "unexpected end of file"
        raise CheckpointError(f"truncated or corrupt PyTorch file ({reason})") from None
    except Exception as exc:  # any other unpickling failure means a damaged or foreign file
        raise CheckpointError(
            f"not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})"
        ) from None


def _names_code(message: str) -> bool:
    """Whether torch refused the pickle for what it would call or build (a class, a function),
    rather than for bytes that are no pickle at all."""
    detail = message.partition("WeightsUnpickler error:")[2]
    return "Unsupported operand" not in detail and not detail.startswith(" Unpickling error")


def _read_safetensors(path: Path):
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise CheckpointError("a safetensors file: reading it needs the safetensors package "
                              "(pip install safetensors)") from None

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"truncated or corrupt safetensors file ({exc})") from None


def _uprez_arch(raw: dict) -> tuple[str, dict]:
    version = raw.get("format_version")
    if not isinstance(version, int) or version > UPREZ_FORMAT_VERSION:
        raise CheckpointError(
            f"uprez checkpoint format version {version!r} is newer than this uprez "
            f"understands ({UPREZ_FORMAT_VERSION}); update uprez"
        )
    arch, hparams = raw.get("arch"), raw.get("hparams")
    if not isinstance(arch, str) or not isinstance(hparams, dict):
        raise CheckpointError("uprez checkpoint without a valid 'arch' and 'hparams'")
    return arch, hparams


def _clean(weights: dict) -> dict:
    """Tensors only, `module.` (DataParallel/DDP) prefixes removed, floats as float32."""
    import torch

    tensors = {k: v for k, v in weights.items() if isinstance(k, str) and torch.is_tensor(v)}
    if not tensors:
        keys = ", ".join(map(str, list(weights)[:6])) or "none"
        raise CheckpointError(f"no weight tensors found (top-level keys: {keys})")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    broken = [k for k, v in tensors.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise CheckpointError(f"weights contain NaN or Inf values ({len(broken)} tensors, e.g. "
                              f"{', '.join(broken[:3])})")
    return tensors
