"""AVI in and out: AVI stores no presentation times (the n-th chunk of a stream is shown at its
start + n units), so its video must be stored in display order at its own frame rate, and a
stream that starts late says so in its stream header. Timing is read back by decoding, since
copied AVI packets carry no presentation times."""

import re
import struct
from fractions import Fraction

import pytest

from tests.onnx_models import make_sr_model
from tests.runtime.video_clips import (
    OnnxFrameFn,
    describe,
    ffmpeg,
    make_clip,
    stream_md5,
)
from uprez.runtime.video import avi
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.pipeline import upscale_video
from uprez.runtime.video.probe import probe


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2)


def shown_at(path, selector):
    """Seconds at which the decoded frames of a stream (e.g. '0:v:0') are presented, in order."""
    text = ffmpeg("-i", str(path), "-map", selector, "-f", "framecrc", "-").stdout.decode()
    timebase = Fraction(re.search(r"#tb 0: (\S+)", text).group(1))
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    return [int(row[2]) * timebase for row in rows]


def header_rate(path) -> str:
    """The video line's 'N fps, N tbr, N tbn' as ffmpeg describes the file."""
    line = next(line for line in describe(path).splitlines() if "Video:" in line)
    return re.search(r"(\S+) fps, (\S+) tbr, (\S+) tbn", line).group(0)


def start_stream_late(path, kind: bytes, units: int) -> None:
    """Set dwStart of the first stream header of `kind` (b'vids' or b'auds'), as AVI writers
    other than ffmpeg's do for a stream that begins after the others."""
    data = bytearray(path.read_bytes())
    header = data.index(b"strh" + struct.pack("<I", 56) + kind) + 8
    struct.pack_into("<I", data, header + 28, units)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rate, sound, codec, name", [
    (25, True, None, "h264"),
    (10, False, None, "h264"),
    (25, True, "h265", "hevc"),
    (25, True, "vp9", "vp9"),
])
def test_avi_picture_starts_with_its_sound_at_the_frame_rate(model, tmp_path, rate, sound,
                                                              codec, name):
    """MPEG-4 Part 2 with PCM sound, as cameras and old tools write AVI."""
    clip = make_clip(tmp_path / "clip.avi", rate=str(rate), frames=rate, audio=sound,
                     codec="mpeg4", audio_codec="pcm_s16le")
    out = tmp_path / "out" / "clip.avi"
    result = upscale_video(clip, out, OnnxFrameFn(model), codec=codec, preset="ultrafast",
                           progress=False)
    assert f"Video: {name}" in describe(out)
    assert header_rate(out) == f"{rate} fps, {rate} tbr, {rate} tbn"
    assert shown_at(out, "0:v:0") == [Fraction(i, rate) for i in range(rate)]
    assert result.frames == rate and probe(find_ffmpeg(), out).frame_count == rate
    if sound:
        assert shown_at(out, "0:a:0")[0] == 0
        assert stream_md5(out, "0:a:0") == stream_md5(clip, "0:a:0")


@pytest.mark.parametrize("source, late, output", [
    (".avi", "video", ".avi"), (".avi", "video", ".mkv"), (".avi", "audio", ".avi"),
    (".mp4", "video", ".avi"),  # AAC's priming starts the sound before 0
])
def test_a_stream_that_starts_later_keeps_its_delay_in_and_out_of_avi(model, tmp_path, source,
                                                                      late, output):
    if source == ".avi":  # 0.4 s late: 10 frames of video, or 19200 samples of sound
        clip = make_clip(tmp_path / "late.avi", rate="25", frames=25, codec="mpeg4",
                         audio_codec="pcm_s16le")
        start_stream_late(clip, b"vids" if late == "video" else b"auds",
                          10 if late == "video" else 19200)
    else:
        clip = tmp_path / "late.mp4"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1.4", "-itsoffset", "0.4",
               "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-map", "1:v",
               "-map", "0:a", "-c:v", "libx264", "-c:a", "aac", "-y", str(clip))
    video_start, sound_start = shown_at(clip, "0:v:0")[0], shown_at(clip, "0:a:0")[0]
    assert abs(video_start - sound_start) == pytest.approx(0.4, abs=0.03)  # as ffmpeg reads it

    out = tmp_path / f"out{output}"
    upscale_video(clip, out, OnnxFrameFn(model), progress=False)
    video, sound = shown_at(out, "0:v:0"), shown_at(out, "0:a:0")
    assert float(video[0] - sound[0]) == pytest.approx(float(video_start - sound_start),
                                                       abs=1 / 50)
    assert [t - video[0] for t in video] == [Fraction(i, 25) for i in range(25)]
    assert "25 fps" in header_rate(out) and probe(find_ffmpeg(), out).frame_count == 25
    assert stream_md5(out, "0:a:0") == stream_md5(clip, "0:a:0")


def test_stream_headers_of_other_or_cut_files_are_read_without_error(tmp_path):
    clip = make_clip(tmp_path / "clip.avi", rate="25", frames=2, codec="mpeg4",
                     audio_codec="pcm_s16le")
    assert [(h.kind, h.unit, h.start) for h in avi.stream_headers(clip)] == [
        ("vids", Fraction(1, 25), 0), ("auds", Fraction(1, 48000), 0)]
    cut = tmp_path / "cut.avi"
    cut.write_bytes(clip.read_bytes()[:130])  # inside the first stream header
    assert avi.stream_headers(cut) == []
    assert avi.stream_headers(make_clip(tmp_path / "clip.mp4", frames=2)) == []
