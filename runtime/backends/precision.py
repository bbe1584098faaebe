"""`--precision`: which arithmetic a model runs in, from the request, its metadata and the device.

`auto` takes the device's fastest reduced precision when the model's metadata allows reduced
precision (the exporter measured it: `uprez.fp16_safe`, or the weights are already fp16), and
fp32 otherwise, so a model without metadata never loses accuracy silently. An explicit fp16 or
bf16 is used even without that mark (the user asked), but a device that cannot run it is an
error rather than a quiet fallback; `fp32` always works.
"""

from __future__ import annotations

from uprez.runtime.backends.engine import PRECISIONS, DeviceError
from uprez.runtime.metadata import ModelInfo


def allows_reduced(info: ModelInfo) -> bool:
    return info.fp16_safe or info.precision == "fp16"


def choose_precision(requested: str, info: ModelInfo, reduced: tuple[str, ...],
                     where: str, advice: str = "use --precision auto or fp32") -> str:
    """The precision to build the engine in.

    `reduced` lists the precisions below fp32 that the device runs fast, best first;
    `where` names the device in the error, e.g. "OpenVINO on this CPU (FP32, INT8)".
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested == "fp32":
        return "fp32"
    if requested == "auto":
        return reduced[0] if reduced and allows_reduced(info) else "fp32"
    if requested not in reduced:
        runs = ", ".join(("fp32", *reduced))
        raise DeviceError(f"--precision {requested}: {where} runs {runs} only; {advice}")
    return requested
