"""--fp16 writes a half-precision model with float32 I/O, close to fp32; a model that overflows in
half precision is refused and nothing is written."""

import numpy as np
import onnx
import pytest
import torch

from uprez.export.errors import VerificationError
from uprez.export.exporter import ExportOptions, export_checkpoint
from uprez.export.verify import FP16_MAX_ABS, FP16_MEAN_ABS

from .helpers import onnx_info, onnx_output, save_layout, tiny_model, torch_output


@pytest.mark.parametrize("arch, scale", [("compact", 4), ("rrdbnet", 2), ("srresnet", 2)])
def test_fp16_model_keeps_float32_io_and_stays_close_to_fp32(tmp_path, arch, scale):
    model = tiny_model(arch, scale)
    checkpoint = tmp_path / "net.pth"
    save_layout("raw", checkpoint, model, model)
    output = tmp_path / "net_fp16.onnx"
    export_checkpoint(checkpoint, output, ExportOptions(fp16=True))

    graph = onnx.load(str(output)).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    conv_weights = [i for i in graph.initializer if len(i.dims) == 4]
    assert conv_weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in conv_weights)

    x = np.random.default_rng(6).random((2, 3, 10, 14), dtype=np.float32)
    diff = np.abs(onnx_output(output, x) - torch_output(model, x))
    assert diff.max() <= FP16_MAX_ABS and diff.mean() <= FP16_MEAN_ABS
    assert diff.max() > 0  # really rounded, not the fp32 weights
    info, _ = onnx_info(output)
    assert (info.precision, info.fp16_safe) == ("fp16", True)


def overflowing_in_half_precision():
    """Fine in fp32, but its first conv's activations (~1e6) exceed float16's 65504."""
    model = tiny_model("compact", 2)
    with torch.no_grad():
        model.body[0].weight.mul_(1e6)
        model.body[0].bias.mul_(1e6)
        model.body[2].weight.mul_(1e-6)
    return model


def test_model_that_overflows_in_fp16_is_refused_and_nothing_is_written(tmp_path):
    checkpoint = tmp_path / "net.pth"
    save_layout("raw", checkpoint, overflowing_in_half_precision(), None)
    with pytest.raises(VerificationError, match="refusing to write an fp16 model.*NaN/Inf"):
        export_checkpoint(checkpoint, tmp_path / "net_fp16.onnx", ExportOptions(fp16=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pth"]


def test_fp32_export_of_that_model_records_it_as_not_fp16_safe(tmp_path):
    checkpoint = tmp_path / "net.pth"
    model = overflowing_in_half_precision()
    save_layout("raw", checkpoint, model, None)
    export_checkpoint(checkpoint, tmp_path / "net.onnx", ExportOptions())
    info, _ = onnx_info(tmp_path / "net.onnx")
    assert (info.precision, info.fp16_safe) == ("fp32", False)
    x = np.random.default_rng(7).random((1, 3, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(onnx_output(tmp_path / "net.onnx", x), torch_output(model, x),
                               atol=1e-4, rtol=0)
