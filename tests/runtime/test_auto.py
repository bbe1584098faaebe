"""The default model's per-input choice between a clean and a real-input model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from uprez.runtime import models as shipped
from uprez.runtime.auto import AutoUpscaler, open_upscaler
from uprez.runtime.cli import main as sr_run
from uprez.runtime.models import AutoModel, ShippedModel
from uprez.runtime.upscaler import Upscaler

from .test_compression import as_jpeg, photo

pytest.importorskip("onnx", reason="the test models are built with onnx")


@pytest.fixture
def auto_x2(monkeypatch, tmp_path):
    """A shipped x2 pair in a temporary models folder, as the default for x2."""
    from tests.onnx_models import make_sr_model

    folder = tmp_path / "models"
    folder.mkdir()
    for name, seed in (("test-clean-x2", 1), ("test-real-x2", 2)):
        make_sr_model(folder / f"{name}.onnx", scale=2, seed=seed, gain=2.0,
                      metadata={"uprez.scale": "2", "uprez.name": name})
    choice = AutoModel("test-auto-x2", 2, clean="test-clean-x2", real="test-real-x2",
                       real_below_quality=90)
    monkeypatch.setattr(shipped, "MODELS_DIR", folder)
    monkeypatch.setattr(shipped, "SHIPPED", (ShippedModel("test-clean-x2", 2, "clean", 1.0),
                                             ShippedModel("test-real-x2", 2, "real", 1.0)))
    monkeypatch.setattr(shipped, "AUTO", (choice,))
    monkeypatch.setattr(shipped, "DEFAULT_MODELS", {2: "test-auto-x2", 4: "test-auto-x2"})
    return folder


def test_the_default_picks_the_real_model_for_jpeg_damage_and_the_clean_one_otherwise(auto_x2):
    upscaler = open_upscaler(None, scale=2, device="cpu", tile=0)
    assert isinstance(upscaler, AutoUpscaler) and upscaler.scale == 2
    clean_model = Upscaler(auto_x2 / "test-clean-x2.onnx", device="cpu", tile=0)
    real_model = Upscaler(auto_x2 / "test-real-x2.onnx", device="cpu", tile=0)
    clean, damaged = photo(), as_jpeg(photo(), 60)
    np.testing.assert_array_equal(upscaler.upscale(clean), clean_model.upscale(clean))
    np.testing.assert_array_equal(upscaler.upscale(damaged), real_model.upscale(damaged))
    assert not np.array_equal(clean_model.upscale(damaged), real_model.upscale(damaged))
    assert upscaler.usage() in ("1 by test-clean-x2, 1 by test-real-x2",
                                "1 by test-real-x2, 1 by test-clean-x2")


def test_mild_jpeg_above_the_threshold_goes_to_the_clean_model(auto_x2):
    upscaler = open_upscaler("test-auto-x2", device="cpu", tile=0)
    assert upscaler.real_share(as_jpeg(photo(), 95)) == 0.0
    assert upscaler.pick(as_jpeg(photo(), 95)) is upscaler.clean
    assert upscaler.pick(as_jpeg(photo(), 70)) is upscaler.real


def test_the_real_models_share_falls_with_the_jpeg_quality():
    choice = AutoModel("a", 4, clean="c", real="r", real_below_quality=90,
                       real_only_below_quality=65)
    shares = [choice.real_share(quality) for quality in (40, 65, 75, 85, 90, 91, 100)]
    assert shares == pytest.approx([1.0, 1.0, 25 / 35, 15 / 35, 10 / 35, 0.0, 0.0])
    assert choice.real_share(None) == 0.0


def test_mild_jpeg_damage_gets_the_two_models_outputs_blended_by_its_share(auto_x2):
    upscaler = open_upscaler("test-auto-x2", device="cpu", tile=0)
    damaged = as_jpeg(photo(), 80)
    share = upscaler.real_share(damaged)
    assert 0.0 < share < 1.0
    real = upscaler.real.upscale(damaged).astype(np.float32)
    clean = upscaler.clean.upscale(damaged).astype(np.float32)
    expected = np.clip(np.rint(share * real + (1 - share) * clean), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(upscaler.upscale(damaged), expected)
    assert upscaler.usage() == "1 by test-real-x2 + test-clean-x2 blended"


def test_lossy_video_gets_the_real_model_and_lossless_the_clean_one(auto_x2):
    upscaler = open_upscaler("test-auto-x2", device="cpu", tile=0)
    assert upscaler.pick_for_video("h264") is upscaler.real
    assert upscaler.pick_for_video("ffv1") is upscaler.clean


def test_an_auto_model_of_another_scale_than_asked_is_refused(auto_x2):
    from uprez.runtime.backends import ModelError

    with pytest.raises(ModelError, match="x2 model, not x4"):
        open_upscaler("test-auto-x2", scale=4, device="cpu")


def test_sr_run_by_default_upscales_each_image_with_its_pick_and_says_so(auto_x2, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "clean.png"), photo())
    cv2.imwrite(str(inputs / "screenshot.png"), as_jpeg(photo(seed=1), 50))  # JPEG saved as PNG
    result = CliRunner().invoke(sr_run, [str(inputs), "-o", str(tmp_path / "out"), "-s", "2",
                                         "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "1 by test-real-x2" in result.output and "1 by test-clean-x2" in result.output
    real = Upscaler(auto_x2 / "test-real-x2.onnx", device="cpu")
    expected = real.upscale(cv2.imread(str(inputs / "screenshot.png")))
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out" / "screenshot.png")), expected)


def test_the_model_list_shows_the_default_choice(auto_x2):
    result = CliRunner().invoke(sr_run, ["--list-models"])
    assert result.exit_code == 0
    assert "test-auto-x2 (default)" in result.output
    assert "test-real-x2 for inputs with JPEG damage found in the pixels" in result.output
    assert "blended with test-clean-x2 up to 90" in result.output
    assert "test-clean-x2" in result.output


def test_sr_run_by_default_upscales_a_lossy_video_with_the_real_model(auto_x2, tmp_path):
    from tests.runtime.video_clips import decode_frames, make_clip

    lossy = make_clip(tmp_path / "lossy.mp4", frames=4, audio=False)
    lossless = make_clip(tmp_path / "lossless.mkv", frames=4, audio=False, codec="ffv1")
    for clip, model in ((lossy, "test-real-x2"), (lossless, "test-clean-x2")):
        frames = tmp_path / f"frames_{clip.stem}"
        result = CliRunner().invoke(sr_run, [str(clip), "--frames-dir", str(frames), "-s", "2",
                                             "--device", "cpu"])
        assert result.exit_code == 0, result.output
        assert f"upscaled with {model}" in result.output
        first = cv2.imread(str(frames / clip.stem / "frame_000001.png")).astype(int)
        source = decode_frames(clip)[0]  # decoded by ffmpeg directly: close, not identical
        distance = {name: np.abs(first - Upscaler(auto_x2 / f"{name}.onnx", device="cpu")
                                 .upscale(source)).mean()
                    for name in ("test-real-x2", "test-clean-x2")}
        assert min(distance, key=distance.get) == model


def test_an_animation_gets_one_model_for_all_its_frames_picked_by_the_first(auto_x2, tmp_path):
    from tests.runtime.photo_files import animated_file, shown_frames

    frames = [as_jpeg(photo(64, 80), 60), photo(64, 80, seed=1), photo(64, 80, seed=2)]
    rgba = [np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGBA)) for frame in frames]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "clip.png").write_bytes(animated_file(rgba, "PNG", [100] * 3, loop=0))
    result = CliRunner().invoke(sr_run, [str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                         "--scale", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "1 by test-real-x2" in result.stdout and "clean" not in result.stdout
    real_model = Upscaler(auto_x2 / "test-real-x2.onnx", device="cpu", tile=0)
    shown, _, _, _ = shown_frames(tmp_path / "out" / "clip.png")
    for got, frame in zip(shown, real_model.upscale_images(frames), strict=True):
        np.testing.assert_array_equal(got[:, :, :3], frame[:, :, ::-1])
