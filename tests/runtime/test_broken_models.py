"""Models that run but cannot be trusted: NaN or infinite output, and metadata values that do not
hold up. Real ONNX files built with onnx.helper, run by onnxruntime through the commands."""

import math

import numpy as np
import pytest
from click.testing import CliRunner

from tests.onnx_models import make_flat_model, make_sr_model
from tests.runtime.helpers import noise
from uprez.runtime import metadata
from uprez.runtime.base.imageio import write_image
from uprez.runtime.cli import main as sr_run
from uprez.runtime.evaluation.cli import main as sr_eval

NAN, INF = float("nan"), float("inf")


def invoke(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def photos(tmp_path, rng):
    folder = tmp_path / "photos"
    write_image(folder / "a.png", noise(rng, (12, 14, 3)))
    write_image(folder / "b.jpg", noise(rng, (10, 8, 3)))
    return folder


@pytest.mark.parametrize("colour", [(NAN, 0.5, 0.5), (0.5, INF, 0.5), (0.5, 0.5, -INF)],
                         ids=["nan", "inf", "minus-inf"])
def test_a_model_with_non_finite_output_fails_each_image_by_name_and_writes_nothing(
        photos, tmp_path, colour):
    model = make_flat_model(tmp_path / "broken.onnx", scale=2, rgb=colour)
    out = tmp_path / "out"
    result = invoke(sr_run, photos, "-o", out, "-m", model, "--device", "cpu")
    assert result.exit_code == 1, result.output
    for name in ("a.png", "b.jpg"):
        assert f"{photos / name}: upscaling failed: the model's output holds NaN or infinite" \
            in result.output
    assert not out.exists() or not any(out.iterdir())  # nothing, not even temp files
    assert "2 failed" in result.output and "0 done" in result.output


def test_a_good_model_after_a_non_finite_one_upscales_every_image(photos, tmp_path, models):
    broken = make_flat_model(tmp_path / "broken.onnx", scale=2, rgb=(NAN, NAN, NAN))
    out = tmp_path / "out"
    assert invoke(sr_run, photos, "-o", out, "-m", broken, "--device", "cpu").exit_code == 1
    again = invoke(sr_run, photos, "-o", out, "-m", models["x2"], "--device", "cpu")
    assert again.exit_code == 0, again.output
    assert "2 done" in again.output and "skipped" not in again.output


def test_sr_eval_does_not_score_a_model_with_non_finite_output(tmp_path, rng):
    data = tmp_path / "val"
    write_image(data / "a.png", noise(rng, (24, 24, 3)))
    model = make_flat_model(tmp_path / "broken.onnx", scale=2, rgb=(NAN, 0.5, 0.5),
                            metadata={metadata.SCALE: "2"})
    result = invoke(sr_eval, "--data", data, "--scale", "2", "-m", model, "--device", "cpu",
                    "--json")
    assert result.exit_code == 1, result.output
    assert "a.png: the model's output holds NaN or infinite values" in result.output
    assert '"psnr_y"' not in result.output.split('"failed"')[0]  # no score for it


@pytest.mark.parametrize("value_range", ["[0, 0]", "[NaN, 1]", "[0, Infinity]", "[1, 0]"])
def test_a_value_range_without_width_or_finite_ends_is_a_model_error(photos, tmp_path,
                                                                      value_range):
    model = make_sr_model(tmp_path / "m.onnx", scale=2,
                          metadata={metadata.SCALE: "2", metadata.VALUE_RANGE: value_range})
    result = invoke(sr_run, photos, "-o", tmp_path / "out", "-m", model, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert f"uprez.value_range={value_range!r} is invalid" in result.output
    assert not (tmp_path / "out").exists()


BAD_VALUES = [
    (metadata.RECEPTIVE_FIELD, "-5"),
    (metadata.RECEPTIVE_FIELD, "2.5"),
    (metadata.HPARAMS, "[1,2]"),
    (metadata.HPARAMS, '{"num_feat": "wide"}'),
    (metadata.HPARAMS, "{not json"),
    (metadata.SIZE_MULTIPLE, "1000000"),
    (metadata.SIZE_MULTIPLE, "0"),
    (metadata.SCALE, "two"),
    (metadata.SCALE, "1000"),
    (metadata.TILE_HINT, "-1"),
    (metadata.CHANNEL_ORDER, "RGBA"),
    (metadata.GLOBAL_CONTEXT, "maybe"),
    (metadata.FP16_SAFE, "1"),
    (metadata.PRECISION, "int8"),
    (metadata.SOURCE_SHA256, "abc"),
    (metadata.FORMAT_VERSION, "99"),
    (metadata.NAME, "  "),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=[f"{k}={v}" for k, v in BAD_VALUES])
def test_each_metadata_value_is_checked_on_load_with_one_line_naming_the_key(
        photos, tmp_path, key, value):
    props = {metadata.SCALE: "2", key: value} if key != metadata.SCALE else {key: value}
    model = make_sr_model(tmp_path / "m.onnx", scale=2, metadata=props)
    result = invoke(sr_run, photos, "-o", tmp_path / "out", "-m", model, "--device", "cpu")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and f"{key}=" in errors[0] and str(model) in errors[0], \
        result.output
    assert "Traceback" not in result.output


def test_sr_eval_refuses_invalid_metadata_as_a_model_error(tmp_path, rng):
    data = tmp_path / "val"
    write_image(data / "a.png", noise(rng, (24, 24, 3)))
    model = make_sr_model(tmp_path / "m.onnx", scale=2,
                          metadata={metadata.SCALE: "2", metadata.RECEPTIVE_FIELD: "-5"})
    result = invoke(sr_eval, "--data", data, "--scale", "2", "-m", model, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert "uprez.receptive_field='-5' is invalid" in result.output


def test_metadata_written_by_to_props_reads_back_the_same():
    info = metadata.ModelInfo(scale=4, channel_order="BGR", value_range=(-1.0, 1.0),
                              receptive_field=12, size_multiple=16, global_context=True,
                              fp16_safe=True, precision="fp16", arch="swinir",
                              hparams={"num_feat": 60, "upsampler": "pixelshuffle"},
                              tile_hint=256, source_sha256="ab" * 32, name="m")
    assert metadata.ModelInfo.from_props(info.to_props()) == info
    assert math.isfinite(info.value_range[0])


def test_the_upscaler_raises_on_non_finite_output_whatever_the_tiling(tmp_path, rng):
    from uprez.runtime.upscaler import NonFiniteOutput, Upscaler

    model = make_flat_model(tmp_path / "broken.onnx", scale=2, rgb=(0.5, NAN, 0.5))
    for tile in (0, 8):
        upscaler = Upscaler(model, device="cpu", tile=tile, tile_pad=2)
        with pytest.raises(NonFiniteOutput):
            upscaler.upscale(noise(rng, (30, 30, 3), np.uint16))
