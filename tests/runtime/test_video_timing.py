"""Sound and picture stay in sync: variable-frame-rate video (phones, screen recordings) is read
at a constant rate, with repeated frames costing no model run, and a video that starts after its
sound starts after it in the output too."""

from fractions import Fraction

import numpy as np
import pytest

from tests.onnx_models import make_sr_model
from tests.runtime.video_clips import (
    OnnxFrameFn,
    decoded_audio,
    ffmpeg,
    packet_times,
    stream_md5,
)
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.pipeline import reuse_repeats, upscale_video
from uprez.runtime.video.probe import constant_rate_for, packet_timing, probe


def framecrc(time_base: str, pts: list[int]) -> str:
    rows = [f"0, {p - 2}, {p}, 1, 100, 0x0" for p in pts]
    return "\n".join([f"#tb 0: {time_base}", "#media_type 0: video", *rows]) + "\n"


def test_rounding_jitter_is_a_constant_rate_and_a_gap_or_a_rate_change_is_not():
    jittery = [0, 33, 67, 100, 133, 167, 200, 234]  # 29.97 fps in a 1 ms time base
    assert not packet_timing(framecrc("1/1000", jittery)).is_variable()
    gap = [0, 1, 2, 3, 5, 6, 7]  # one dropped frame: a repeat keeps the rest in sync
    assert packet_timing(framecrc("1/30", gap)).is_variable()
    slower = [0, 1, 2, 3, 4, 8, 12]
    timing = packet_timing(framecrc("1/30", slower))
    assert timing.is_variable() and timing.packets == 7
    assert timing.span == Fraction(13, 30) and timing.average_fps() == Fraction(7 * 30, 13)


def test_b_frame_order_and_missing_timestamps_are_understood():
    reordered = packet_timing(framecrc("1/30", [0, 3, 1, 2, 6, 4, 5]))
    assert reordered.pts == tuple(range(7)) and not reordered.is_variable()
    unknown = packet_timing(framecrc("1/30", [0, 1, -(2 ** 63), 3]))
    assert unknown.packets == 4 and unknown.pts == () and not unknown.is_variable()


def test_the_constant_rate_is_the_nominal_one_unless_that_is_a_time_base():
    assert constant_rate_for(Fraction(30), Fraction(12)) == 30
    assert constant_rate_for(Fraction(60), Fraction(2)) == 60  # an idle screen recording
    assert constant_rate_for(Fraction(1000), Fraction(2997, 100)) == Fraction(2997, 100)


def test_a_repeated_frame_is_upscaled_once_across_batches():
    calls = []

    def double(frames):
        calls.append(len(frames))
        return [np.repeat(f, 2, axis=0) for f in frames]

    a, b = np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)
    upscale = reuse_repeats(double)
    first = upscale([a, a.copy(), b])
    second = upscale([b.copy(), b.copy(), a])
    assert calls == [2, 1]
    assert [int(f[0, 0, 0]) for f in first + second] == [0, 0, 1, 1, 1, 0]
    assert all(f.shape == (4, 2, 3) for f in first + second)


@pytest.fixture(scope="module")
def variable_rate_clip(tmp_path_factory):
    """20 frames at 30 fps, then 20 at 7.5 fps (3.33 s), every frame different, with sound."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    pattern = ("nullsrc=size=64x48:rate=30,format=gbrp,geq=r='mod(4*X+9*N,256)':"
               "g='mod(5*Y+13*N,256)':b='mod(3*(X+Y)+7*N,256)'")
    ffmpeg("-f", "lavfi", "-i", pattern, "-f", "lavfi", "-i", "sine=frequency=440",
           "-vf", "setpts='if(lt(N,20),N/30,2/3+(N-20)/7.5)/TB'", "-fps_mode", "vfr",
           "-frames:v", "40", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-t", "3.3333", "-y", str(path))
    return path


def test_a_variable_rate_video_keeps_its_duration_and_sound_at_a_constant_rate(
        variable_rate_clip, tmp_path):
    info = probe(find_ffmpeg(), variable_rate_clip)
    assert info.variable_rate and info.fps == 30
    upscale = OnnxFrameFn(make_sr_model(tmp_path / "x2.onnx", scale=2))
    out = tmp_path / "out.mp4"
    result = upscale_video(variable_rate_clip, out, upscale, batch=4, progress=False)
    timebase, pts, end = packet_times(out)
    step = Fraction(timebase) ** -1 / 30
    assert pts == [round(i * step) for i in range(len(pts))]  # constant 30 fps
    source_timebase, _, source_end = packet_times(variable_rate_clip)
    source_seconds = float(source_end * Fraction(source_timebase))
    seconds = float(end * Fraction(timebase))
    assert abs(seconds - source_seconds) <= 2 / 30, (seconds, source_seconds)
    assert result.frames == len(pts) and 95 <= len(pts) <= 101
    assert upscale.frames_seen == 40  # every source frame once; the repeats cost nothing
    assert stream_md5(out, "0:a:0") == stream_md5(variable_rate_clip, "0:a:0")


def test_a_constant_rate_video_is_not_taken_for_a_variable_one(tmp_path):
    from tests.runtime.video_clips import make_clip

    clip = make_clip(tmp_path / "mkv.mkv", frames=30)  # 1 ms time base: 33/34 ms steps
    info = probe(find_ffmpeg(), clip)
    assert not info.variable_rate and info.fps == Fraction(30000, 1001) and info.frame_count == 30


@pytest.mark.parametrize("late, suffix", [("video", ".mp4"), ("audio", ".mp4"), ("audio", ".ts")])
def test_a_stream_that_starts_later_than_the_other_keeps_that_delay(tmp_path, late, suffix):
    """A cut recording starts picture and sound at different times; so must the output."""
    clip = tmp_path / f"late{suffix}"
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:duration=3"]
    picture = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30:duration=2"]
    ffmpeg(*(["-itsoffset", "1"] if late == "audio" else []), *sound,
           *(["-itsoffset", "1"] if late == "video" else []), *picture,
           "-map", "1:v", "-map", "0:a", "-c:v", "libx264", "-c:a", "aac", "-y", str(clip))
    expected = 1.0 if late == "video" else -1.0
    assert probe(find_ffmpeg(), clip).video_delay == pytest.approx(expected, abs=0.03)
    out = tmp_path / "out.mkv"
    upscale_video(clip, out, OnnxFrameFn(make_sr_model(tmp_path / "x2.onnx", scale=2)),
                  progress=False)

    def picture_after_sound(path):
        starts = {s.kind: s.start for s in probe(find_ffmpeg(), path).streams}
        return starts["video"] - starts["audio"]

    assert picture_after_sound(out) == pytest.approx(picture_after_sound(clip), abs=1 / 60)
    assert np.array_equal(decoded_audio(out), decoded_audio(clip))
