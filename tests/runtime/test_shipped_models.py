"""The models shipped in the package load, describe themselves, and beat bicubic where they are
meant to: the clean models on clean downscales, the real-input models on JPEG'd ones, and the
default (the auto choice) picks the right one of the two."""

from pathlib import Path

import cv2
import pytest

from uprez.runtime import metadata
from uprez.runtime.auto import AutoUpscaler, open_upscaler
from uprez.runtime.base.imageio import read_image
from uprez.runtime.evaluation.protocol import evaluate_image
from uprez.runtime.models import AUTO, DEFAULT_MODELS, SHIPPED, auto_model, default_model_path
from uprez.runtime.upscaler import Upscaler

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def rocket_crop():
    # a 192x192 crop of the shipped example: small enough to be quick, real enough to mean it
    return read_image(EXAMPLES / "rocket.png")[100:292, 150:342]


def as_jpeg(image, quality):
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("model", SHIPPED, ids=lambda model: model.name)
def test_shipped_model_carries_its_metadata(model):
    import onnxruntime as ort

    assert model.path.stat().st_size < 4 * 1024 * 1024, "shipped models must stay small"
    session = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    info = metadata.ModelInfo.from_props(session.get_modelmeta().custom_metadata_map)
    assert info.scale == model.scale and info.name == model.name
    assert info.arch == "compact"
    assert info.receptive_field is not None and info.receptive_field > 0
    assert info.channel_order == "RGB" and info.value_range == (0.0, 1.0)
    assert info.source_sha256


@pytest.mark.parametrize("choice", AUTO, ids=lambda choice: choice.name)
def test_every_auto_choice_names_two_shipped_models_of_its_scale(choice):
    by_name = {model.name: model for model in SHIPPED}
    assert by_name[choice.clean].scale == by_name[choice.real].scale == choice.scale


@pytest.mark.parametrize("scale", sorted(DEFAULT_MODELS))
def test_the_clean_model_beats_bicubic_on_a_clean_downscale(scale):
    upscaler = Upscaler(default_model_path(scale), device="cpu", tile=0)
    assert upscaler.scale == scale
    scores, _ = evaluate_image("rocket", rocket_crop(), upscaler.upscale, scale=scale)
    assert scores.model.psnr_y > scores.bicubic.psnr_y + 0.3, scores
    assert scores.model.ssim_y > scores.bicubic.ssim_y, scores


@pytest.mark.parametrize("scale", sorted(DEFAULT_MODELS))
def test_the_real_model_beats_bicubic_and_the_clean_model_on_a_jpeg_downscale(scale):
    choice = auto_model(DEFAULT_MODELS[scale])
    real = Upscaler(choice.real, device="cpu", tile=0)
    clean = Upscaler(choice.clean, device="cpu", tile=0)

    hubble = read_image(EXAMPLES / "hubble.png")  # 256x256: its JPEG'd LR is small, so whole

    def score(upscaler):
        return evaluate_image("hubble", hubble, upscaler.upscale, scale=scale,
                              degrade=lambda lr: as_jpeg(lr, 60))[0]

    real_scores, clean_scores = score(real), score(clean)
    assert real_scores.model.psnr_y > real_scores.bicubic.psnr_y + 0.2, real_scores
    assert real_scores.model.psnr_y > clean_scores.model.psnr_y + 0.2, (real_scores, clean_scores)


@pytest.mark.parametrize("scale", sorted(DEFAULT_MODELS))
def test_the_default_picks_the_real_model_for_a_jpeg_and_the_clean_one_for_a_clean_image(scale):
    upscaler = open_upscaler(None, scale=scale, device="cpu", tile=0)
    assert isinstance(upscaler, AutoUpscaler) and upscaler.scale == scale
    lr = cv2.resize(rocket_crop(), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert upscaler.pick(lr) is upscaler.clean
    assert upscaler.pick(as_jpeg(lr, 60)) is upscaler.real


def test_default_model_is_x4_and_scale_2_picks_the_x2_model():
    assert Upscaler(device="cpu").scale == 4
    assert Upscaler(scale=2, device="cpu").scale == 2
