"""A video upscaled in frame ranges, in any order, gives what the one-pass run gives: the range
machinery of `sr-run --cluster` (runtime/video/ranges.py) with the ranges run here, in this
process, by a real ONNX model (the Ray side is tests/runtime/test_cluster.py)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.onnx_models import make_sr_model
from tests.runtime.video_clips import (
    OnnxFrameFn,
    decode_frames,
    make_clip,
    packet_times,
    stream_md5,
)
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.job import VideoJob
from uprez.runtime.video.pipeline import run_video
from uprez.runtime.video.ranges import run_range, split
from uprez.runtime.video.segments import WorkFolder

SEGMENT = 4  # frames per range: a 10-frame clip makes ranges of 4, 4 and the last 2


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    # 4:4:4 with distinct frames, audio and subtitles
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=10, moving=True,
                     pix_fmt="yuv444p", subtitles=True)


class Ranges:
    """A RangeRunner that runs the ranges here, last first (so order cannot matter), and can
    stop after `stop_after` of them as a run that is cut short does."""

    def __init__(self, model: Path, stop_after: int | None = None):
        self.frame_fn, self.stop_after, self.ran = OnnxFrameFn(model), stop_after, []

    def __call__(self, tasks, done) -> None:
        for task in reversed(tasks):
            if self.stop_after is not None and len(self.ran) == self.stop_after:
                raise KeyboardInterrupt
            self.ran.append(task.frames.index)
            done(task, run_range(task, self.frame_fn, batch=3))


def job(source: Path, output: Path, **options) -> VideoJob:
    return VideoJob(source=source, output=output, segment_frames=SEGMENT, **options)


def test_a_video_splits_into_ranges_that_are_its_segments_the_last_open_ended():
    assert [(r.index, r.start, r.count) for r in split(10, 4)] == [
        (0, 0, 4), (1, 4, 4), (2, 8, None)]
    assert [(r.start, r.count) for r in split(3, 4)] == [(0, None)]


def test_png_frames_made_in_ranges_are_byte_identical_to_a_one_pass_run(clip, model, tmp_path):
    whole, ranged = tmp_path / "whole", tmp_path / "ranged"
    run_video(job(clip, whole, to_frames=True), OnnxFrameFn(model), batch=3, progress=False)
    runner = Ranges(model)
    result = run_video(job(clip, ranged, to_frames=True), None, batch=3, progress=False,
                       ranges=runner)
    assert runner.ran == [2, 1, 0] and result.frames == result.upscaled == 10
    names = sorted(p.name for p in whole.glob("*.png"))
    assert names == [f"frame_{i:06d}.png" for i in range(1, 11)]
    assert sorted(p.name for p in ranged.iterdir()) == names
    for name in names:
        assert (ranged / name).read_bytes() == (whole / name).read_bytes(), name


def test_a_video_made_in_ranges_has_the_frames_timing_and_streams_of_a_one_pass_run(
        clip, model, tmp_path):
    whole, ranged = tmp_path / "whole.mp4", tmp_path / "ranged.mp4"
    run_video(job(clip, whole), OnnxFrameFn(model), batch=3, progress=False)
    run_video(job(clip, ranged), None, batch=3, progress=False, ranges=Ranges(model))
    assert packet_times(ranged) == packet_times(whole)
    # same frames into the same segments: the encoded picture is the same, packet for packet
    for stream in ("0:v:0", "0:a:0", "0:s:0"):
        assert stream_md5(ranged, stream) == stream_md5(whole, stream), stream
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranged.mp4", "whole.mp4"]


def test_resume_keeps_the_ranges_that_finished_in_any_order(clip, model, tmp_path):
    out = tmp_path / "out.mp4"
    cut_short = Ranges(model, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_video(job(clip, out, resume=True), None, batch=3, progress=False, ranges=cut_short)
    assert cut_short.ran == [2, 1] and not out.exists()
    assert WorkFolder(out).finished_ranges() == {2: 2, 1: 4}
    rest = Ranges(model)
    result = run_video(job(clip, out, resume=True), None, batch=3, progress=False, ranges=rest)
    assert rest.ran == [0] and result.frames == 10 and result.upscaled == 4
    whole = tmp_path / "whole.mp4"
    run_video(job(clip, whole), OnnxFrameFn(model), batch=3, progress=False)
    assert stream_md5(out, "0:v:0") == stream_md5(whole, "0:v:0")
    assert not WorkFolder(out).root.exists()


def test_a_one_machine_resume_takes_up_the_leading_ranges(clip, model, tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        run_video(job(clip, out, resume=True), None, batch=3, progress=False,
                  ranges=Ranges(model, stop_after=3 - 1))  # ranges 2 and 1: 1 follows nothing
    frame_fn = OnnxFrameFn(model)
    result = run_video(job(clip, out, resume=True), frame_fn, batch=3, progress=False)
    assert result.frames == 10 and frame_fn.frames_seen == 10  # range 0 was missing
    assert packet_times(out)[1] == packet_times(clip)[1]


def test_png_ranges_on_resume_skip_the_frames_already_written(clip, model, tmp_path):
    frames = tmp_path / "frames"
    with pytest.raises(KeyboardInterrupt):
        run_video(job(clip, frames, to_frames=True, resume=True), None, batch=3, progress=False,
                  ranges=Ranges(model, stop_after=1))
    assert sorted(p.name for p in frames.glob("*.png")) == ["frame_000009.png",
                                                            "frame_000010.png"]
    rest = Ranges(model)
    result = run_video(job(clip, frames, to_frames=True, resume=True), None, batch=3,
                       progress=False, ranges=rest)
    assert result.frames == 10 and result.upscaled == 8
    expected = OnnxFrameFn(model)(list(decode_frames(clip)))
    for index, want in enumerate(expected, 1):
        np.testing.assert_array_equal(cv2.imread(str(frames / f"frame_{index:06d}.png")), want)


def test_a_damaged_video_fails_in_its_range_and_leaves_nothing(model, tmp_path):
    whole = make_clip(tmp_path / "whole.mkv", frames=30)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    out = tmp_path / "out" / "cut.mkv"
    out.parent.mkdir()
    with pytest.raises(VideoError, match="damaged or truncated"):
        run_video(job(cut, out), None, batch=3, progress=False, ranges=Ranges(model))
    assert list(out.parent.iterdir()) == []

