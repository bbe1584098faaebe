"""The install: onnxruntime-gpu and onnxruntime provide the same module and break each other,
so every combination of extras, on every platform, must ask pip for exactly one of them.
(Checked on the installed package's own metadata, which is what pip resolves; a real
`pip install --dry-run --report` of each extra is in the issue 13 commit message.)"""

from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement

PLATFORMS = {
    "linux-x86_64": {"platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"platform_system": "Linux", "platform_machine": "aarch64"},
    "windows-amd64": {"platform_system": "Windows", "platform_machine": "AMD64"},
    "macos-arm64": {"platform_system": "Darwin", "platform_machine": "arm64"},
}
GPU_PLATFORMS = ("linux-x86_64", "windows-amd64")
RUNTIMES = ("onnxruntime", "onnxruntime-gpu")


def resolved(extras: tuple[str, ...], platform: str) -> dict[str, Requirement]:
    """uprez's direct requirements for `pip install "uprez[extras]"` on the platform."""
    chosen = {}
    for line in requires("uprez") or []:
        requirement = Requirement(line)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate({**PLATFORMS[platform], "extra": extra})
            for extra in ("", *extras))
        if wanted:
            chosen[requirement.name] = requirement
    return chosen


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("extras", [(), ("cuda",), ("openvino",), ("cuda", "openvino")])
def test_every_install_asks_for_exactly_one_onnxruntime(platform, extras):
    found = [name for name in resolved(extras, platform) if name in RUNTIMES]
    assert len(found) == 1, found


@pytest.mark.parametrize("platform", GPU_PLATFORMS)
def test_the_cuda_extra_brings_the_cuda_libraries_and_the_fp16_converter(platform):
    chosen = resolved(("cuda",), platform)
    assert chosen["onnxruntime-gpu"].extras == {"cuda", "cudnn"}
    assert "onnx" in chosen
    assert "onnxruntime-gpu" in resolved((), platform)  # the base already has the GPU build


def test_the_openvino_extra_brings_openvino_and_the_base_does_not():
    assert "openvino" in resolved(("openvino",), "linux-x86_64")
    assert "openvino" not in resolved((), "linux-x86_64")
