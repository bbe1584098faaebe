"""The Upscaler on real ONNX models: tiling exactness, seams, batching, image kinds, threads."""

import threading
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from tests.runtime.conftest import FIELD
from tests.runtime.helpers import noise, smooth
from uprez.runtime.upscaler import Upscaler


@pytest.fixture(scope="module")
def whole(models):
    return Upscaler(models["x2"], device="cpu", tile=0)


def max_diff(a, b):
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


@pytest.mark.parametrize("height, width", [(37, 53), (100, 77), (5, 3), (1, 1), (64, 64), (2, 150)])
def test_tiled_output_equals_whole_image_output_when_pad_covers_the_receptive_field(
        models, whole, rng, height, width):
    image = noise(rng, (height, width, 3))
    reference = whole.upscale(image)
    assert reference.shape == (height * 2, width * 2, 3)
    for tile in (1, 7, 16, 40):
        for pad in (FIELD, FIELD + 2):
            tiled = Upscaler(models["x2"], device="cpu", tile=tile, tile_pad=pad, batch=3)
            assert max_diff(tiled.upscale(image), reference) <= 1, (tile, pad)


def test_default_pad_comes_from_the_receptive_field_in_the_metadata(models):
    assert Upscaler(models["x2"], device="cpu", tile=32).tile_pad == FIELD


def test_a_pad_below_the_receptive_field_changes_the_output(models, whole, rng):
    # guards the test above: the model is sensitive enough for missing context to show
    image = noise(rng, (48, 48, 3))
    tiled = Upscaler(models["x2"], device="cpu", tile=12, tile_pad=FIELD - 2)
    assert max_diff(tiled.upscale(image), whole.upscale(image)) > 10


def border_gradient_error(models, tile, pad):
    """Largest difference, across tile borders, between tiled and whole-image gradients."""
    image = smooth(96, 96)
    reference = Upscaler(models["x2_seams"], device="cpu", tile=0).upscale(image)
    tiled = Upscaler(models["x2_seams"], device="cpu", tile=tile, tile_pad=pad).upscale(image)
    error = tiled.astype(np.float64) - reference
    return max(np.abs(np.diff(error, axis=0)).max(), np.abs(np.diff(error, axis=1)).max())


def test_blended_tiles_leave_no_seam_when_the_pad_is_below_the_receptive_field(models):
    assert border_gradient_error(models, tile=24, pad=3) <= 2  # receptive field 4
    # without context or overlap the same model shows a clear seam, so the check can fail
    assert border_gradient_error(models, tile=24, pad=0) >= 8


def record_runs(upscaler):
    """Make the upscaler's real engine remember the input shapes it is run with."""
    engine = upscaler._model.engine
    recorder = SimpleNamespace(shapes=[])
    run = engine.run

    def recording_run(batch):
        recorder.shapes.append(batch.shape)
        return run(batch)

    engine.run = recording_run
    return recorder


def test_several_tiles_share_an_inference_call_and_all_have_one_shape(models, whole, rng):
    upscaler = Upscaler(models["x2"], device="cpu", tile=16, batch=4)
    recorder = record_runs(upscaler)
    image = noise(rng, (50, 61, 3))
    out = upscaler.upscale(image)
    assert max_diff(out, whole.upscale(image)) <= 1
    # windows of at most 22 = 16 + 2*3 pixels, at most 16 apart: 3 rows (50 pixels) x
    # 4 columns (61 pixels), shrunk to the smallest that still needs no more windows:
    # ceil((50 + 2*6) / 3) = 21 rows and ceil((61 + 3*6) / 4) = 20 columns
    assert {shape[1:] for shape in recorder.shapes} == {(3, 21, 20)}
    assert [shape[0] for shape in recorder.shapes[:-1]] == [4] * (len(recorder.shapes) - 1)
    assert sum(shape[0] for shape in recorder.shapes) == 3 * 4


def test_upscale_batch_matches_upscale_frame_by_frame(models, rng):
    upscaler = Upscaler(models["x2"], device="cpu", tile=16, batch=5)
    frames = [noise(rng, (40, 30, 3)) for _ in range(3)]
    recorder = record_runs(upscaler)
    outs = upscaler.upscale_batch(frames)
    assert any(shape[0] == 5 for shape in recorder.shapes)  # tiles of different frames together
    for frame, out in zip(frames, outs, strict=True):
        assert max_diff(out, upscaler.upscale(frame)) <= 1


