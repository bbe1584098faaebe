"""`sr-run` on videos, and on folders that mix images and videos: real clips, real ONNX model."""

import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tests.onnx_models import make_sr_model
from tests.runtime.helpers import noise
from tests.runtime.video_clips import (
    decode_frames,
    decoded_audio,
    describe,
    ffmpeg,
    make_clip,
    packet_times,
    stream_md5,
)
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.cli import main
from uprez.runtime.metadata import ModelInfo
from uprez.runtime.upscaler import Upscaler
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.probe import probe


def sr_run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def hidden(folder):
    """Work folders and temp files, which no finished or failed run may leave behind."""
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2,
                         metadata=ModelInfo(scale=2, receptive_field=2,
                                            name="video-cli-test").to_props())


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    whole = make_clip(folder / "whole.mkv", frames=30)
    cut = folder / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    return {
        "clip": make_clip(folder / "clip.mp4", frames=12),
        # 4:4:4 with distinct frames, so PNG frames can be compared with the model exactly
        "moving": make_clip(folder / "moving.mp4", frames=6, moving=True, pix_fmt="yuv444p"),
        "cut": cut,
    }


@pytest.fixture
def media(tmp_path, clips, rng):
    """A folder with a photo, a good video and a truncated one."""
    folder = tmp_path / "media"
    write_image(folder / "photo.png", noise(rng, (20, 30, 3)))
    shutil.copy(clips["clip"], folder / "clip.mp4")
    shutil.copy(clips["cut"], folder / "broken.mkv")
    return folder


def test_a_mixed_folder_upscales_images_and_videos_and_names_the_broken_video(media, model,
                                                                             clips, tmp_path):
    out = tmp_path / "out"
    result = sr_run(media, "-o", out, "-m", model, "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert read_image(out / "photo.png").shape == (40, 60, 3)
    made, source = probe(find_ffmpeg(), out / "clip.mp4"), probe(find_ffmpeg(), clips["clip"])
    assert (made.width, made.height) == (2 * source.width, 2 * source.height)
    assert made.frame_count == 12 and made.fps == Fraction(30000, 1001)
    assert stream_md5(out / "clip.mp4", "0:a:0") == stream_md5(clips["clip"], "0:a:0")
    # the broken one is named with its reason, and nothing of it is left in the output
    assert any(str(media / "broken.mkv") in line and "damaged or truncated" in line
               for line in result.stderr.splitlines()), result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "photo.png"]
    assert hidden(out) == []
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 image:" in summary and "1 video: 12 frames upscaled" in summary
    assert "2 done" in summary and "1 failed" in summary


