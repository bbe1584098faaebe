"""Free memory on the device that will run the model, for `--tile auto`."""

from __future__ import annotations

import os
import subprocess

from uprez.runtime.session import CPU


def free_memory(provider: str, device_id: int = 0) -> int | None:
    """Bytes free for the provider's device (GPU memory or RAM); None when unknown."""
    if provider != CPU:
        return _free_gpu_memory(device_id)
    return _free_ram()


def _free_ram() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _free_gpu_memory(device_id: int) -> int | None:
    # nvidia-smi ships with the driver, so this works without CUDA Python bindings
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits",
             "-i", str(device_id)], capture_output=True, text=True, timeout=10)
        return int(done.stdout.strip().splitlines()[0]) * 1024 * 1024
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None
