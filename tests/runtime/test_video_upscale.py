"""Upscaling real clips end to end: sizes, frames, timing, audio, subtitles, depth, codecs."""

from fractions import Fraction

import numpy as np
import pytest

from tests.onnx_models import make_sr_model
from tests.runtime.video_clips import (
    OnnxFrameFn,
    decode_frames,
    decoded_audio,
    describe,
    ffmpeg,
    make_clip,
    packet_times,
    stream_md5,
    subtitle_text,
)
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.pipeline import upscale_video
from uprez.runtime.video.probe import probe


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2)


@pytest.fixture(scope="module")
def ntsc_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return make_clip(folder / "ntsc.mp4", rate="30000/1001", frames=20, subtitles=True)


def test_mp4_keeps_rate_frames_duration_audio_and_subtitles(ntsc_clip, model, tmp_path):
    out = tmp_path / "ntsc_x2.mp4"
    result = upscale_video(ntsc_clip, out, OnnxFrameFn(model), batch=4, progress=False)
    assert (result.output, result.frames, result.upscaled) == (out, 20, 20)
    source, made = probe(find_ffmpeg(), ntsc_clip), probe(find_ffmpeg(), out)
    assert (made.width, made.height) == (source.width * 2, source.height * 2)
    assert made.fps == Fraction(30000, 1001) and made.frame_count == 20
    # timing read independently: every frame 1001/30000 s apart, from 0
    timebase, pts, end = packet_times(out)
    step = Fraction(1001, 30000) / Fraction(timebase)
    assert pts == [round(i * step) for i in range(20)] and end == round(20 * step)
    assert made.duration == pytest.approx(source.duration, abs=0.005)
    # audio copied bit for bit, subtitles kept with their text
    assert stream_md5(out, "0:a:0") == stream_md5(ntsc_clip, "0:a:0")
    assert [s.codec for s in made.subtitles] == ["mov_text"]
    assert "hello there" in subtitle_text(out) and "second line" in subtitle_text(out)
    assert not list(tmp_path.glob(".*")), "no work folder or temp file is left behind"


def test_output_frames_are_the_model_outputs_in_source_order(model, tmp_path):
    # 4:4:4 in and out, lossless x264: only YUV<->RGB rounding stands between the two
    clip = make_clip(tmp_path / "ramps.mp4", frames=20, moving=True, pix_fmt="yuv444p")
    out = tmp_path / "ordered.mkv"
    upscale_video(clip, out, OnnxFrameFn(model), batch=3, crf=0, pix_fmt="yuv444p",
                  progress=False)
    expected = np.stack(OnnxFrameFn(model)(list(decode_frames(clip)))).astype(np.float32)
    made = decode_frames(out).astype(np.float32)
    assert made.shape == (20, 96, 128, 3)
    errors = np.array([[np.abs(m - e).mean() for e in expected] for m in made])
    assert (errors.argmin(axis=1) == np.arange(20)).all()  # each frame is its own source's
    assert errors.diagonal().max() < 1.0 and np.abs(made - expected).max() <= 3


def test_mkv_keeps_subrip_subtitles_and_tags_as_they_are(model, tmp_path):
    plain = make_clip(tmp_path / "plain.mkv", rate="24", frames=12, subtitles=True)
    clip = tmp_path / "film.mkv"
    ffmpeg("-i", str(plain), "-map", "0", "-c", "copy", "-metadata", "title=Our Holiday",
           str(clip))
    out = tmp_path / "out" / "film.mkv"
    upscale_video(clip, out, OnnxFrameFn(model), progress=False)
    assert "Our Holiday" in describe(out)
    made = probe(find_ffmpeg(), out)
    assert [s.codec for s in made.subtitles] == ["subrip"]
    assert stream_md5(out, "0:s:0") == stream_md5(clip, "0:s:0")
    assert np.array_equal(decoded_audio(out), decoded_audio(clip))


