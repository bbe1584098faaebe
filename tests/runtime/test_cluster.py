"""`sr-run --cluster` on a real two-node Ray cluster on 127.0.0.1 (tests/runtime/ray_cluster.py),
started once for the session: the outputs are those of plain sr-run, and a node killed mid-run
costs nothing but time. Skipped, with the reason, where Ray is not installed (the runtime-only
install); the refusal without Ray is tested everywhere."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.onnx_models import make_sr_model
from tests.runtime.helpers import noise
from tests.runtime.video_clips import make_clip, packet_times, stream_md5
from uprez.runtime.animation_jobs import AnimationOptions
from uprez.runtime.base.imageio import write_image
from uprez.runtime.cli import main
from uprez.runtime.metadata import ModelInfo
from uprez.runtime.pipeline import RunOptions
from uprez.runtime.planning import ModelSettings, plan_run
from uprez.runtime.video_jobs import VideoOptions

SEGMENT = 10  # frames per range in the video tests


def sr_run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def hidden(folder: Path) -> list[str]:
    """Temp files and work folders, which no finished or failed run may leave."""
    return sorted(p.name for p in folder.rglob(".*") if p.name != ".uprez-frames.json")


@pytest.fixture(scope="session")
def cluster():
    pytest.importorskip("ray", reason="Ray is not installed (pip install \"uprez[cluster]\")")
    from tests.runtime.ray_cluster import RayCluster

    started = RayCluster()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_sr_model(tmp_path_factory.mktemp("model") / "x2.onnx", scale=2,
                         metadata=ModelInfo(scale=2, receptive_field=2,
                                            name="cluster-test").to_props())


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=36, moving=True,
                     pix_fmt="yuv444p", subtitles=True)


def run_on_cluster(cluster, inputs, *, output=None, frames_dir=None, model, overwrite=False):
    """sr-run's own planning, carried out on the cluster with short video ranges."""
    from uprez.runtime.cluster.running import run_plan_on_cluster

    plan = plan_run(
        [str(i) for i in inputs], output=output or Path("unused"), frames_dir=frames_dir,
        model=ModelSettings(path=model, device="cpu"),
        image_options=RunOptions(overwrite=overwrite),
        animation_options=AnimationOptions(overwrite=overwrite),
        video_options=VideoOptions(segment_frames=SEGMENT, overwrite=overwrite))
    return run_plan_on_cluster(plan, cluster.address)


def test_without_ray_cluster_is_a_usage_error_with_the_install_command(tmp_path, monkeypatch, rng,
                                                                        model):
    write_image(tmp_path / "a.png", noise(rng, (8, 8, 3)))
    monkeypatch.setitem(sys.modules, "ray", None)  # as in an install without the extra
    result = sr_run(tmp_path / "a.png", "-o", tmp_path / "out", "-m", model, "--cluster",
                    "local")
    assert result.exit_code == 2, result.output
    assert "--cluster needs Ray" in result.stderr
    assert "pip install" in result.stderr and "[cluster]" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_images_come_out_byte_identical_to_plain_sr_run_and_a_bad_one_fails_alone(
        cluster, tmp_path, model, rng):
    folder = tmp_path / "in"
    for index in range(5):
        write_image(folder / f"photo{index}.png", noise(rng, (24 + index, 30, 3)))
    write_image(folder / "photo.jpg", noise(rng, (20, 16, 3)))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    plain, spread = tmp_path / "plain", tmp_path / "spread"
    assert sr_run(folder, "-o", plain, "-m", model, "--device", "cpu").exit_code == 1
    result = sr_run(folder, "-o", spread, "-m", model, "--device", "cpu", "--cluster",
                    cluster.address)
    assert result.exit_code == 1, result.output
    assert any(str(folder / "broken.png") in line for line in result.stderr.splitlines())
    summary = result.stdout.strip().splitlines()[-1]
    assert "6 images:" in summary and "6 done" in summary and "1 failed" in summary
    names = sorted(p.name for p in plain.iterdir())
    assert names == sorted(p.name for p in spread.iterdir()) and len(names) == 6
    for name in names:
        assert (spread / name).read_bytes() == (plain / name).read_bytes(), name
    again = sr_run(folder, "-o", spread, "-m", model, "--device", "cpu", "--cluster",
                   cluster.address)
    assert again.exit_code == 1 and "6 skipped" in again.stdout
    assert hidden(spread) == []


