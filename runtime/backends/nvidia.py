"""Which NVIDIA GPUs this machine has, asked of the driver itself (no CUDA toolkit needed).

The CUDA driver library (libcuda.so.1 / nvcuda.dll) comes with the NVIDIA driver. No driver
means no NVIDIA GPU, quietly; a driver that is there but fails to start is a reason to show.
Indexes follow CUDA's own numbering (CUDA_VISIBLE_DEVICES applies), as onnxruntime's device_id
does. Free memory comes from nvidia-smi, by UUID so both number the same GPU.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from dataclasses import dataclass

_CUDA_ERROR_NO_DEVICE = 100
_COMPUTE_MAJOR, _COMPUTE_MINOR = 75, 76  # CUdevice_attribute


@dataclass(frozen=True)
class Gpu:
    index: int  # CUDA device ordinal
    name: str
    uuid: str  # "GPU-xxxxxxxx-...", as nvidia-smi names it
    memory: int  # bytes
    compute: tuple[int, int]  # compute capability

    def key(self) -> str:
        """What makes a TensorRT engine portable: the GPU model and its compute capability."""
        model = "".join(c if c.isalnum() else "-" for c in self.name).strip("-")
        return f"{model}-sm{self.compute[0]}{self.compute[1]}"


@dataclass(frozen=True)
class GpuScan:
    gpus: tuple[Gpu, ...] = ()
    problem: str | None = None  # a driver that is installed but does not work


def scan() -> GpuScan:
    """The NVIDIA GPUs CUDA can see; empty (and no problem) on a machine without a driver."""
    try:
        lib = ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    except OSError:
        return GpuScan()
    status = lib.cuInit(0)
    if status == _CUDA_ERROR_NO_DEVICE:
        return GpuScan()
    if status != 0:
        return GpuScan(problem=f"the NVIDIA driver does not start ({_error_name(lib, status)})")
    count = ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return GpuScan(problem="the NVIDIA driver cannot count its GPUs")
    return GpuScan(tuple(_describe(lib, i) for i in range(count.value)))


def free_memory(gpu: Gpu) -> int | None:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits",
             "-i", gpu.uuid], capture_output=True, text=True, timeout=10)
        return int(done.stdout.strip().splitlines()[0]) * 1024 * 1024
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _describe(lib, index: int) -> Gpu:
    device = ctypes.c_int(0)
    lib.cuDeviceGet(ctypes.byref(device), index)
    name = ctypes.create_string_buffer(256)
    lib.cuDeviceGetName(name, 256, device)
    memory = ctypes.c_size_t(0)
    lib.cuDeviceTotalMem_v2(ctypes.byref(memory), device)
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    lib.cuDeviceGetAttribute(ctypes.byref(major), _COMPUTE_MAJOR, device)
    lib.cuDeviceGetAttribute(ctypes.byref(minor), _COMPUTE_MINOR, device)
    raw = (ctypes.c_ubyte * 16)()
    lib.cuDeviceGetUuid(raw, device)
    hexed = bytes(raw).hex()
    uuid = f"GPU-{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"
    return Gpu(index, name.value.decode(errors="replace"), uuid, memory.value,
               (major.value, minor.value))


def _error_name(lib, status: int) -> str:
    name = ctypes.c_char_p()
    try:
        if lib.cuGetErrorName(status, ctypes.byref(name)) == 0 and name.value:
            return name.value.decode()
    except (AttributeError, OSError):
        pass
    return f"CUDA error {status}"