@pytest.mark.parametrize("alpha", ["model", "bicubic"])
def test_upscale_images_shares_inference_calls_and_matches_upscale_one_by_one(models, rng, alpha):
    upscaler = Upscaler(models["x2"], device="cpu", tile=0, batch=4)
    frames = [noise(rng, (12, 10, 4)) for _ in range(2)] + [noise(rng, (12, 10, 3))]
    frames[1][:, :, 3] = 255  # opaque: no alpha run for this one
    recorder = record_runs(upscaler)
    outs = upscaler.upscale_images(frames, alpha=alpha, outscale=1.5)
    # colour of all three (and the alpha of the first, when the model upscales it) in one call
    assert recorder.shapes[0][0] == (4 if alpha == "model" else 3)
    for frame, out in zip(frames, outs, strict=True):
        assert out.shape == (18, 15, frame.shape[2])
        assert np.array_equal(out, upscaler.upscale(frame, alpha=alpha, outscale=1.5))
    assert upscaler.upscale_images([]) == []


def test_16_bit_stays_16_bit_and_agrees_with_8_bit(models, whole, rng):
    image8 = noise(rng, (20, 24, 3))
    image16 = image8.astype(np.uint16) * 257
    out16 = whole.upscale(image16)
    assert out16.dtype == np.uint16
    assert max_diff(out16 / 257.0, whole.upscale(image8)) <= 1
    tiled = Upscaler(models["x2"], device="cpu", tile=8).upscale(image16)
    assert max_diff(tiled, out16) <= 1  # exact at 16-bit precision too


def test_gray_stays_gray(whole, rng):
    gray = noise(rng, (21, 17))
    out = whole.upscale(gray)
    assert out.shape == (42, 34) and out.dtype == np.uint8
    expected = cv2.cvtColor(whole.upscale(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)),
                            cv2.COLOR_BGR2GRAY)
    assert max_diff(out, expected) <= 1


def disc_on_transparent_black(size=40):
    image = np.zeros((size, size, 4), np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, (0, 0, 255, 255), -1)  # opaque red
    return image


@pytest.mark.parametrize("alpha", ["model", "bicubic"])
def test_rgba_keeps_its_alpha_without_a_dark_fringe(models, alpha):
    upscaler = Upscaler(models["x4"], device="cpu", tile=0)
    image = disc_on_transparent_black()
    out = upscaler.upscale(image, alpha=alpha)
    assert out.shape == (160, 160, 4) and out.dtype == np.uint8
    visible = out[:, :, 3] >= 32
    assert visible.mean() == pytest.approx((image[:, :, 3] > 0).mean(), abs=0.05)
    # every visibly covered pixel stays red: the transparent black did not bleed into the edge
    assert out[:, :, 2][visible].min() >= 200
    assert out[:, :, :2][visible].max() <= 60


def test_alpha_modes_differ_only_in_the_alpha_channel(models):
    upscaler = Upscaler(models["x4"], device="cpu", tile=0)
    image = disc_on_transparent_black()
    by_model = upscaler.upscale(image, alpha="model")
    by_bicubic = upscaler.upscale(image, alpha="bicubic")
    assert np.array_equal(by_model[:, :, :3], by_bicubic[:, :, :3])
    assert not np.array_equal(by_model[:, :, 3], by_bicubic[:, :, 3])


def test_outscale_resizes_the_model_output(whole, rng):
    image = noise(rng, (30, 40, 3))
    assert whole.upscale(image, outscale=3.5).shape == (105, 140, 3)
    assert whole.upscale(image, outscale=1).shape == (30, 40, 3)
    assert np.array_equal(whole.upscale(image, outscale=2), whole.upscale(image))


def test_model_without_metadata_gets_its_scale_from_a_probe(models, rng):
    upscaler = Upscaler(models["bare_x3"], device="cpu")
    assert upscaler.scale == 3 and upscaler.info.scale == 3
    assert upscaler.info.channel_order == "RGB" and upscaler.info.value_range == (0.0, 1.0)
    assert upscaler.upscale(noise(rng, (11, 13, 3))).shape == (33, 39, 3)


