"""AVI in and out: AVI stores no presentation times (the n-th chunk of a stream is shown at its
start + n units), so its video must be stored in display order at its own frame rate. Timing is
read back by decoding, since copied AVI packets carry no presentation times."""

import re
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
from uprez.runtime.video import upscale_video
from uprez.runtime.video.ffmpeg import find_ffmpeg
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
