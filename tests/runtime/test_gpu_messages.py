"""What users see about GPUs, on this GPU-less machine: the GPU scan and onnxruntime's answers
(provider list, library-loading failures as onnxruntime-gpu prints them) are replaced at the
boundary; everything above runs for real, and the terminal is read at the file-descriptor
level, where onnxruntime's own output would land."""

import json
import os

import pytest
from click.testing import CliRunner

from tests.runtime.helpers import noise
from uprez.runtime import cli
from uprez.runtime.backends import nvidia, ort
from uprez.runtime.backends.nvidia import Gpu, GpuScan
from uprez.runtime.base.imageio import write_image
from uprez.runtime.evaluation import cli as eval_cli

H100 = Gpu(0, "NVIDIA H100 80GB HBM3", "GPU-0a1b2c3d-0000-1111-2222-333344445555", 80 << 30,
           (9, 0))
H100_2 = Gpu(1, "NVIDIA H100 80GB HBM3", "GPU-0a1b2c3d-0000-1111-2222-333344446666", 80 << 30,
             (9, 0))
ALL = [ort.TENSORRT, ort.CUDA, ort.CPU]
# what onnxruntime-gpu 1.31 prints on a machine without the CUDA 13 libraries
PRELOAD = ("Failed to load libcublasLt.so.13: libcublasLt.so.13: cannot open shared object "
           "file: No such file or directory\nPlease follow https://onnxruntime.ai/docs/install/"
           "#cuda-and-cudnn to install CUDA.\n")
NATIVE = ("2026-11-26 15:00:00.000 [E:onnxruntime:Default, provider_bridge_ort.cc:2167 "
          "TryGetProviderInfo_CUDA] /onnxruntime_src/onnxruntime/core/session/provider_bridge_"
          "ort.cc:1778 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntime"
          "Error] : 1 : FAIL : Failed to load library libonnxruntime_providers_cuda.so with "
          "error: libcublasLt.so.13: cannot open shared object file: No such file or directory"
          "\n2026-11-26 15:00:00.000 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:1013 "
          "CreateExecutionProviderFactoryInstance] Failed to create CUDAExecutionProvider. "
          "Require cuDNN 9.* and CUDA 13.*, and the latest MSVC runtime.\n")
REASON = ("libcublasLt.so.13: cannot open shared object file: No such file or directory "
          "(onnxruntime-gpu needs cuDNN 9.* and CUDA 13.*)")


class BrokenCudaOrt(ort.OrtApi):
    """onnxruntime-gpu without its CUDA libraries: it lists the GPU providers, prints to the
    C streams when asked for them, and falls back to the CPU, as the real package does."""

    def __init__(self, providers=ALL):
        self.providers = providers

    def available_providers(self):
        return list(self.providers)

    def preload_dlls(self):
        os.write(1, PRELOAD.encode())

    def create_session(self, model_path, providers, threads=None):
        if providers and providers[0] != ort.CPU:
            os.write(2, NATIVE.encode())
        return super().create_session(model_path, [ort.CPU], threads)


@pytest.fixture
def machine(monkeypatch):
    """Set the GPUs the driver reports and the onnxruntime that answers."""
    def set_up(scan: GpuScan, api: ort.OrtApi):
        monkeypatch.setattr(nvidia, "scan", lambda: scan)
        monkeypatch.setattr(ort, "API", api)
    return set_up


@pytest.fixture
def photo(tmp_path, rng):
    path = tmp_path / "in" / "a.png"
    write_image(path, noise(rng, (20, 24, 3)))
    return path


def sr_run(capfd, *args):
    result = CliRunner().invoke(cli.main, [str(a) for a in args])
    native = capfd.readouterr()
    return result, result.output + native.out + native.err


def test_no_nvidia_gpu_auto_runs_on_the_cpu_and_mentions_no_gpu(machine, photo, tmp_path,
                                                                 capfd, models):
    machine(GpuScan(), BrokenCudaOrt())
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"])
    assert result.exit_code == 0, seen
    assert not any(word in seen for word in ("GPU", "CUDA", "cuda", "libcu", "onnxruntime_src"))
    assert "1 image" in seen and " on " in seen  # the summary names what ran


