"""Every architecture and scale, saved in every key layout, exports to a faithful ONNX model."""

import hashlib

import numpy as np
import onnx
import pytest

from uprez.export.exporter import ExportOptions, export_checkpoint
from uprez.runtime.metadata import ALL_KEYS
from uprez.trainer.archs import SCALES, size_multiple_for

from .helpers import onnx_info, onnx_output, perturbed, save_layout, tiny_model, torch_output

COMMON_LAYOUTS = ("uprez", "basicsr", "raw", "module-prefix", "safetensors")
ESRGAN_LAYOUTS = ("esrgan-old", "esrgan-new")  # the original ESRGAN code has x4 and x8 only
WITH_EMA = ("uprez", "basicsr")
# The file layouts are the loader's business, the same for every architecture: the matrix runs on
# the conv architectures; test_community_archs.py covers SPAN and the transformers.
LOADER_ARCHS = ("srresnet", "rrdbnet", "compact")
CASES = [
    (arch, scale, layout)
    for arch in LOADER_ARCHS
    for scale in SCALES[arch]
    for layout in COMMON_LAYOUTS + (ESRGAN_LAYOUTS if arch == "rrdbnet" and scale in (4, 8) else ())
]


def _export(tmp_path, arch, scale, layout, **options):
    model = tiny_model(arch, scale)
    ema = perturbed(model)
    checkpoint = tmp_path / ("net.safetensors" if layout == "safetensors" else "net.pth")
    save_layout(layout, checkpoint, model, ema)
    output = tmp_path / "net.onnx"
    export_checkpoint(checkpoint, output, ExportOptions(**options))
    return checkpoint, output, model, ema


@pytest.mark.parametrize("arch, scale, layout", CASES)
def test_checkpoint_layout_exports_onnx_matching_the_original_model(tmp_path, arch, scale, layout):
    checkpoint, output, model, ema = _export(tmp_path, arch, scale, layout)
    chosen, other = (ema, model) if layout in WITH_EMA else (model, ema)
    multiple = size_multiple_for(arch, scale)
    x = np.random.default_rng(3).random((2, 3, 7 * multiple, 5 * multiple), dtype=np.float32)

    got = onnx_output(output, x)
    np.testing.assert_allclose(got, torch_output(chosen, x), atol=1e-4, rtol=0)
    assert np.abs(got - torch_output(other, x)).max() > 1e-3  # the test can tell weights apart

    info, props = onnx_info(output)
    assert set(ALL_KEYS) <= props.keys()
    assert (info.arch, info.scale, info.hparams) == (arch, scale, model.hparams)
    assert info.size_multiple == {("rrdbnet", 2): 2, ("rrdbnet", 1): 4}.get((arch, scale), 1)
    assert (info.channel_order, info.value_range, info.precision) == ("RGB", (0.0, 1.0), "fp32")
    assert info.source_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert info.name == "net"
    assert info.receptive_field is not None and 0 <= info.receptive_field < 64
    assert info.tile_hint >= 64 and info.tile_hint % 64 == 0
    assert info.fp16_safe


@pytest.mark.parametrize("layout", WITH_EMA)
def test_no_ema_exports_the_plain_training_weights(tmp_path, layout):
    _, output, model, _ = _export(tmp_path, "compact", 2, layout, prefer_ema=False)
    x = np.random.default_rng(4).random((1, 3, 9, 13), dtype=np.float32)
    np.testing.assert_allclose(onnx_output(output, x), torch_output(model, x), atol=1e-4, rtol=0)


def test_onnx_model_has_named_float_io_with_dynamic_batch_height_width(tmp_path):
    _, output, _, _ = _export(tmp_path, "rrdbnet", 2, "raw", opset=13)
    model = onnx.load(str(output))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["output"]
    for value in (model.graph.input[0], model.graph.output[0]):
        tensor = value.type.tensor_type
        assert tensor.elem_type == onnx.TensorProto.FLOAT
        dims = tensor.shape.dim
        assert [bool(dims[i].dim_param) for i in (0, 2, 3)] == [True, True, True]
        assert dims[1].dim_value == 3
    assert {op.domain: op.version for op in model.opset_import}[""] == 13
    x = np.random.default_rng(5).random((3, 3, 10, 26), dtype=np.float32)
    assert onnx_output(output, x).shape == (3, 3, 20, 52)


def test_uprez_checkpoint_with_partial_hparams_records_the_complete_set(tmp_path):
    model = tiny_model("compact", 3)
    checkpoint = tmp_path / "g.pth"
    import torch

    torch.save({"format": "uprez-checkpoint", "format_version": 1, "arch": "compact",
                "hparams": {"scale": 3, "num_feat": 8, "num_conv": 2},
                "params": model.state_dict(), "params_ema": None}, checkpoint)
    export_checkpoint(checkpoint, tmp_path / "g.onnx", ExportOptions())
    info, _ = onnx_info(tmp_path / "g.onnx")
    assert info.hparams == model.hparams  # num_in_ch, act_type, ... filled in
