"""The weights inside a checkpoint file, whoever wrote it: the wrapper dicts other tools put
around them, and the one error for a file that is no usable checkpoint. Torch-free (plain dict
work on what torch.load or safetensors returned), shared by sr-train and sr-export."""

from __future__ import annotations

from uprez.runtime.base import console

# Wrapper keys around the weights, most specific first (BasicSR's EMA and plain weights, then
# Lightning's and others' containers).
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")


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
