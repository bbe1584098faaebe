"""Ctrl-C is never lost, even when Python swallows the KeyboardInterrupt it raised."""

import signal
import sys

import pytest

from tests.runtime.helpers import noise
from tests.runtime.video_clips import OnnxFrameFn, make_clip
from uprez.runtime import pipeline
from uprez.runtime.base import interrupts
from uprez.runtime.base.imageio import write_image
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import find_inputs, plan_jobs
from uprez.runtime.upscaler import Upscaler
from uprez.runtime.video.pipeline import upscale_video


class _InterruptedWhileCollected:
    def __del__(self):
        # the handler runs inside this finaliser, where Python prints and drops its exception
        signal.raise_signal(signal.SIGINT)


def _swallow_a_ctrl_c() -> None:
    _InterruptedWhileCollected()


def test_a_ctrl_c_swallowed_by_a_finaliser_is_raised_again_at_the_next_check(monkeypatch):
    before = signal.getsignal(signal.SIGINT)
    printed = []  # what Python would print as "Exception ignored in ... KeyboardInterrupt"
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    with interrupts.recorded():
        _swallow_a_ctrl_c()  # no exception reaches us here
        assert interrupts.requested()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert signal.getsignal(signal.SIGINT) is before
    assert printed == []  # no crash look-alike on the terminal; check() tells the story
    _swallow_a_ctrl_c()  # outside a run, other unraisable exceptions reach the old hook again
    assert [type(u.exc_value) for u in printed] == [KeyboardInterrupt]


def test_a_ctrl_c_is_forgotten_when_its_run_ends():
    with interrupts.recorded():
        _swallow_a_ctrl_c()
    interrupts.check()  # library calls after the CLI's run are not interrupted by it
    with interrupts.recorded():
        interrupts.check()


def test_a_swallowed_ctrl_c_stops_a_folder_run_before_the_next_image(tmp_path, models, rng):
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", noise(rng, (8, 8, 3)))
    jobs = plan_jobs(find_inputs([str(tmp_path / "in")]), tmp_path / "out")
    upscaler = Upscaler(models["x2"], device="cpu")
    with interrupts.recorded(), pytest.raises(KeyboardInterrupt):
        _swallow_a_ctrl_c()
        pipeline.run_jobs(jobs, upscaler, pipeline.RunOptions(), BatchReport())
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_swallowed_ctrl_c_stops_a_video_and_leaves_no_output(tmp_path, models):
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    upscale = OnnxFrameFn(models["x2"])
    batches = []

    def swallowing_after_the_first_batch(frames):
        batches.append(len(frames))
        if len(batches) == 2:
            _swallow_a_ctrl_c()
        return upscale(frames)

    out = tmp_path / "out"
    out.mkdir()
    with interrupts.recorded(), pytest.raises(KeyboardInterrupt):
        upscale_video(clip, out / "clip.mp4", swallowing_after_the_first_batch, batch=2,
                      progress=False)
    assert len(batches) == 2  # it stopped at the next batch, not at the end of the video
    assert list(out.iterdir()) == []


def test_an_ignored_ctrl_c_stays_ignored(monkeypatch):
    monkeypatch.setattr(signal, "getsignal", lambda signum: signal.SIG_IGN)
    installed = []
    monkeypatch.setattr(signal, "signal", lambda *args: installed.append(args))
    with interrupts.recorded():  # a background job of a script: leave its SIGINT alone
        pass
    assert installed == []
