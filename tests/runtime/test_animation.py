"""Animated GIF, APNG and WebP through `sr-run`: every frame upscaled, timing, loop, disposal and
transparency kept, the same format written back; bad files fail by name."""

import numpy as np
import pytest
from click.testing import CliRunner

from tests.runtime.helpers import noise
from tests.runtime.photo_files import (
    CAMERA,
    animated_file,
    camera_exif,
    display_p3_profile,
    gif_file,
    shown_frames,
    sprite_frames,
)
from uprez.runtime.animation import AnimationFile
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.cli import main
from uprez.runtime.upscaler import Upscaler

DURATIONS = {"sprite.gif": [80, 150, 300], "restore.gif": [100, 100, 200],
             "trail.gif": [50, 60, 70], "sprite.png": [1000 / 30, 50, 125],
             "sprite.webp": [70, 140, 210]}


def sr_run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def make_animations(folder):
    """Three GIFs (restore to background, restore to previous, keep: the disposals), an APNG
    with every disposal and blend, an animated WebP, and a still PNG beside them."""
    folder.mkdir(parents=True)
    sprites = sprite_frames(3)
    (folder / "sprite.gif").write_bytes(gif_file(sprites, DURATIONS["sprite.gif"], loop=3))
    (folder / "restore.gif").write_bytes(gif_file(sprites, DURATIONS["restore.gif"], loop=None,
                                                  disposal=3))
    (folder / "trail.gif").write_bytes(gif_file(sprites, DURATIONS["trail.gif"], loop=0,
                                                disposal=1))
    half_transparent = [frame.copy() for frame in sprites]
    for frame in half_transparent:
        frame[:, :, 3] //= 2  # APNG and WebP hold partial transparency
    (folder / "sprite.png").write_bytes(animated_file(
        half_transparent, "PNG", DURATIONS["sprite.png"], loop=2, disposal=[0, 1, 2],
        blend=[0, 1, 0], icc_profile=display_p3_profile()))
    (folder / "sprite.webp").write_bytes(animated_file(
        sprites, "WEBP", DURATIONS["sprite.webp"], loop=0, icc_profile=display_p3_profile(),
        exif=camera_exif(1, width=20, height=16)))
    write_image(folder / "still.png", noise(np.random.default_rng(0), (8, 8, 3)))


@pytest.fixture(scope="module")
def upscaled(tmp_path_factory, models):
    """One sr-run over the animations, x4: (input folder, output folder, result)."""
    root = tmp_path_factory.mktemp("animations")
    make_animations(root / "in")
    result = sr_run(root / "in", "-o", root / "out", "-m", models["x4"], "--device", "cpu",
                    "--batch", "2")
    return root / "in", root / "out", result


def expected_frames(source, models):
    """What sr-run should show: the source's frames as shown, upscaled by the same model."""
    with AnimationFile(source) as animation:
        frames = animation.read().frames
    outs = Upscaler(models["x4"], device="cpu", tile=0).upscale_images(frames)
    return [out[:, :, [2, 1, 0, 3]] if out.shape[2] == 4 else
            np.dstack([out[:, :, ::-1], np.full(out.shape[:2], 255, np.uint8)]) for out in outs]


def test_animations_and_stills_are_told_apart_and_all_are_done(upscaled):
    _, out, result = upscaled
    assert result.exit_code == 0, result.output
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 image:" in summary and "5 animations: 15 frames upscaled" in summary
    assert "6 done" in summary
    assert read_image(out / "still.png").shape == (32, 32, 3)


@pytest.mark.parametrize("name", sorted(DURATIONS))
def test_every_frame_comes_back_4x_with_its_duration_and_loop(upscaled, name):
    source, out, _ = upscaled
    frames, durations, loop, _ = shown_frames(out / name)
    src_frames, src_durations, src_loop, _ = shown_frames(source / name)
    assert len(frames) == len(src_frames) == 3
    assert all(frame.shape == (64, 80, 4) for frame in frames)  # 4x the 16x20 source
    assert durations == src_durations == pytest.approx(DURATIONS[name])
    assert loop == src_loop


