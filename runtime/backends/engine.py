"""What every inference backend provides: an `Engine` that runs NCHW float batches.

An engine is one model loaded on one device in one precision. `run` is thread-safe and returns
a new array (never a buffer the engine reuses), so callers may keep results while the next
batch runs. Everything above this seam (tiling, batching, the pipelines) is backend-agnostic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


class ModelError(Exception):
    """A model file that is missing or cannot be used; the message is one line."""


class DeviceError(Exception):
    """An explicitly requested device or precision that cannot run here; one line."""


@dataclass(frozen=True)
class Signature:
    """The model's image input as the engine sees it: dims are ints, or None when dynamic."""

    inputs: int  # how many inputs the model takes (uprez runs models with one)
    outputs: int
    input_name: str
    input_shape: tuple[int | None, ...]
    input_type: str  # "float32", "float16", or what else the model says, e.g. "int64"

    @property
    def input_dtype(self) -> type | None:
        return {"float32": np.float32, "float16": np.float16}.get(self.input_type)

    @property
    def fixed_batch(self) -> int | None:
        first = self.input_shape[0] if self.input_shape else None
        return first if first is not None and first > 0 else None

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        dims = self.input_shape[2:]
        if len(dims) == 2 and all(d is not None and d > 0 for d in dims):
            return dims[0], dims[1]
        return None


class Engine:
    """Base of the backends' engines; see the module docstring."""

    provider: str  # what users read: "CPUExecutionProvider", "OpenVINO CPU", ...
    device_id: int = 0
    precision: str = "fp32"  # what the arithmetic runs in: fp32, fp16 or bf16
    on_gpu: bool = False  # tiles are sized from GPU memory rather than RAM
    fixed_shapes: bool = False  # every new input shape costs an engine build: keep one
    signature: Signature

    def run(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    lanes: int = 1  # batches worth keeping in flight on this engine

    def probe(self, batch: np.ndarray) -> np.ndarray:
        """A first run on a small input that proves the model works (may skip engine builds)."""
        return self.run(batch)

    def free_memory(self) -> int | None:
        """Bytes free where this engine's tensors live; None when unknown."""
        from uprez.runtime.memory import free_ram

        return free_ram()

    def label(self) -> str:
        """Provider and precision, as the summary line shows them."""
        return f"{self.provider} {self.precision}"
