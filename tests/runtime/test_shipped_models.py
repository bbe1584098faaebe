"""The models shipped in the package load, describe themselves, and beat bicubic."""

from pathlib import Path

import pytest

from uprez.runtime import metadata
from uprez.runtime.base.imageio import read_image
from uprez.runtime.evaluation.protocol import evaluate_image
from uprez.runtime.models import DEFAULT_MODELS, default_model_path
from uprez.runtime.upscaler import Upscaler

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("scale", sorted(DEFAULT_MODELS))
def test_shipped_model_carries_its_metadata(scale):
    import onnxruntime as ort

    path = default_model_path(scale)
    assert path.stat().st_size < 4 * 1024 * 1024, "shipped models must stay small"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = metadata.ModelInfo.from_props(session.get_modelmeta().custom_metadata_map)
    assert info.scale == scale
    assert info.arch == "compact"
    assert info.receptive_field is not None and info.receptive_field > 0
    assert info.channel_order == "RGB" and info.value_range == (0.0, 1.0)
    assert info.name and info.source_sha256


@pytest.mark.parametrize("scale", sorted(DEFAULT_MODELS))
def test_shipped_model_beats_bicubic_on_a_photo(scale):
    # a 192x192 crop of the shipped example: small enough to be quick, real enough to mean it
    hr = read_image(EXAMPLES / "rocket.png")[100:292, 150:342]
    upscaler = Upscaler(scale=scale, device="cpu", tile=0)
    assert upscaler.scale == scale
    scores, _ = evaluate_image("rocket", hr, upscaler.upscale, scale=scale)
    assert scores.model.psnr_y > scores.bicubic.psnr_y + 0.3, scores
    assert scores.model.ssim_y > scores.bicubic.ssim_y, scores


def test_default_model_is_x4_and_scale_2_picks_the_x2_model():
    assert Upscaler(device="cpu").scale == 4
    assert Upscaler(scale=2, device="cpu").scale == 2
