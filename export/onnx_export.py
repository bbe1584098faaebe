"""PyTorch module to ONNX: input `input` [N,3,H,W] float32 RGB 0..1, output `output`, dynamic N/H/W.

Exporter choice: the TorchScript-based path (`dynamo=False`). With torch 2.13 both paths give
the same outputs for all our architectures (max diff ~1e-7 vs PyTorch), but the torch.export
(dynamo) path was worse on every other count measured here:
- 20x slower: a 23-block RRDBNet took 88 s instead of 4.4 s, tiny models ~5 s instead of 0.2 s;
- it has no opset below 18 and converts down afterwards, with a fallback when that fails;
- by default it writes weights into a side file (`.onnx.data`), and names dims `s77`, `4*s53`;
- it logs several lines per export to stdout/stderr.
These are plain feed-forward CNNs without data-dependent control flow, which is exactly what
tracing handles reliably. The TorchScript path is deprecated upstream; its DeprecationWarning is
silenced here and the choice lives in this one function.
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn

from .opsets import DEFAULT_OPSET


class HalfIO(nn.Module):
    """Computes in float16 while taking and returning float32, so callers never see half."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inner = copy.deepcopy(model).half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.half()).float()


def trace_input_side(size_multiple: int) -> int:
    # small keeps tracing fast (it runs the model once, in fp16 on CPU for --fp16)
    return 4 * size_multiple


def export_onnx(model, *, size_multiple: int, opset: int = DEFAULT_OPSET, fp16: bool = False):
    """The model as an onnx.ModelProto (not yet checked or annotated)."""
    import onnx

    module = HalfIO(model).eval() if fp16 else model
    side = trace_input_side(size_multiple)
    example = torch.rand(1, 3, side, side + size_multiple)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # deprecation of this path; tracer notes on shapes
        torch.onnx.export(
            module, (example,), buffer, dynamo=False, opset_version=opset,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                          "output": {0: "batch", 2: "out_height", 3: "out_width"}},
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def annotate(proto, props: dict[str, str], *, doc: str) -> None:
    """Write the custom metadata map (replacing any earlier uprez entries) and a doc string."""
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    for key, value in [*kept, *sorted(props.items())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = doc


def check(proto) -> None:
    import onnx

    onnx.checker.check_model(proto, full_check=True)