def test_a_gif_keeps_its_transparency_and_its_frames_leave_no_trails(upscaled, models):
    source, out, _ = upscaled
    for name in ("sprite.gif", "restore.gif", "trail.gif"):
        frames, _, _, info = shown_frames(out / name)
        assert info.get("transparency") is not None
        expected = expected_frames(source / name, models)
        for frame, wanted in zip(frames, expected, strict=True):
            # GIF transparency is all or nothing: a pixel is clear where the upscaled alpha is
            # below half (trail.gif keeps its frames, so its sprites accumulate, as in the source)
            assert np.array_equal(frame[:, :, 3] == 0, wanted[:, :, 3] < 128), name
            shown = frame[:, :, 3] > 0
            error = np.abs(frame[:, :, :3].astype(int) - wanted[:, :, :3])[shown].mean()
            assert error < 6, name  # 256 colours for all frames, dithered


def test_apng_frames_are_exactly_the_upscaled_frames_and_keep_the_profile(upscaled, models):
    source, out, _ = upscaled
    frames, _, _, info = shown_frames(out / "sprite.png")
    for frame, wanted in zip(frames, expected_frames(source / "sprite.png", models), strict=True):
        assert np.array_equal(frame, wanted)
    assert info["icc_profile"] == display_p3_profile()


def test_animated_webp_keeps_transparency_profile_and_exif(upscaled, models):
    source, out, _ = upscaled
    frames, _, _, info = shown_frames(out / "sprite.webp")
    for frame, wanted in zip(frames, expected_frames(source / "sprite.webp", models),
                             strict=True):
        assert np.array_equal(frame[:, :, 3], wanted[:, :, 3])  # alpha is stored losslessly
        # colour is lossy (quality 95), and counts as much as the pixel is opaque
        weight = frame[:, :, 3:] / 255.0
        assert np.abs(frame[:, :, :3] * weight - wanted[:, :, :3] * weight).mean() < 3
    assert info["icc_profile"] == display_p3_profile()
    from PIL import ExifTags, Image

    exif = Image.open(out / "sprite.webp").getexif()
    assert exif[ExifTags.Base.Make] == CAMERA["make"]
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExifImageWidth] == 80


def test_a_second_run_skips_finished_animations(upscaled, models):
    source, out, _ = upscaled
    before = (out / "sprite.gif").stat().st_mtime_ns
    again = sr_run(source / "sprite.gif", source / "sprite.png", "-o", out, "-m", models["x4"],
                   "--device", "cpu")
    assert again.exit_code == 0 and "2 skipped" in again.stdout
    assert (out / "sprite.gif").stat().st_mtime_ns == before


