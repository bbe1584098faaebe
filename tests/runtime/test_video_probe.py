"""Reading what a video holds with ffmpeg alone: exact rates, counts, depth, streams."""

from fractions import Fraction

import pytest

from tests.runtime.video_clips import make_clip
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import ENV_VAR, find_ffmpeg
from uprez.runtime.video.probe import bit_depth, probe


@pytest.fixture(scope="module")
def tool():
    return find_ffmpeg()


def test_fractional_rate_is_exact_and_streams_are_listed(tool, tmp_path):
    clip = make_clip(tmp_path / "ntsc.mp4", rate="30000/1001", frames=15, subtitles=True)
    info = probe(tool, clip)
    assert info.fps == Fraction(30000, 1001)
    assert (info.width, info.height, info.frame_count) == (64, 48, 15)
    assert info.duration == pytest.approx(15 * 1001 / 30000, abs=0.02)
    assert [s.codec for s in info.audio] == ["aac"]
    assert [s.codec for s in info.subtitles] == ["mov_text"]
    assert info.bit_depth == 8


def test_ten_bit_source_is_recognised(tool, tmp_path):
    clip = make_clip(tmp_path / "ten.mkv", rate="25", frames=6, audio=False, codec="libx265",
                     pix_fmt="yuv420p10le")
    info = probe(tool, clip)
    assert (info.pix_fmt, info.bit_depth, info.fps) == ("yuv420p10le", 10, Fraction(25))
    assert info.audio == () and info.subtitles == ()


def test_a_file_that_is_not_a_video_is_named_in_the_error(tool, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a movie" * 50)
    with pytest.raises(VideoError, match="junk.mp4: not a readable video"):
        probe(tool, junk)


def test_audio_only_file_has_no_video_stream(tool, tmp_path):
    from tests.runtime.video_clips import ffmpeg

    sound = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.3", "-c:a", "aac", str(sound))
    with pytest.raises(VideoError, match="has no video stream"):
        probe(tool, sound)


@pytest.mark.parametrize("pix_fmt, bits", [("yuv420p", 8), ("yuvj420p", 8), ("nv12", 8),
                                           ("yuv420p10le", 10), ("yuv422p12le", 12),
                                           ("p010le", 10), ("gray16le", 16), ("rgb48le", 16),
                                           ("gbrp10le", 10), ("bgr24", 8)])
def test_bit_depth_is_read_from_pixel_format_names(pix_fmt, bits):
    assert bit_depth(pix_fmt) == bits


def test_uprez_ffmpeg_none_means_no_ffmpeg(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "none")
    assert find_ffmpeg() is None


def test_uprez_ffmpeg_can_name_the_binary(monkeypatch):
    real = find_ffmpeg()
    monkeypatch.setenv(ENV_VAR, real.exe)
    chosen = find_ffmpeg()
    assert (chosen.exe, chosen.origin) == (real.exe, ENV_VAR)
    monkeypatch.setenv(ENV_VAR, "/no/such/ffmpeg")
    with pytest.raises(VideoError, match="is not an ffmpeg binary"):
        find_ffmpeg()
