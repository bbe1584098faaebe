"""Interlaced video (DVD, TV, camcorders) is deinterlaced before the model sees it: enlarged
fields would comb. Tested on a clip whose two fields show a bar pattern at different places."""

import numpy as np
import pytest
from click.testing import CliRunner

from tests.onnx_models import make_sr_model
from tests.runtime.video_clips import OnnxFrameFn, ffmpeg, make_clip
from uprez.runtime.cli import main
from uprez.runtime.video.ffmpeg import find_ffmpeg
from uprez.runtime.video.pipeline import upscale_video
from uprez.runtime.video.probe import parse_field_order, probe


@pytest.fixture(scope="module")
def interlaced_clip(tmp_path_factory):
    """Vertical bars moving 6 px per field, woven top field first: every frame combs."""
    path = tmp_path_factory.mktemp("interlaced") / "tv.mp4"
    bars = "geq=lum='if(lt(mod(X+6*N\\,32)\\,16)\\,235\\,16)'"
    ffmpeg("-f", "lavfi", "-i", f"nullsrc=size=64x48:rate=50,format=gray,{bars},format=yuv420p,"
           "tinterlace=interleave_top,setfield=tff", "-frames:v", "10", "-c:v", "libx264",
           "-flags", "+ilme+ildct", "-x264opts", "tff=1", "-y", str(path))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2)


def row_to_row_difference(frames):
    luma = np.stack(frames).astype(np.float32).mean(axis=-1)
    return float(np.abs(luma[:, 1:] - luma[:, :-1]).mean())


def test_the_field_order_is_read_from_ffmpegs_description(interlaced_clip, tmp_path):
    assert probe(find_ffmpeg(), interlaced_clip).field_order == "tff"
    assert probe(find_ffmpeg(), make_clip(tmp_path / "p.mp4", frames=3)).field_order is None
    assert parse_field_order(["tv", "bt709", "bottom first"]) == "bff"
    # "coded first (swapped)": the other field is shown first
    assert parse_field_order(["tv", "top coded first (swapped)"]) == "bff"
    assert parse_field_order(["bottom coded first (swapped)"]) == "tff"
    assert parse_field_order(["tv", "progressive"]) is None


@pytest.mark.parametrize("deinterlace", [True, False])
def test_the_model_sees_deinterlaced_frames_unless_told_otherwise(interlaced_clip, model,
                                                                   tmp_path, deinterlace):
    seen, upscale = [], OnnxFrameFn(model)

    def recording(frames):
        seen.extend(frames)
        return upscale(frames)

    result = upscale_video(interlaced_clip, tmp_path / "out.mp4", recording, batch=4,
                           progress=False, deinterlace=deinterlace)
    assert result.frames == len(seen) == 10  # one frame per frame: timing unchanged
    if deinterlace:
        assert row_to_row_difference(seen) < 2  # the bars are whole again
    else:
        assert row_to_row_difference(seen) > 50  # every other row from the other field


def test_sr_run_says_it_deinterlaces_and_no_deinterlace_turns_it_off(interlaced_clip, model,
                                                                      tmp_path):
    on = CliRunner().invoke(main, [str(interlaced_clip), "-o", str(tmp_path / "a"),
                                   "-m", str(model), "--device", "cpu"])
    assert on.exit_code == 0 and "interlaced (top field first); deinterlaced" in on.stderr
    off = CliRunner().invoke(main, [str(interlaced_clip), "-o", str(tmp_path / "b"),
                                    "-m", str(model), "--device", "cpu", "--no-deinterlace"])
    assert off.exit_code == 0 and "deinterlaced" not in off.stderr
