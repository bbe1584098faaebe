"""Runs that meet: two sr-run on one video output, and what a killed run (kill -9) left behind.
Real processes, real files, real ffmpeg."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.onnx_models import make_sr_model
from tests.runtime.helpers import noise
from tests.runtime.video_clips import decode_frames, make_clip
from uprez.runtime.base.imageio import read_image, write_image

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and flock are POSIX")

SR_RUN = [sys.executable, "-c", "from uprez.runtime.cli import main; main()"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2)


def started(script: str) -> subprocess.Popen:
    """A Python process running `script`, once it has printed its first line (it is ready);
    that line is its `ready` attribute."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    process.ready = process.stdout.readline().strip()
    assert process.ready, "the helper process died before it was ready"
    return process


def killed(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_a_video_output_another_live_run_holds_is_refused_naming_it_then_taken_over(
        tmp_path, model):
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    out = tmp_path / "out"
    holder = started(f"""
        from uprez.runtime.base.locks import output_lock
        import sys
        with output_lock({str(out / "clip.mp4")!r}):
            print("holding", flush=True)
            sys.stdin.read()
        """)
    try:
        command = [*SR_RUN, str(clip), "-o", str(out), "-m", str(model), "--device", "cpu"]
        refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert refused.returncode == 1, refused.stderr
        assert f"is being made by another sr-run (pid {holder.pid}) right now" in refused.stderr
        assert "Errno" not in refused.stderr and "Traceback" not in refused.stderr
        assert not (out / "clip.mp4").exists()
    finally:
        killed(holder)  # as kill -9 leaves it: the lock file stays, its OS lock is gone
    assert (out / ".clip.mp4.uprez-lock").exists()
    taken_over = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert taken_over.returncode == 0, taken_over.stderr
    assert decode_frames(out / "clip.mp4").shape == (12, 96, 128, 3)
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"]  # lock file gone too


def test_two_sr_runs_on_one_video_at_once_leave_one_whole_output_and_no_raw_errno(
        tmp_path, model):
    clip = make_clip(tmp_path / "clip.mp4", frames=60)
    out = tmp_path / "out"
    command = [*SR_RUN, str(clip), "-o", str(out), "-m", str(model), "--device", "cpu",
               "--batch", "1"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(run.pid, run.wait(timeout=300), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    assert sorted(code for _, code, _ in results) in ([0, 0], [0, 1]), results
    for pid, code, stderr in results:
        assert "Errno" not in stderr and "Traceback" not in stderr, stderr
        if code == 1:  # refused while the other one worked: it names that run
            other = next(p for p, _, _ in results if p != pid)
            assert f"another sr-run (pid {other})" in stderr
    assert decode_frames(out / "clip.mp4").shape == (60, 96, 128, 3)
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"]


def test_temp_files_of_a_killed_run_go_on_the_next_run_but_not_those_of_a_live_one(
        tmp_path, model, rng):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", noise(rng, (10, 12, 3)))
    out = tmp_path / "out"
    frames = out / "frames" / "clip"
    frames.mkdir(parents=True)
    writer = """
        from uprez.runtime.base.atomic import atomic_path
        import sys
        with atomic_path({target!r}) as tmp:
            tmp.write_bytes(b"half an image")
            print(tmp, flush=True)
            sys.stdin.read()
        """
    dead = [started(writer.format(target=str(out / "a.png"))),
            started(writer.format(target=str(frames / "frame_000003.png")))]
    live = started(writer.format(target=str(out / "b.png")))
    for process in dead:
        killed(process)
    left = sorted(p.name for p in (*out.iterdir(), *frames.iterdir()) if p.name.startswith("."))
    assert len(left) == 3 and all(name.endswith(".uprez-tmp") for name in left)
    try:
        clip = make_clip(tmp_path / "clip.mp4", frames=6)
        result = subprocess.run([*SR_RUN, str(photos / "a.png"), str(clip), "-o", str(out),
                                 "--frames-dir", str(out / "frames"), "-m", str(model),
                                 "--device", "cpu"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "removed 2 temp files left by an interrupted run" in result.stderr
        hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
        assert hidden == [os.path.basename(live.ready)]  # the live write is left alone
        assert hidden[0].startswith(f".b.png.{live.pid}-")
        assert not [p for p in frames.iterdir() if p.name.endswith(".uprez-tmp")]
        assert read_image(out / "a.png").shape == (20, 24, 3)
    finally:
        live.stdin.close()
        assert live.wait(timeout=30) == 0


def test_a_temp_file_without_a_pid_goes_only_when_a_day_old(tmp_path):
    from uprez.runtime.base.atomic import STALE_AFTER_S, remove_stale_temp_files

    old, fresh = tmp_path / ".a.png.0123abcd.uprez-tmp", tmp_path / ".b.png.89abcdef.uprez-tmp"
    for path in (old, fresh, tmp_path / "a.png"):
        path.write_bytes(b"x")
    day_ago = time.time() - STALE_AFTER_S - 60
    os.utime(old, (day_ago, day_ago))
    assert remove_stale_temp_files(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, "a.png"]