def test_channel_order_from_metadata_is_honoured(models, rng):
    # Same weights; one model is declared BGR. Feeding it BGR must equal feeding the RGB model
    # the swapped image.
    image = noise(rng, (20, 20, 3))
    as_bgr = Upscaler(models["bgr_x2"], device="cpu", tile=0).upscale(image)
    as_rgb = Upscaler(models["x2"], device="cpu", tile=0).upscale(image[:, :, ::-1].copy())
    assert max_diff(as_bgr, as_rgb[:, :, ::-1]) <= 1
    assert max_diff(as_bgr, Upscaler(models["x2"], device="cpu", tile=0).upscale(image)) > 10


def test_two_threads_upscaling_different_images_at_once_get_correct_results(models, rng):
    upscaler = Upscaler(models["x2"], device="cpu", tile=12, batch=2)
    images = [noise(rng, (45, 38, 3)), smooth(33, 52)]
    expected = [upscaler.upscale(image) for image in images]
    results: dict[int, list] = {0: [], 1: []}
    start = threading.Barrier(2)

    def work(k):
        start.wait()
        for _ in range(5):
            results[k].append(upscaler.upscale(images[k]))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in (0, 1):
        assert len(results[k]) == 5
        assert all(np.array_equal(out, expected[k]) for out in results[k])


def test_tile_auto_picks_a_size_that_fits_free_memory(models, monkeypatch):
    import uprez.runtime.upscaler as upscaler_module
    from uprez.runtime import memory

    monkeypatch.setattr(memory, "free_ram", lambda: 64 * 2**30)
    roomy = Upscaler(models["x2"], device="cpu", tile="auto", batch=4).tile
    monkeypatch.setattr(memory, "free_ram", lambda: 40 * 2**20)
    tight = Upscaler(models["x2"], device="cpu", tile="auto", batch=4).tile
    assert roomy == max(upscaler_module.CPU_TILES)
    assert 0 < tight < roomy


def test_without_a_model_the_shipped_default_is_used_or_named(monkeypatch, tmp_path, models):
    import shutil

    from uprez.runtime import models as shipped
    from uprez.runtime.backends import ModelError

    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path)
    with pytest.raises(ModelError, match="uprez-compact-x4.onnx"):
        Upscaler(device="cpu")
    with pytest.raises(ModelError, match="no default x3 model"):
        Upscaler(scale=3, device="cpu")
    shutil.copy(models["x2"], tmp_path / "uprez-compact-x2.onnx")
    assert Upscaler(scale=2, device="cpu").scale == 2


def test_a_model_of_another_scale_than_asked_is_refused(models):
    from uprez.runtime.backends import ModelError

    with pytest.raises(ModelError, match="x2 model, not x4"):
        Upscaler(models["x2"], scale=4, device="cpu")


def test_bad_images_are_refused_with_a_clear_message(whole):
    with pytest.raises(ValueError, match="uint8 or uint16"):
        whole.upscale(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="HxW"):
        whole.upscale(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        whole.upscale(np.zeros((4, 4, 3), np.uint8), alpha="magic")


def test_an_output_too_large_for_memory_names_its_size_not_a_smaller_tile(models):
    from uprez.runtime.upscaler import OutputTooLarge

    upscaler = Upscaler(models["x2"], device="cpu", tile=0)
    # a view that costs no memory; its x2 output (over 400 TiB, more than a 64-bit process can
    # address) cannot be allocated whatever the kernel's overcommit policy
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (6_000_000, 6_500_000, 3))
    with pytest.raises(OutputTooLarge, match=r"13000000x12000000 pixels \(\d+\.\d GiB\)") \
            as caught:
        upscaler.upscale(huge)
    assert "a smaller --tile cannot help" in str(caught.value)


def test_a_tile_smaller_than_twice_its_pad_is_raised_with_a_notice(models):
    upscaler = Upscaler(models["x2"], device="cpu", tile=7, tile_pad=9)
    assert upscaler.tile == 18
    assert "--tile 7 is less than twice its pad of 9" in upscaler.notice
    assert "raised to 18" in upscaler.notice
    assert Upscaler(models["x2"], device="cpu", tile=18, tile_pad=9).notice is None
    assert Upscaler(models["x2"], device="cpu", tile=0, tile_pad=9).tile == 0
