"""The verification step fails on ONNX models that really are wrong."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from uprez.export import verify
from uprez.export.errors import VerificationError
from uprez.export.onnx_export import export_onnx

from .helpers import tiny_model


def _tampered(proto, path, change):
    """Save `proto` with `change` applied to its first conv weight."""
    weight = next(i for i in proto.graph.initializer if len(i.dims) == 4)
    array = numpy_helper.to_array(weight)
    weight.CopyFrom(numpy_helper.from_array(change(array).astype(array.dtype), weight.name))
    onnx.save(proto, str(path))


@pytest.mark.parametrize("fp16", [False, True])
def test_faithful_model_passes_and_a_slightly_altered_one_fails(tmp_path, fp16):
    model = tiny_model("compact", 2).requires_grad_(False)
    inputs = verify.check_inputs(1)
    references = verify.torch_outputs(model, inputs)
    check = verify.verify_fp16 if fp16 else verify.verify_fp32
    proto = export_onnx(model, size_multiple=1, fp16=fp16)
    onnx.save(proto, str(tmp_path / "ok.onnx"))
    assert check(tmp_path / "ok.onnx", references, inputs).finite

    # one weight of one filter nudged: the kind of slip a wrong conversion makes
    def nudge(array):
        array = array.copy()
        array[0, 0, 1, 1] += 0.5
        return array

    _tampered(proto, tmp_path / "bad.onnx", nudge)
    with pytest.raises(VerificationError, match="disagrees|strays"):
        check(tmp_path / "bad.onnx", references, inputs)


def test_half_precision_output_with_inf_is_refused(tmp_path):
    model = tiny_model("compact", 2).requires_grad_(False)
    inputs = verify.check_inputs(1)
    references = verify.torch_outputs(model, inputs)
    proto = export_onnx(model, size_multiple=1, fp16=True)
    _tampered(proto, tmp_path / "inf.onnx", lambda a: np.full_like(a, np.inf))
    with pytest.raises(VerificationError, match="NaN/Inf"):
        verify.verify_fp16(tmp_path / "inf.onnx", references, inputs)