def test_frames_dir_gets_the_models_frames_as_pngs_and_images_still_go_to_output(
        tmp_path, clips, model, rng):
    folder = tmp_path / "in"
    write_image(folder / "photo.png", noise(rng, (10, 12, 3)))
    shutil.copy(clips["moving"], folder / "moving.mp4")
    out, frames = tmp_path / "out", tmp_path / "frames"
    result = sr_run(folder, "-o", out, "--frames-dir", frames, "-m", model, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["photo.png"]
    written = sorted((frames / "moving").glob("*.png"))
    assert [p.name for p in written] == [f"frame_{i:06d}.png" for i in range(1, 7)]
    expected = Upscaler(model, device="cpu").upscale_batch(list(decode_frames(clips["moving"])))
    for path, want in zip(written, expected, strict=True):
        np.testing.assert_array_equal(cv2.imread(str(path)), want)
    again = sr_run(folder, "-o", out, "--frames-dir", frames, "-m", model, "--device", "cpu")
    assert again.exit_code == 0 and "2 skipped" in again.stdout


def test_finished_videos_are_skipped_unless_overwrite(tmp_path, clips, model):
    out = tmp_path / "out"
    args = [clips["clip"], "-o", out, "-m", model, "--device", "cpu"]
    assert sr_run(*args).exit_code == 0
    before = (out / "clip.mp4").stat().st_mtime_ns
    second = sr_run(*args)
    assert second.exit_code == 0 and "1 skipped" in second.stdout
    assert (out / "clip.mp4").stat().st_mtime_ns == before
    third = sr_run(*args, "--overwrite")
    assert third.exit_code == 0 and "1 done" in third.stdout
    assert (out / "clip.mp4").stat().st_mtime_ns != before


def test_outscale_resizes_video_frames_after_the_model(tmp_path, clips, model):
    result = sr_run(clips["clip"], "-o", tmp_path / "out", "-m", model, "--device", "cpu",
                    "--outscale", "1.5")
    assert result.exit_code == 0, result.output
    made = probe(find_ffmpeg(), tmp_path / "out" / "clip.mp4")
    assert (made.width, made.height, made.frame_count) == (96, 72, 12)


def test_one_video_to_a_file_name_may_change_the_container(tmp_path, clips, model):
    target = tmp_path / "big.mkv"
    result = sr_run(clips["clip"], "-o", target, "-m", model, "--device", "cpu",
                    "--codec", "h265", "--crf", "30", "--preset", "ultrafast")
    assert result.exit_code == 0, result.output
    made = probe(find_ffmpeg(), target)
    assert made.frame_count == 12 and made.width == 128 and made.audio
    assert "Video: hevc" in subprocess.run([find_ffmpeg().exe, "-hide_banner", "-i", str(target)],
                                           capture_output=True, text=True).stderr


@pytest.mark.parametrize("name, args, message", [
    ("clip.mp4", ["--codec", "h264", "--crf", "60"], "out of range for h264"),
    ("clip.webm", ["--codec", "h264"], "cannot hold h264"),
    ("clip.mp4", ["--preset", "warp9"], "is not an libx264 preset"),
    ("clip.mp4", ["--pix-fmt", "rgb48le"], "not supported by libx264"),
    ("clip.mp4", ["-o", "{tmp}/clip.png"], "give a video file name"),
])
def test_impossible_video_settings_are_usage_errors_before_any_work(tmp_path, clips, model,
                                                                    name, args, message):
    source = tmp_path / name
    shutil.copy(clips["clip"], source)  # the settings are refused before the file is opened
    args = [a.format(tmp=tmp_path) for a in args]
    result = sr_run(source, *(["-o", tmp_path / "out"] if "-o" not in args else []), *args,
                    "-m", model, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("suffix, video, audio", [
    (".ts", "libx264", "aac"),  # TV and camcorder recordings
    (".mpg", "mpeg2video", "mp2"),  # DVD-era video
    (".wmv", "wmv2", "wmav2"),
])
def test_containers_sr_run_cannot_write_are_read_and_written_as_matroska(
        tmp_path, model, suffix, video, audio):
    source = tmp_path / "in" / f"old{suffix}"
    source.parent.mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-f", "lavfi", "-i", "sine",
           "-frames:v", "25", "-t", "1", "-c:v", video, "-c:a", audio, "-y", str(source))
    result = sr_run(source.parent, "-o", tmp_path / "out", "-m", model, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"old{suffix}: written as old.mkv" in result.stderr
    out = tmp_path / "out" / "old.mkv"
    made, read = probe(find_ffmpeg(), out), probe(find_ffmpeg(), source)
    assert (made.width, made.height, made.frame_count) == (128, 96, read.frame_count)
    assert made.fps == read.fps == 25
    assert made.video_delay == pytest.approx(read.video_delay, abs=0.002)
    # copied, not re-encoded (the bytes differ only where TS wraps AAC in ADTS headers)
    assert np.array_equal(decoded_audio(out), decoded_audio(source))
    assert audio in describe(out).split("Audio: ", 1)[1].split(",")[0].replace("_", "")


def test_audio_even_matroska_cannot_copy_is_kept_as_flac(tmp_path, model):
    source = tmp_path / "flash.flv"  # Nellymoser: Flash-era speech audio
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-f", "lavfi", "-i",
           "sine=sample_rate=22050", "-frames:v", "10", "-t", "0.4", "-c:v", "flv1",
           "-c:a", "nellymoser", "-y", str(source))
    result = sr_run(source, "-o", tmp_path / "out", "-m", model, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "(nellymoser) cannot be copied into .mkv as it is; it is re-encoded losslessly " \
           "as FLAC" in result.stderr
    out = tmp_path / "out" / "flash.mkv"
    assert [s.codec for s in probe(find_ffmpeg(), out).audio] == ["flac"]
    heard, source_audio = decoded_audio(out), decoded_audio(source)
    assert len(heard) == len(source_audio)
    assert np.abs(heard.astype(int) - source_audio).max() <= 1  # lossless up to rounding


def test_a_stream_listed_under_two_programs_is_copied_once(tmp_path, model):
    source = tmp_path / "broadcast.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-f", "lavfi", "-i", "sine",
           "-frames:v", "10", "-t", "0.4", "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
           "-c:a", "mp2", "-program", "title=one:st=0:st=1", "-program", "title=two:st=1",
           "-y", str(source))
    assert len(probe(find_ffmpeg(), source).audio) == 1
    result = sr_run(source, "-o", tmp_path / "out", "-m", model, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert len(probe(find_ffmpeg(), tmp_path / "out" / "broadcast.mkv").audio) == 1


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Two segments' worth of tiny frames: the first segment is done well before the end."""
    return make_clip(tmp_path_factory.mktemp("long") / "long.mp4", size="32x24", frames=1000)


@pytest.mark.parametrize("resume", [False, True])
def test_ctrl_c_leaves_no_half_video_and_resume_finishes_it(tmp_path, long_clip, model, resume):
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from uprez.runtime.cli import main; main()", str(long_clip),
               "-o", str(out), "-m", str(model), "--device", "cpu", "--batch", "2"]
    command += ["--resume"] if resume else []
    first_segment = out / ".long.mp4.uprez-parts" / "segment_000000.mp4"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not first_segment.exists():
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (out / "long.mp4").exists()
    if not resume:
        assert hidden(out) == []
        return
    assert first_segment.is_file()
    rerun = sr_run(*command[3:])
    assert rerun.exit_code == 0, rerun.output
    assert "resuming at frame 500" in rerun.stderr
    timebase, pts, _ = packet_times(out / "long.mp4")
    step = Fraction(1001, 30000) / Fraction(timebase)
    assert pts == [round(i * step) for i in range(1000)]
    assert hidden(out) == []


@pytest.mark.parametrize("rerun_args, resumed", [([], True), (["--outscale", "1.5"], False)])
def test_an_interrupted_frames_folder_resumes_only_with_the_same_settings(
        tmp_path, long_clip, model, rerun_args, resumed):
    frames = tmp_path / "frames"
    command = [sys.executable, "-c", "from uprez.runtime.cli import main; main()", str(long_clip),
               "--frames-dir", str(frames), "-m", str(model), "--device", "cpu", "--resume"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (frames / "long" / "frame_000050.png").exists():
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    done = len(list((frames / "long").glob("*.png")))
    assert 50 <= done < 1000
    # an interrupted folder is no finished output: a plain re-run does not skip it
    rerun = sr_run(*command[3:], *rerun_args)
    assert rerun.exit_code == 0 and "1 done" in rerun.stdout, rerun.output
    assert (f"resuming at frame {done}" in rerun.stderr) == resumed
    assert ("starting over" in rerun.stderr) != resumed
    written = sorted((frames / "long").glob("*.png"))
    assert len(written) == 1000
    size = (64, 48) if resumed else (48, 36)
    assert {cv2.imread(str(p)).shape[1::-1] for p in written[::97] + written[-1:]} == {size}
    again = sr_run(*command[3:], *rerun_args)
    assert again.exit_code == 0 and "1 skipped" in again.stdout, again.output
