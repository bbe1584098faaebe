"""Small real ONNX super-resolution models for tests, built with onnx.helper.

The model is `nearest_upsample(x) + depth_to_space(conv(relu(conv(x))))`: a real convolutional
network whose receptive field is known exactly (one pixel per 3x3 conv), so tiling can be checked
against whole-image runs. Weights are random but seeded and small, so outputs stay near 0..1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_sr_model(
    path: str | Path,
    *,
    scale: int = 2,
    channels: int = 3,
    hidden: int = 8,
    convs: int = 2,
    seed: int = 0,
    metadata: dict[str, str] | None = None,
    opset: int = 17,
    gain: float = 0.3,
) -> Path:
    """Write an SR model to `path`; receptive field = `convs` input pixels on each side.

    `gain` sets how strongly the detail branch reacts to neighbours (weight std x sqrt(fan-in)).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current, width = "input", channels
    for i in range(convs):
        out_ch = channels * scale * scale if i == convs - 1 else hidden
        weight = rng.normal(0.0, gain / np.sqrt(width * 9), (out_ch, width, 3, 3))
        weight = weight.astype(np.float32)
        bias = rng.normal(0.0, 0.01, (out_ch,)).astype(np.float32)
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        nodes.append(helper.make_node("Conv", [current, f"w{i}", f"b{i}"], [f"conv{i}"],
                                      pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
        current = f"conv{i}"
        if i < convs - 1:
            nodes.append(helper.make_node("Relu", [current], [f"relu{i}"]))
            current = f"relu{i}"
        width = out_ch
    nodes.append(helper.make_node("DepthToSpace", [current], ["detail"], blocksize=scale,
                                  mode="CRD"))
    inits.append(numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales"))
    nodes.append(helper.make_node("Resize", ["input", "", "scales"], ["base"], mode="nearest"))
    nodes.append(helper.make_node("Add", ["base", "detail"], ["output"]))

    dims = ["batch", channels, "height", "width"]
    out_dims = ["batch", channels, "out_height", "out_width"]
    graph = helper.make_graph(
        nodes, "test_sr",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_dims)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def make_flat_model(path: str | Path, *, scale: int, rgb: tuple[float, float, float],
                    metadata: dict[str, str] | None = None) -> Path:
    """Write a model whose output is one colour (`rgb`, 0..1) at `scale` times the input size:
    what a page shows of it is known exactly."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales"),
        numpy_helper.from_array(np.zeros((1, 1, 1, 1), np.float32), "zero"),
        numpy_helper.from_array(np.array(rgb, np.float32).reshape(1, 3, 1, 1), "colour"),
    ]
    nodes = [
        helper.make_node("Resize", ["input", "", "scales"], ["base"], mode="nearest"),
        helper.make_node("Mul", ["base", "zero"], ["blank"]),
        helper.make_node("Add", ["blank", "colour"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "flat",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, "oh", "ow"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (metadata or {"uprez.scale": str(scale)}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
