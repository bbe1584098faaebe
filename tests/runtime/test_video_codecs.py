"""--codec/--crf/--preset/--pix-fmt against what this ffmpeg build really has."""

from dataclasses import asdict

import pytest

from uprez.runtime.video.codecs import resolve_encoder
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg, find_ffmpeg


@pytest.fixture(scope="module")
def tool():
    return find_ffmpeg()


def resolve(tool, **overrides):
    request = dict(codec=None, crf=None, preset=None, pix_fmt=None, container=".mp4",
                   high_bit_depth=False)
    request.update(overrides)
    return resolve_encoder(tool, **request)


def test_codecs_map_to_encoders_this_build_has(tool):
    have = tool.encoders()
    for codec in ("h264", "h265", "vp9", "av1"):
        settings = resolve(tool, codec=codec, container=".mkv")
        assert settings.encoder in have


def test_defaults_follow_the_container_and_the_source_depth(tool):
    assert resolve(tool).codec == "h264"
    assert resolve(tool, container=".webm").codec == "vp9"
    assert resolve(tool).pix_fmt == "yuv420p"
    assert resolve(tool, high_bit_depth=True).pix_fmt == "yuv420p10le"


def test_avi_video_is_encoded_in_display_order(tool):
    """AVI keeps no presentation times: B-frames would show every frame late."""
    for codec in ("h264", "h265"):
        avi = resolve(tool, codec=codec, container=".avi")
        mkv = resolve(tool, codec=codec, container=".mkv")
        assert avi.ffmpeg_args()[-2:] == ["-bf", "0"] and "-bf" not in mkv.ffmpeg_args()
        assert asdict(avi) != asdict(mkv)  # so --resume never joins segments made with them


def test_x264_style_presets_become_speed_numbers_for_av1_and_vp9(tool):
    av1 = resolve(tool, codec="av1", preset="veryslow")
    assert av1.preset.isdigit()
    assert int(resolve(tool, codec="av1", preset="ultrafast").preset) > int(av1.preset)
    assert resolve(tool, codec="vp9", preset="3").preset == "3"


@pytest.mark.parametrize("request_, message", [
    (dict(codec="mpeg2"), "unknown codec 'mpeg2'"),
    (dict(codec="h264", container=".webm"), "cannot hold h264"),
    (dict(crf=70), "out of range"),
    (dict(preset="warp9"), "not an libx264 preset"),
    (dict(pix_fmt="rgb565le"), "not supported by libx264"),
    (dict(container=".gif"), "cannot write video files ending in '.gif'"),
])
def test_impossible_requests_are_refused_with_the_reason(tool, request_, message):
    with pytest.raises(VideoError, match=message):
        resolve(tool, **request_)


def test_a_missing_encoder_names_what_the_build_can_do(tool, monkeypatch):
    monkeypatch.setattr(Ffmpeg, "encoders", lambda self: frozenset({"libx264"}))
    with pytest.raises(VideoError, match="no av1 encoder .* it can write: h264"):
        resolve(tool, codec="av1")