def test_a_gpu_whose_cuda_cannot_load_gets_one_line_with_reason_and_install_command(
        machine, photo, tmp_path, capfd, models):
    machine(GpuScan((H100,)), BrokenCudaOrt())
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"])
    assert result.exit_code == 0, seen
    warning = [line for line in seen.splitlines() if "CUDA" in line or "GPU" in line]
    assert warning == [f"warning: NVIDIA H100 80GB HBM3 found but CUDA cannot start ({REASON}); "
                       'running on the CPU. For the GPU: pip install "uprez[cuda]"']
    assert "provider_bridge" not in seen and "Please follow" not in seen


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "tensorrt"])
def test_an_explicit_gpu_that_cannot_start_is_exit_2_with_reason_and_install_command(
        machine, photo, tmp_path, capfd, models, device):
    machine(GpuScan((H100,)), BrokenCudaOrt())
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"],
                          "--device", device)
    assert result.exit_code == 2
    assert seen.strip() == (f"Error: --device {device}: {REASON}; "
                            'pip install "uprez[cuda]"')
    assert not (tmp_path / "out").exists()


def test_the_cpu_only_onnxruntime_package_on_a_gpu_machine_is_named(machine, photo, tmp_path,
                                                                    capfd, models):
    machine(GpuScan((H100,)), BrokenCudaOrt(providers=[ort.CPU]))
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"],
                          "--device", "cuda")
    assert result.exit_code == 2
    assert "the installed onnxruntime has no CUDA support (it is the CPU-only package)" in seen
    assert 'pip install "uprez[cuda]"' in seen


def test_a_broken_driver_is_named_for_auto_and_fatal_for_cuda(machine, photo, tmp_path, capfd,
                                                              models):
    machine(GpuScan(problem="the NVIDIA driver does not start (CUDA_ERROR_UNKNOWN)"),
            BrokenCudaOrt())
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"])
    assert result.exit_code == 0
    assert ("warning: NVIDIA GPU not usable: the NVIDIA driver does not start "
            "(CUDA_ERROR_UNKNOWN); running on the CPU") in seen
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out2", "-m", models["x2"],
                          "--device", "cuda")
    assert result.exit_code == 2 and "CUDA_ERROR_UNKNOWN" in seen


def test_a_gpu_index_the_machine_lacks_lists_the_gpus_it_has(machine, photo, tmp_path, capfd,
                                                             models):
    machine(GpuScan((H100, H100_2)), BrokenCudaOrt())
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"],
                          "--device", "cuda:0,3")
    assert result.exit_code == 2
    assert ("--device cuda:0,3: no GPU 3; this machine has 2 NVIDIA GPUs "
            "(0: NVIDIA H100 80GB HBM3, 1: NVIDIA H100 80GB HBM3)") in seen


def test_a_bad_model_is_a_model_error_even_when_cuda_fails_first(machine, photo, tmp_path,
                                                                 capfd):
    machine(GpuScan((H100,)), BrokenCudaOrt())
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07" + b"\x3a\x04junk")  # protobuf, but no graph onnxruntime takes
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", bad, "--device", "cuda")
    assert result.exit_code == 2
    assert "cannot load model" in seen and "CUDA" not in seen


def test_sr_eval_shows_the_same_single_line_and_exit_codes(machine, tmp_path, capfd, rng,
                                                           models):
    machine(GpuScan((H100,)), BrokenCudaOrt())
    data = tmp_path / "hr"
    write_image(data / "a.png", noise(rng, (16, 20, 3)))
    runner = CliRunner()
    result = runner.invoke(eval_cli.main, ["--data", str(data), "--scale", "2", "-m",
                                           str(models["x2"]), "--json"])
    native = capfd.readouterr()
    seen = result.output + native.out + native.err
    assert result.exit_code == 0, seen
    assert "provider_bridge" not in seen and "Please follow" not in seen
    assert sum("CUDA cannot start" in line for line in seen.splitlines()) == 1
    assert json.loads(result.stdout[result.stdout.index("{"):])["device"].endswith("fp32")
    result = runner.invoke(eval_cli.main, ["--data", str(data), "--scale", "2", "-m",
                                           str(models["x2"]), "--device", "cuda"])
    assert result.exit_code == 2 and 'pip install "uprez[cuda]"' in result.output


def test_real_onnxruntime_gpu_without_cuda_libraries_gives_its_reason_in_one_line(
        monkeypatch, photo, tmp_path, capfd, models):
    """The real onnxruntime package of this venv, asked for a GPU the driver reports."""
    if nvidia.scan().gpus:
        pytest.skip("this machine has a working NVIDIA GPU")
    import onnxruntime

    if ort.CUDA not in onnxruntime.get_available_providers():
        pytest.skip("the CPU-only onnxruntime package is installed")
    monkeypatch.setattr(nvidia, "scan", lambda: GpuScan((H100,)))
    result, seen = sr_run(capfd, photo, "-o", tmp_path / "out", "-m", models["x2"],
                          "--device", "cuda")
    assert result.exit_code == 2
    assert len(seen.strip().splitlines()) == 1
    assert seen.startswith("Error: --device cuda: ") and "uprez[cuda]" in seen
