"""Which GPUs a `--device cuda:...` request runs on, and how work is spread over them.

The Upscaler holds one engine per GPU. Files go to whichever engine is free (`run_jobs` keeps
one image in flight per engine), and the windows of an image or of a batch of video frames go
out in order to whichever engine is free, so a slow or busy GPU simply takes fewer of them.
"""

from __future__ import annotations

from uprez.runtime.backends.devices import DeviceRequest
from uprez.runtime.backends.engine import DeviceError
from uprez.runtime.backends.nvidia import Gpu


def plan_gpus(request: DeviceRequest, visible: tuple[Gpu, ...]) -> tuple[Gpu, ...]:
    """The GPUs to open for the request, in its order; DeviceError names the ones it lacks."""
    if not visible:
        raise DeviceError(f"--device {request.text}: no NVIDIA GPU found")
    if request.all_gpus:
        return visible
    missing = [i for i in request.gpus if i >= len(visible)]
    if missing:
        have = ", ".join(f"{g.index}: {g.name}" for g in visible)
        count = f"{len(visible)} NVIDIA GPU{'s' if len(visible) != 1 else ''}"
        raise DeviceError(f"--device {request.text}: no GPU {missing[0]}; this machine has "
                          f"{count} ({have})")
    return tuple(visible[i] for i in request.gpus)
