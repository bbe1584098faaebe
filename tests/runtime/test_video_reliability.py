"""Damaged input, Ctrl-C and --resume: clear errors, no half files, nothing lost."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.onnx_models import make_sr_model
from tests.runtime.video_clips import OnnxFrameFn, decode_frames, make_clip, packet_times
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.pipeline import upscale_video
from uprez.runtime.video.probe import probe


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=20, subtitles=True)


def leftovers(folder):
    """Hidden work folders and temp files that a finished or failed run must not leave."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class InterruptAfter:
    """A real model run that gets Ctrl-C (KeyboardInterrupt, raised in the calling thread as
    the signal handler does) once `frames` frames were upscaled and `wait_for` exists."""

    def __init__(self, model, frames, wait_for=None):
        self.upscale, self.frames, self.wait_for = OnnxFrameFn(model), frames, wait_for

    def __call__(self, batch):
        if self.upscale.frames_seen >= self.frames:
            deadline = time.monotonic() + 20
            while self.wait_for is not None and not self.wait_for.exists():
                assert time.monotonic() < deadline, f"{self.wait_for} never appeared"
                time.sleep(0.02)
            raise KeyboardInterrupt
        return self.upscale(batch)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_truncated_input_fails_clearly_and_writes_nothing(suffix, model, tmp_path):
    whole = make_clip(tmp_path / f"whole{suffix}", frames=30)
    if suffix == ".mp4":  # index first, so the cut file still opens, as a cut download does
        from tests.runtime.video_clips import ffmpeg

        moved = tmp_path / "faststart.mp4"
        ffmpeg("-i", str(whole), "-c", "copy", "-movflags", "+faststart", str(moved))
        whole = moved
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(VideoError) as caught:
        upscale_video(cut, out_dir / f"cut{suffix}", OnnxFrameFn(model), progress=False)
    message = str(caught.value)
    assert f"cut{suffix} is damaged or truncated" in message
    decoded, promised = (int(n) for n in
                         __import__("re").search(r"after (\d+) of about (\d+)", message).groups())
    assert 0 < decoded < promised and promised >= 30
    assert "no output written" in message
    assert list(out_dir.iterdir()) == []


def test_garbage_inside_the_file_is_reported(model, tmp_path):
    clip = make_clip(tmp_path / "src.mkv", frames=30)
    data = bytearray(clip.read_bytes())
    for i in range(len(data) // 4, len(data) // 2, 7):
        data[i] ^= 0x5A
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="broken.mkv is damaged or truncated"):
        upscale_video(broken, tmp_path / "out.mkv", OnnxFrameFn(model), progress=False)
    assert not (tmp_path / "out.mkv").exists() and leftovers(tmp_path) == []


