"""The backend seam's decisions: --device parsing, precision from metadata, the ONNX metadata
reader, and which backend `auto` picks on a machine without an NVIDIA GPU."""

import numpy as np
import onnxruntime as ort
import pytest

from tests.onnx_models import make_sr_model
from uprez.runtime.backends import DeviceError, open_engines
from uprez.runtime.backends.devices import DeviceRequest, parse_device
from uprez.runtime.backends.nvidia import GpuScan
from uprez.runtime.backends.precision import choose_precision
from uprez.runtime.metadata import ModelInfo
from uprez.runtime.models import default_model_path
from uprez.runtime.onnx_file import NotProtobuf, read_metadata_props


@pytest.mark.parametrize("text, kind, gpus, all_gpus", [
    ("auto", "auto", (0,), False), ("CPU", "cpu", (0,), False),
    ("openvino", "openvino", (0,), False), ("cuda", "cuda", (0,), False),
    ("cuda:1", "cuda", (1,), False), ("cuda:0,1", "cuda", (0, 1), False),
    ("cuda:all", "cuda", (), True), ("tensorrt:2", "tensorrt", (2,), False),
])
def test_device_names_parse(text, kind, gpus, all_gpus):
    parsed = parse_device(text)
    assert (parsed.kind, parsed.gpus, parsed.all_gpus) == (kind, gpus, all_gpus)


@pytest.mark.parametrize("text", ["gpu", "cuda:x", "cpu:1", "openvino:0", "cuda:0,0", "", "cuda:"])
def test_unknown_devices_are_refused(text):
    with pytest.raises(ValueError, match="device must be|names a GPU twice"):
        parse_device(text)


SAFE = ModelInfo(fp16_safe=True)
UNMARKED = ModelInfo()
FP16_FILE = ModelInfo(precision="fp16")


@pytest.mark.parametrize("requested, info, reduced, chosen", [
    ("auto", SAFE, ("bf16",), "bf16"),  # metadata allows it and the device has it
    ("auto", FP16_FILE, ("fp16",), "fp16"),  # weights already in half precision
    ("auto", UNMARKED, ("bf16",), "fp32"),  # no metadata: never lose accuracy silently
    ("auto", SAFE, (), "fp32"),  # the device has nothing faster
    ("fp32", SAFE, ("bf16",), "fp32"),  # forced full precision
    ("bf16", UNMARKED, ("bf16", "fp16"), "bf16"),  # asked for by name: the user decides
    ("fp16", SAFE, ("bf16", "fp16"), "fp16"),
])
def test_precision_follows_request_metadata_and_device(requested, info, reduced, chosen):
    assert choose_precision(requested, info, reduced, "this device") == chosen


def test_a_precision_the_device_lacks_is_a_one_line_error_not_a_fallback():
    with pytest.raises(DeviceError) as caught:
        choose_precision("bf16", SAFE, (), "OpenVINO on this CPU (FP32, INT8)")
    assert str(caught.value) == ("--precision bf16: OpenVINO on this CPU (FP32, INT8) runs fp32 "
                                 "only; use --precision auto or fp32")


def test_metadata_is_read_from_the_file_as_onnxruntime_reads_it(models, tmp_path):
    big = make_sr_model(tmp_path / "wide.onnx", hidden=64, convs=6,
                        metadata=ModelInfo(scale=2, name="wide é").to_props())
    for path in (default_model_path(4), default_model_path(2), models["x2"], big,
                 models["bare_x3"]):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert read_metadata_props(path) == session.get_modelmeta().custom_metadata_map


def test_a_file_that_is_not_onnx_is_refused_by_the_metadata_reader(tmp_path):
    for content in (b"\x89PNG\r\n\x1a\n" + bytes(100), b"not a model at all", b"\x0a\xff\xff"):
        path = tmp_path / "fake.onnx"
        path.write_bytes(content)
        with pytest.raises(NotProtobuf):
            read_metadata_props(path)


def test_cpu_is_onnxruntime_in_fp32_and_refuses_reduced_precision_with_advice(models):
    info = ModelInfo(fp16_safe=True)
    engine = open_engines(models["x2"], "cpu", "auto", info).engines[0]
    assert (engine.provider, engine.precision) == ("CPUExecutionProvider", "fp32")
    with pytest.raises(DeviceError, match=r"--precision bf16: .*--device openvino"):
        open_engines(models["x2"], "cpu", "bf16", info)


def test_auto_without_a_gpu_says_nothing_and_prefers_openvino_when_installed(models, capfd):
    opened = open_engines(models["x2"], DeviceRequest("auto"), "auto", ModelInfo(),
                          gpus=GpuScan())
    try:
        import openvino  # noqa: F401
        expected = "OpenVINO CPU"
    except ImportError:
        expected = "CPUExecutionProvider"
    assert [e.provider for e in opened.engines] == [expected]
    assert opened.notice is None
    out = opened.engines[0].run(np.full((1, 3, 8, 8), 0.5, np.float32))
    assert out.shape == (1, 3, 16, 16)
    assert capfd.readouterr() == ("", "")
