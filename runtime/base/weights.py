"""The weights inside a checkpoint file, whoever wrote it: the wrapper dicts other tools put
around them, and the one error for a file that is no usable checkpoint. Torch-free (plain dict
work on what torch.load or safetensors returned), shared by sr-train and sr-export."""

from __future__ import annotations

import struct

from uprez.runtime.base import console

# Wrapper keys around the weights, most specific first (BasicSR's EMA and plain weights, then
# Lightning's and others' containers).
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


MAX_SAFETENSORS_HEADER = 100_000_000  # the safetensors format's own limit
PYTORCH, SAFETENSORS = "PyTorch", "safetensors"


def checkpoint_kind(head: bytes) -> str | None:
    """PYTORCH or SAFETENSORS when a file's first 16 bytes look like that checkpoint, else
    None (so sr-run can tell a .pth given as a model from a damaged ONNX file)."""
    if head.startswith(b"PK\x03\x04"):  # torch.save's zip container
        return PYTORCH
    # a pickle (torch's legacy format) starts with its PROTO opcode and a protocol number torch
    # could have written; 0x80 followed by anything else is just a byte of some other file
    if len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return PYTORCH
    # an 8-byte little-endian header length, then a JSON header; a length beyond the end of
    # the file still counts, so that a truncated file is reported as truncated
    if len(head) >= 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if 0 < header_len < MAX_SAFETENSORS_HEADER and head[8:9] == b"{":
            return SAFETENSORS
    return None


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (missing, truncated, foreign, unsafe, too new);
    the message says why."""


def unwrap_weights(raw: dict, *, prefer_ema: bool = True) -> tuple[dict, str]:
    """Peel wrapper dicts off until the weights remain; EMA weights when asked and present.
    Returns the weights and a label saying which were taken, e.g. "params_ema (EMA)"."""
    current, labels = raw, []
    for _ in range(3):
        ema, plain = current.get("params_ema"), current.get("params")
        if isinstance(ema, dict) or isinstance(plain, dict):
            if isinstance(ema, dict) and (prefer_ema or not isinstance(plain, dict)):
                if not prefer_ema:
                    console.warn("no non-EMA weights ('params') in the file; using 'params_ema'")
                return ema, "/".join([*labels, "params_ema"]) + " (EMA)"
            return plain, "/".join([*labels, "params"])
        inner = next((k for k in WRAPPER_KEYS[2:] if isinstance(current.get(k), dict)), None)
        if inner is None:
            break
        current = current[inner]
        labels.append(inner)
    return current, "/".join(labels) or "state dict"