def test_bad_animations_fail_by_name_and_the_rest_is_done(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    good = gif_file(sprite_frames(3), [100] * 3, loop=0)
    (folder / "good.gif").write_bytes(good)
    (folder / "cut.gif").write_bytes(good[:len(good) * 2 // 3])
    (folder / "boundary.gif").write_bytes(good[:-1])  # all frames, but no end marker
    (folder / "empty.gif").write_bytes(b"")
    (folder / "noframes.gif").write_bytes(good[:13] + b";")  # a header, then the end
    (folder / "text.gif").write_text("not a picture")
    apng = animated_file(sprite_frames(3), "PNG", [100] * 3, loop=0)
    (folder / "cut.png").write_bytes(apng[:len(apng) - 40])
    result = sr_run(folder, "-o", tmp_path / "out", "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 1
    reasons = {"cut.gif": "truncated GIF", "boundary.gif": "truncated GIF",
               "empty.gif": "empty file", "noframes.gif": "no frame",
               "text.gif": "not an animation", "cut.png": "truncated PNG"}
    for name, reason in reasons.items():
        assert any(str(folder / name) in line and reason in line
                   for line in result.stderr.splitlines()), (name, result.stderr)
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.gif"]
    assert "1 done" in result.stdout and "6 failed" in result.stdout


def test_format_png_or_webp_converts_a_gif_and_its_loop_count(tmp_path, models):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.gif").write_bytes(gif_file(sprite_frames(3), [100, 200, 300], loop=2))
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x2"], "--device",
                    "cpu", "--format", "webp")
    assert result.exit_code == 0, result.output
    frames, durations, loop, _ = shown_frames(tmp_path / "out" / "a.webp")
    # a GIF's loop count repeats it after the first play; WebP counts the plays
    assert len(frames) == 3 and durations == [100, 200, 300] and loop == 3
    note = sr_run(tmp_path / "in", "-o", tmp_path / "jpg", "-m", models["x2"], "--device",
                  "cpu", "--format", "jpg")
    assert note.exit_code == 0 and "keep their format" in note.stderr
    assert (tmp_path / "jpg" / "a.gif").is_file()


def test_a_gif_palette_without_ffmpeg_comes_from_pillow(tmp_path, models, monkeypatch):
    monkeypatch.setenv("UPREZ_FFMPEG", "none")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.gif").write_bytes(gif_file(sprite_frames(3), [80, 150, 300], loop=1))
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x4"], "--device",
                    "cpu")
    assert result.exit_code == 0, result.output
    frames, durations, loop, info = shown_frames(tmp_path / "out" / "a.gif")
    expected = expected_frames(tmp_path / "in" / "a.gif", models)
    assert durations == [80, 150, 300] and loop == 1 and info.get("transparency") is not None
    for frame, wanted in zip(frames, expected, strict=True):
        assert np.array_equal(frame[:, :, 3] == 0, wanted[:, :, 3] < 128)
        shown = frame[:, :, 3] > 0
        assert np.abs(frame[:, :, :3].astype(int) - wanted[:, :, :3])[shown].mean() < 8


def test_one_animation_to_a_file_name_of_its_kind(tmp_path, models):
    (tmp_path / "a.gif").write_bytes(gif_file(sprite_frames(2), [100, 100], loop=0))
    done = sr_run(tmp_path / "a.gif", "-o", tmp_path / "big.png", "-m", models["x2"],
                  "--device", "cpu")
    assert done.exit_code == 0, done.output
    assert len(shown_frames(tmp_path / "big.png")[0]) == 2  # an APNG
    refused = sr_run(tmp_path / "a.gif", "-o", tmp_path / "big.jpg", "-m", models["x2"])
    assert refused.exit_code == 2 and ".gif, .png or .webp" in refused.stderr


def test_large_animations_show_frame_progress_and_too_large_ones_fail_first(tmp_path, models,
                                                                          monkeypatch):
    from uprez.runtime import animation_jobs as jobs
    from uprez.runtime.base import console

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.gif").write_bytes(gif_file(sprite_frames(4), [100] * 4, loop=0))
    bars = []
    original = console.progress

    def recording_progress(*args, **kwargs):
        bars.append((kwargs.get("desc"), kwargs.get("unit"), kwargs.get("total")))
        return original(*args, **kwargs)

    monkeypatch.setattr(console, "progress", recording_progress)
    result = sr_run(tmp_path / "in", "-o", tmp_path / "out", "-m", models["x2"], "--device",
                    "cpu", "--batch", "2")
    assert result.exit_code == 0, result.output
    assert bars == [("animations", "anim", 1), ("a.gif", "frame", 4)]
    monkeypatch.setattr(jobs, "free_ram", lambda: 10_000)  # bytes; 46 kB needed
    small = sr_run(tmp_path / "in", "-o", tmp_path / "out2", "-m", models["x2"], "--device",
                   "cpu")
    assert small.exit_code == 1 and "too large to upscale in memory" in small.stderr
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


def test_ctrl_c_during_an_animation_leaves_no_file(tmp_path, models):
    from uprez.runtime.animation_jobs import AnimationOptions, run_animation_jobs
    from uprez.runtime.base.report import BatchReport
    from uprez.runtime.discover import ANIMATION, Job

    (tmp_path / "a.gif").write_bytes(gif_file(sprite_frames(4), [100] * 4, loop=0))
    upscaler = Upscaler(models["x2"], device="cpu", batch=1)
    calls = []

    def interrupted(frames, **kwargs):
        calls.append(len(frames))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return Upscaler.upscale_images(upscaler, frames, **kwargs)

    upscaler.upscale_images = interrupted
    job = Job(tmp_path / "a.gif", tmp_path / "out" / "a.gif", ANIMATION)
    with pytest.raises(KeyboardInterrupt):
        run_animation_jobs([job], upscaler, AnimationOptions(), BatchReport())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
