"""Colour planning: the matrix players assume for the source is used both ways and written out."""

from fractions import Fraction

import pytest

from uprez.runtime.video.color import plan_colors
from uprez.runtime.video.probe import VideoInfo


def info(height=480, colorspace=None, primaries=None, trc=None, color_range="tv") -> VideoInfo:
    return VideoInfo(width=height * 16 // 9, height=height, fps=Fraction(25), frame_count=10,
                     duration=0.4, pix_fmt="yuv420p", bit_depth=8, color_range=color_range,
                     colorspace=colorspace, color_primaries=primaries, color_trc=trc,
                     sample_aspect=None)


@pytest.mark.parametrize("height, matrix", [(480, "smpte170m"), (576, "smpte170m"),
                                            (720, "bt709"), (1080, "bt709")])
def test_untagged_video_gets_the_matrix_players_assume_for_its_size(height, matrix):
    plan = plan_colors(info(height=height))
    assert (plan.matrix, plan.colorspace, plan.primaries, plan.trc) == (
        matrix, matrix, matrix, "bt709")


def test_tags_of_the_source_are_kept_and_mapped_to_swscale_names():
    plan = plan_colors(info(height=2160, colorspace="bt2020nc", primaries="bt2020",
                            trc="smpte2084", color_range="pc"))
    assert (plan.matrix, plan.colorspace, plan.primaries, plan.trc, plan.color_range) == (
        "bt2020", "bt2020nc", "bt2020", "smpte2084", "pc")
    pal = plan_colors(info(height=576, colorspace="bt470bg"))
    assert (pal.matrix, pal.primaries, pal.trc) == ("bt470", "bt470bg", "bt709")
    old_hd = plan_colors(info(height=1035, colorspace="smpte240m"))
    assert (old_hd.matrix, old_hd.trc) == ("smpte240m", "smpte240m")


def test_an_unknown_colorspace_is_treated_as_untagged():
    assert plan_colors(info(height=480, colorspace="reserved")).matrix == "smpte170m"


def test_the_same_matrix_and_range_go_into_decode_encode_and_the_output_tags():
    plan = plan_colors(info(height=480))
    assert plan.decode_filter() == "in_color_matrix=smpte170m:in_range=tv"
    assert plan.encode_filter() == "out_color_matrix=smpte170m:out_range=tv"
    assert plan.setparams_filter() == ("setparams=range=tv:color_primaries=smpte170m:"
                                       "color_trc=bt709:colorspace=smpte170m")
    assert plan.tag_args() == ["-colorspace", "smpte170m", "-color_primaries", "smpte170m",
                               "-color_trc", "bt709", "-color_range", "tv"]