def test_ctrl_c_without_resume_leaves_nothing(clip, model, tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(clip, out, InterruptAfter(model, 8), segment_frames=4, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_resume_finishes_with_the_same_frames_and_timing(clip, model, tmp_path):
    uninterrupted = upscale_video(clip, tmp_path / "straight.mp4", OnnxFrameFn(model),
                                  segment_frames=5, progress=False).output
    out = tmp_path / "resumed.mp4"
    work = tmp_path / ".resumed.mp4.uprez-parts"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(clip, out, InterruptAfter(model, 12, work / "segment_000001.mp4"),
                      batch=2, segment_frames=5, resume=True, progress=False)
    assert not out.exists()
    kept = sorted(p.name for p in work.iterdir())
    assert kept[:2] == ["manifest.json", "segment_000000.mp4"] and "segment_000001.mp4" in kept
    assert not [name for name in kept if "tmp" in name]

    rest = OnnxFrameFn(model)
    result = upscale_video(clip, out, rest, batch=2, segment_frames=5, resume=True,
                           progress=False)
    done_before = 5 * sum(name.startswith("segment_") for name in kept)
    assert rest.frames_seen == 20 - done_before and result.upscaled == 20 - done_before
    assert result.frames == 20 and probe(find_ffmpeg(), out).frame_count == 20
    assert packet_times(out) == packet_times(uninterrupted)
    assert np.abs(decode_frames(out).astype(int) - decode_frames(uninterrupted)).mean() < 1.0
    assert leftovers(tmp_path) == []


def test_resume_with_other_settings_starts_over(clip, model, tmp_path):
    out = tmp_path / "out.mp4"
    work = tmp_path / ".out.mp4.uprez-parts"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(clip, out, InterruptAfter(model, 10, work / "segment_000000.mp4"),
                      segment_frames=5, resume=True, progress=False)
    again = OnnxFrameFn(model)
    upscale_video(clip, out, again, crf=30, segment_frames=5, resume=True, progress=False)
    assert again.frames_seen == 20


def test_frames_dir_resume_skips_written_frames(clip, model, tmp_path):
    folder = tmp_path / "frames"
    with pytest.raises(KeyboardInterrupt):
        upscale_video(clip, None, InterruptAfter(model, 6, folder / "frame_000006.png"),
                      frames_dir=folder, progress=False)
    written = len(list(folder.glob("frame_*.png")))
    rest = OnnxFrameFn(model)
    upscale_video(clip, None, rest, frames_dir=folder, resume=True, progress=False)
    assert rest.frames_seen == 20 - written and len(list(folder.iterdir())) == 20


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to find stray processes")
def test_a_real_sigint_stops_ffmpeg_and_leaves_no_half_file(tmp_path):
    clip = make_clip(tmp_path / "long.mp4", frames=60)
    out = tmp_path / "out" / "long.mp4"
    script = textwrap.dedent(f"""
        import sys, time, cv2
        from uprez.runtime.video.pipeline import upscale_video
        def slow(frames):
            time.sleep(0.1)
            return [cv2.resize(f, None, fx=2, fy=2) for f in frames]
        try:
            upscale_video({str(clip)!r}, {str(out)!r}, slow, segment_frames=5, resume=True,
                          progress=False)
        except KeyboardInterrupt:
            sys.exit(130)
        """)
    run = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    first_segment = out.parent / ".long.mp4.uprez-parts" / "segment_000000.mp4"
    deadline = time.monotonic() + 30
    while not first_segment.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read()
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 130
    assert "interrupted after" in run.stderr.read()
    assert not out.exists()
    kept = sorted(p.name for p in first_segment.parent.iterdir())
    assert "segment_000000.mp4" in kept and not [name for name in kept if "tmp" in name]
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _mentions(pid, tmp_path)]


def _mentions(pid, folder):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return str(folder).encode() in cmdline.read() and int(pid) != os.getpid()
    except OSError:
        return False


def test_opencv_fallback_when_no_ffmpeg_is_wanted(clip, model, tmp_path, monkeypatch, capsys):
    import cv2

    monkeypatch.setenv("UPREZ_FFMPEG", "none")
    out = tmp_path / "cv.mp4"
    result = upscale_video(clip, out, OnnxFrameFn(model), batch=4, progress=False)
    assert result.backend == "opencv" and result.frames == 20
    warning = capsys.readouterr().err
    assert "using OpenCV" in warning and "audio and subtitles are dropped" in warning
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 128
    assert capture.get(cv2.CAP_PROP_FRAME_HEIGHT) == 96
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30000 / 1001, abs=1e-3)
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 20
    assert leftovers(tmp_path) == []


def test_ctrl_c_before_any_finished_part_does_not_claim_parts_are_kept(clip, model, tmp_path,
                                                                       capsys):
    out = tmp_path / "out" / "clip.mp4"
    out.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        upscale_video(clip, out, InterruptAfter(model, frames=4), batch=2, resume=True,
                      progress=False, segment_frames=500)
    warning = capsys.readouterr().err
    assert "no part was finished yet, so nothing is kept for --resume" in warning
    assert "are kept for --resume" not in warning
    with pytest.raises(KeyboardInterrupt):
        upscale_video(clip, out, InterruptOnceAPartIsFinished(model, out), batch=2,
                      resume=True, progress=False, segment_frames=4)
    assert "the 4 frames of its finished parts are kept for --resume" in capsys.readouterr().err


class InterruptOnceAPartIsFinished(InterruptAfter):
    """Ctrl-C once the work folder's manifest lists a finished segment (the encoder thread
    closes it some time after its frames were upscaled)."""

    def __init__(self, model, output):
        super().__init__(model, frames=6)
        self.manifest = output.parent / f".{output.name}.uprez-parts" / "manifest.json"

    def __call__(self, batch):
        if self.upscale.frames_seen >= self.frames:
            import json

            deadline = time.monotonic() + 30
            while not json.loads(self.manifest.read_text()).get("segments"):
                assert time.monotonic() < deadline, "no segment was ever finished"
                time.sleep(0.02)
            raise KeyboardInterrupt
        return self.upscale(batch)