def test_ten_bit_source_stays_ten_bit_and_reaches_the_model_as_uint16(model, tmp_path):
    clip = make_clip(tmp_path / "deep.mkv", rate="25", frames=8, codec="libx265",
                     pix_fmt="yuv420p10le")
    frame_fn = OnnxFrameFn(model)
    out = tmp_path / "deep_x2.mkv"
    upscale_video(clip, out, frame_fn, batch=2, progress=False)
    assert {dtype for _, dtype in frame_fn.calls} == {np.dtype(np.uint16)}
    made = probe(find_ffmpeg(), out)
    assert (made.pix_fmt, made.bit_depth, made.frame_count) == ("yuv420p10le", 10, 8)
    assert "Video: h264" in describe(out)  # the default codec, in its 10-bit profile
    # the low bits carry information: not an 8-bit picture shifted up
    frames = decode_frames(out, "bgr48le")
    assert np.any(frames % 256 != frames[..., :1] % 256) and np.any((frames >> 6) % 4 != 0)


@pytest.mark.parametrize("codec, container, ffmpeg_name", [
    ("h265", ".mp4", "hevc"), ("vp9", ".webm", "vp9"), ("av1", ".mkv", "av1")])
def test_each_codec_writes_every_frame(codec, container, ffmpeg_name, model, tmp_path):
    webm = container == ".webm"
    clip = make_clip(tmp_path / f"src{container}", rate="30000/1001", frames=10,
                     codec="libvpx-vp9" if webm else "libx264",
                     audio_codec="libopus" if webm else "aac")
    out = tmp_path / f"out{container}"
    upscale_video(clip, out, OnnxFrameFn(model), codec=codec, preset="ultrafast",
                  progress=False)
    made = probe(find_ffmpeg(), out)
    assert f"Video: {ffmpeg_name}" in describe(out)
    assert (made.width, made.frame_count, made.fps) == (128, 10, Fraction(30000, 1001))
    assert stream_md5(out, "0:a:0") == stream_md5(clip, "0:a:0")


def test_segments_change_nothing_in_frame_count_or_timing(ntsc_clip, model, tmp_path):
    whole = upscale_video(ntsc_clip, tmp_path / "whole.mp4", OnnxFrameFn(model),
                          progress=False).output
    pieces = upscale_video(ntsc_clip, tmp_path / "pieces.mp4", OnnxFrameFn(model), batch=3,
                           segment_frames=6, progress=False).output
    assert packet_times(pieces) == packet_times(whole)
    assert probe(find_ffmpeg(), pieces).duration == probe(find_ffmpeg(), whole).duration


def test_frames_dir_writes_numbered_pngs(ntsc_clip, model, tmp_path):
    import cv2

    folder = tmp_path / "frames"
    result = upscale_video(ntsc_clip, None, OnnxFrameFn(model), frames_dir=folder,
                           progress=False)
    names = sorted(p.name for p in folder.iterdir())
    assert result.frames == 20 and names[0] == "frame_000001.png" and len(names) == 20
    assert cv2.imread(str(folder / names[-1])).shape == (96, 128, 3)


def test_the_input_is_never_overwritten(ntsc_clip, model):
    from uprez.runtime.video.errors import VideoError

    before = ntsc_clip.read_bytes()
    with pytest.raises(VideoError, match="overwrite the input"):
        upscale_video(ntsc_clip, ntsc_clip, OnnxFrameFn(model), progress=False)
    assert ntsc_clip.read_bytes() == before


def test_odd_upscaled_sizes_are_cropped_to_even_for_420_with_a_warning(tmp_path, capsys):
    model3 = make_sr_model(tmp_path / "x3.onnx", scale=3)
    clip = make_clip(tmp_path / "odd.mkv", size="21x15", rate="24", frames=4, audio=False,
                     moving=True,
                     pix_fmt="yuv444p")
    cropped = upscale_video(clip, tmp_path / "420.mkv", OnnxFrameFn(model3), progress=False)
    assert "cropped to 62x44" in capsys.readouterr().err
    info = probe(find_ffmpeg(), cropped.output)
    assert (info.width, info.height, info.frame_count) == (62, 44, 4)
    whole = upscale_video(clip, tmp_path / "444.mkv", OnnxFrameFn(model3), pix_fmt="yuv444p",
                          progress=False)
    info = probe(find_ffmpeg(), whole.output)
    assert (info.width, info.height, info.pix_fmt) == (63, 45, "yuv444p")
