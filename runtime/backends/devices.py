"""`--device`: what the user asked for, parsed once.

auto | cpu | openvino | cuda[:N | :N,M,... | :all] | tensorrt[:N | :N,M,... | :all]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("auto", "cpu", "openvino", "cuda", "tensorrt")
GPU_KINDS = ("cuda", "tensorrt")
HELP = "auto, cpu, openvino, cuda, cuda:N, cuda:N,M, cuda:all or tensorrt[:N]"
_PATTERN = re.compile(r"^(auto|cpu|openvino|(cuda|tensorrt)(:(all|\d+(,\d+)*))?)$")


@dataclass(frozen=True)
class DeviceRequest:
    kind: str  # one of KINDS
    gpus: tuple[int, ...] = (0,)  # GPU indexes for cuda/tensorrt, in the order given
    all_gpus: bool = False  # cuda:all
    text: str = "auto"  # as the user wrote it (normalised), for messages

    @property
    def on_gpu(self) -> bool:
        return self.kind in GPU_KINDS


def parse_device(text: str) -> DeviceRequest:
    """'cuda:0,1' -> DeviceRequest('cuda', (0, 1)); raises ValueError for anything else."""
    clean = str(text).strip().lower().replace(" ", "")
    if not _PATTERN.match(clean):
        raise ValueError(f"device must be {HELP}, not {text!r}")
    kind, _, indexes = clean.partition(":")
    if indexes == "all":
        return DeviceRequest(kind, (), True, clean)
    gpus = tuple(int(i) for i in indexes.split(",")) if indexes else (0,)
    if len(set(gpus)) != len(gpus):
        raise ValueError(f"device {text!r} names a GPU twice")
    return DeviceRequest(kind, gpus, False, clean)
