"""The CUDA and TensorRT engines' decisions, made for a GPU that onnxruntime here pretends to
have: the precision from metadata, the fp16 graph (converted for real and checked on the CPU),
and the TensorRT options with their cache folders. Running on a GPU is gpu_bench.py's job."""

import sys

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the fp16 conversion needs onnx (the [cuda] extra)")

from tests.onnx_models import make_sr_model  # noqa: E402
from tests.runtime.helpers import noise  # noqa: E402
from uprez.runtime.backends import DeviceError, cuda, ort  # noqa: E402
from uprez.runtime.backends.nvidia import Gpu  # noqa: E402
from uprez.runtime.metadata import ModelInfo  # noqa: E402
from uprez.runtime.models import default_model_path  # noqa: E402
from uprez.runtime.onnx_file import read_metadata_props  # noqa: E402

H100 = Gpu(0, "NVIDIA H100 80GB HBM3", "GPU-00000000-0000-0000-0000-000000000001", 80 << 30,
           (9, 0))


class ClaimsCuda:
    """A real CPU session that reports the providers it was asked for, as a GPU session does."""

    def __init__(self, session, providers):
        self._session, self._providers = session, providers

    def get_providers(self):
        return [p[0] if isinstance(p, tuple) else p for p in self._providers]

    def __getattr__(self, name):
        return getattr(self._session, name)


class WorkingCudaOrt(ort.OrtApi):
    def __init__(self):
        self.created: list = []

    def available_providers(self):
        return [ort.TENSORRT, ort.CUDA, ort.CPU]

    def preload_dlls(self):
        pass

    def create_session(self, model_path, providers, threads=None):
        self.created.append((model_path, providers))
        return ClaimsCuda(super().create_session(model_path, [ort.CPU], threads), providers)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UPREZ_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def open_gpu(path, kind="cuda", precision="auto"):
    api = WorkingCudaOrt()
    info = ModelInfo.from_props(read_metadata_props(path))
    return cuda.open_gpu(path, kind, H100, precision, info, api), api


def test_cuda_runs_a_model_marked_safe_in_fp16_from_a_converted_copy(own_cache, rng):
    shipped = default_model_path(4)
    engine, api = open_gpu(shipped)
    assert (engine.provider, engine.precision) == ("CUDAExecutionProvider", "fp16")
    graph = api.created[-1][0]
    assert graph != shipped and graph.is_relative_to(own_cache / "fp16")
    # the copy keeps float32 input and output and stays within 2 grey levels of the original
    import onnxruntime

    image = noise(rng, (1, 3, 40, 48)).astype(np.float32) / 255
    full = onnxruntime.InferenceSession(str(shipped), providers=[ort.CPU])
    half = onnxruntime.InferenceSession(str(graph), providers=[ort.CPU])
    assert half.get_inputs()[0].type == half.get_outputs()[0].type == "tensor(float)"
    diff = np.abs(full.run(None, {"input": image})[0] - half.run(None, {"input": image})[0])
    assert diff.max() * 255 <= 2
    again, api = open_gpu(shipped)  # made once
    assert api.created[-1][0] == graph


def test_full_precision_when_metadata_does_not_allow_half_or_the_user_forces_it(models):
    engine, api = open_gpu(models["x2"])  # no fp16_safe mark
    assert engine.precision == "fp32" and api.created[-1][0] == models["x2"]
    engine, api = open_gpu(default_model_path(4), precision="fp32")
    assert engine.precision == "fp32" and api.created[-1][0] == default_model_path(4)


def test_a_changed_model_gets_a_new_fp16_copy(tmp_path):
    path = tmp_path / "m.onnx"
    info = ModelInfo(scale=2, fp16_safe=True).to_props()
    make_sr_model(path, seed=1, metadata=info)
    first = open_gpu(path)[1].created[-1][0]
    make_sr_model(path, seed=2, metadata=info)
    second = open_gpu(path)[1].created[-1][0]
    assert first != second and first.exists() and second.exists()


def test_without_the_converter_auto_falls_back_to_fp32_and_fp16_is_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    engine, api = open_gpu(default_model_path(4))
    assert engine.precision == "fp32"
    with pytest.raises(DeviceError, match=r'needs the onnx package.*uprez\[cuda\]'):
        open_gpu(default_model_path(4), precision="fp16")


def test_cuda_has_no_bf16():
    with pytest.raises(DeviceError, match="CUDA on NVIDIA H100 80GB HBM3 runs fp32, fp16 only"):
        open_gpu(default_model_path(4), precision="bf16")


def test_tensorrt_builds_fp16_engines_per_shape_in_caches_keyed_by_model_gpu_and_shape(
        own_cache):
    shipped = default_model_path(4)
    engine, api = open_gpu(shipped, kind="tensorrt")
    assert (engine.provider, engine.precision, engine.fixed_shapes) == (
        "TensorrtExecutionProvider", "fp16", True)
    assert api.created[-1][0] == shipped  # TensorRT makes fp16 from the fp32 graph itself
    engine._session_for((4, 3, 64, 64))
    engine._session_for((4, 3, 64, 64))  # built once per shape
    engine._session_for((2, 3, 96, 80))
    trt = [providers[0][1] for _, providers in api.created if providers[0][0] == ort.TENSORRT]
    assert len(trt) == 2
    first, second = trt
    assert first["trt_fp16_enable"] is True
    assert first["trt_profile_min_shapes"] == first["trt_profile_max_shapes"] == "input:4x3x64x64"
    from uprez.runtime.backends.cache import model_key

    key = model_key(shipped)
    assert first["trt_engine_cache_path"] == str(
        own_cache / "tensorrt" / key / "NVIDIA-H100-80GB-HBM3-sm90-fp16" / "4x3x64x64")
    assert second["trt_engine_cache_path"].endswith("2x3x96x80")
    assert first["trt_timing_cache_path"] == second["trt_timing_cache_path"] == str(
        own_cache / "tensorrt-timing" / "NVIDIA-H100-80GB-HBM3-sm90")