@pytest.mark.slow
def test_a_video_has_the_frame_count_timestamps_and_streams_of_plain_sr_run(
        cluster, tmp_path, model, clip):
    from uprez.runtime.running import run_plan

    plain = tmp_path / "plain"
    run_plan(plan_run([str(clip)], output=plain, model=ModelSettings(path=model, device="cpu"),
                      image_options=RunOptions(), animation_options=AnimationOptions(),
                      video_options=VideoOptions(segment_frames=SEGMENT)))
    spread = tmp_path / "spread"
    assert run_on_cluster(cluster, [clip], output=spread, model=model) == 0
    made, want = spread / "clip.mp4", plain / "clip.mp4"
    assert packet_times(made) == packet_times(want)
    assert len(packet_times(made)[1]) == 36
    for stream in ("0:v:0", "0:a:0", "0:s:0"):
        assert stream_md5(made, stream) == stream_md5(want, stream), stream
    assert hidden(spread) == []


@pytest.mark.slow
def test_frames_dir_pngs_are_byte_identical_to_plain_sr_run_and_a_bad_video_fails_alone(
        cluster, tmp_path, model, clip):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(clip, folder / "clip.mp4")
    whole = make_clip(tmp_path / "whole.mkv", frames=30)
    (folder / "broken.mkv").write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    plain, spread = tmp_path / "plain", tmp_path / "spread"
    assert sr_run(folder, "--frames-dir", plain, "-m", model, "--device", "cpu").exit_code == 1
    result = sr_run(folder, "--frames-dir", spread, "-m", model, "--device", "cpu",
                    "--cluster", cluster.address)
    assert result.exit_code == 1, result.output
    assert any(str(folder / "broken.mkv") in line and "damaged or truncated" in line
               for line in result.stderr.splitlines()), result.stderr
    names = sorted(p.name for p in (plain / "clip").glob("*.png"))
    assert len(names) == 36
    assert sorted(p.name for p in (spread / "clip").glob("*.png")) == names
    for name in names:
        assert (spread / "clip" / name).read_bytes() == (plain / "clip" / name).read_bytes()
    assert list((spread / "broken").glob("*.png")) == []
    assert hidden(spread) == []


@pytest.mark.slow
def test_a_node_killed_mid_run_has_its_ranges_redone_and_no_frame_lost_or_doubled(
        cluster, tmp_path, model):
    long_clip = make_clip(tmp_path / "long.mp4", size="48x32", frames=240, moving=True,
                          pix_fmt="yuv444p")
    plain = tmp_path / "plain"
    assert sr_run(long_clip, "--frames-dir", plain, "-m", model, "--device",
                  "cpu").exit_code == 0
    frames = tmp_path / "spread"
    killed = threading.Event()

    def kill_when_both_nodes_work() -> None:  # once some ranges' frames are written
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if len(list((frames / "long").glob("frame_*.png"))) >= 20:
                cluster.kill_worker_node()
                killed.set()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_both_nodes_work, daemon=True)
    killer.start()
    code = run_on_cluster(cluster, [long_clip], frames_dir=frames, model=model)
    killer.join(timeout=60)
    try:
        assert killed.is_set(), "the run ended before the node could be killed"
        assert code == 0
        names = sorted(p.name for p in (plain / "long").glob("*.png"))
        assert len(names) == 240
        assert sorted(p.name for p in (frames / "long").glob("*.png")) == names
        for name in names:
            assert (frames / "long" / name).read_bytes() == (plain / "long" / name).read_bytes()
        assert hidden(frames) == []
    finally:
        if killed.is_set():
            cluster.start_worker_node()  # for the tests after this one
