"""Check an exported ONNX file against the PyTorch model it came from, and measure fp16 safety.

fp32: onnxruntime (CPU) vs PyTorch on random inputs of two odd, non-square sizes (times the size
multiple) at batch 2; any difference above FP32_TOLERANCE fails.

fp16: half precision loses ~3 decimal digits, so the bar is set where real mistakes show (a wrong
cast, a dropped bias, swapped channels move outputs by 0.05 or more) while honest rounding of a
deep network stays below: max abs diff FP16_MAX_ABS and mean abs diff FP16_MEAN_ABS (half an 8-bit
level) against the fp32 PyTorch output. Non-finite outputs always fail. The model's own fp16
safety is measured with PyTorch in real half precision (CUDA when present, else CPU), because
onnxruntime's CPU provider computes many fp16 nodes in fp32 and would hide overflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import VerificationError

FP32_TOLERANCE = 1e-4
FP16_MAX_ABS = 2e-2
FP16_MEAN_ABS = 2e-3
CHECK_SIZES = ((17, 23), (31, 13))  # height, width in units of the size multiple
CHECK_BATCH = 2
FP16_PROBE_SIZE = (12, 16)


@dataclass(frozen=True)
class Comparison:
    max_abs: float
    mean_abs: float
    finite: bool
    where: str  # the device or onnxruntime provider that ran the candidate

    def fp16_acceptable(self) -> bool:
        return self.finite and self.max_abs <= FP16_MAX_ABS and self.mean_abs <= FP16_MEAN_ABS

    def describe(self) -> str:
        if not self.finite:
            return f"NaN/Inf in the output ({self.where})"
        return f"max abs diff {self.max_abs:.2g}, mean {self.mean_abs:.2g} ({self.where})"


def check_inputs(size_multiple: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((CHECK_BATCH, 3, h * size_multiple, w * size_multiple), dtype=np.float32)
            for h, w in CHECK_SIZES]


def torch_outputs(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        outputs = [model(torch.from_numpy(x)).numpy() for x in inputs]
    if not all(np.isfinite(out).all() for out in outputs):
        raise VerificationError("the PyTorch model itself outputs NaN/Inf: its weights are broken")
    return outputs


def onnx_outputs(path, inputs: list[np.ndarray], *, prefer_gpu: bool = False):
    """Outputs of the ONNX file and the onnxruntime provider that produced them."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # a check, not a benchmark: no busy-waiting threads competing with the rest of the machine
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if prefer_gpu and "CUDAExecutionProvider" in ort.get_available_providers() and _has_cuda():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
        outputs = [session.run(["output"], {"input": x})[0] for x in inputs]
    except Exception as exc:  # onnxruntime raises its own exception types
        raise VerificationError(f"onnxruntime cannot run the exported model ({exc})") from None
    return outputs, session.get_providers()[0]


def _has_cuda() -> bool:
    # onnxruntime-gpu lists CUDA even on machines without a GPU, and then logs errors
    import torch

    return torch.cuda.is_available()


def compare(candidates: list[np.ndarray], references: list[np.ndarray], where: str) -> Comparison:
    for got, want in zip(candidates, references, strict=True):
        if got.shape != want.shape:
            raise VerificationError(f"output shape {got.shape} instead of {want.shape} ({where})")
    finite = all(np.isfinite(c).all() for c in candidates)
    diffs = [np.abs(c.astype(np.float64) - r) for c, r in zip(candidates, references, strict=True)]
    max_abs = max(float(d.max()) for d in diffs) if finite else float("inf")
    mean_abs = float(np.mean([d.mean() for d in diffs])) if finite else float("inf")
    return Comparison(max_abs, mean_abs, finite, where)


def verify_fp32(path, references: list[np.ndarray], inputs: list[np.ndarray]) -> Comparison:
    outputs, provider = onnx_outputs(path, inputs)
    result = compare(outputs, references, provider)
    if not result.finite or result.max_abs > FP32_TOLERANCE:
        raise VerificationError(f"onnxruntime disagrees with PyTorch: {result.describe()}, "
                                f"limit {FP32_TOLERANCE:g}")
    return result


def verify_fp16(path, references: list[np.ndarray], inputs: list[np.ndarray]) -> Comparison:
    outputs, provider = onnx_outputs(path, inputs, prefer_gpu=True)
    result = compare(outputs, references, provider)
    if not result.fp16_acceptable():
        raise VerificationError(f"the fp16 model strays from fp32: {result.describe()}, limits "
                                f"max {FP16_MAX_ABS:g}, mean {FP16_MEAN_ABS:g}")
    return result


def measure_fp16(model, size_multiple: int, seed: int = 1) -> Comparison:
    """Run the model in real half precision against fp32 on one random input."""
    import copy

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    h, w = FP16_PROBE_SIZE
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, h * size_multiple, w * size_multiple, generator=generator)
    half = copy.deepcopy(model).to(device).half()
    with torch.no_grad():
        reference = model(x).numpy()
        candidate = half(x.to(device).half()).float().cpu().numpy()
    return compare([candidate], [reference], f"PyTorch fp16 on {device}")
