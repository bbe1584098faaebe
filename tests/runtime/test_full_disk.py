"""A full disk: every failed output is named with the reason, nothing half-written is left, the
run goes on with the rest and exits 1. Uses a real 1 MiB tmpfs, so it needs mount rights."""

import pytest
from click.testing import CliRunner

from tests.runtime.helpers import noise
from tests.runtime.video_clips import make_clip
from tests.small_disk import small_disk
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.cli import main


@pytest.fixture
def full_disk(tmp_path):
    with small_disk(tmp_path) as disk:
        yield disk


def sr_run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_images_that_do_not_fit_fail_by_name_and_the_ones_written_are_whole(
        tmp_path, full_disk, models, rng):
    photos = tmp_path / "photos"
    for i in range(5):  # ~0.5 MB of PNG each once upscaled: two fit in 1 MiB at most
        write_image(photos / f"{i}.png", noise(rng, (200, 200, 3)))
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    out = full_disk / "out"
    result = sr_run(photos, "-o", out, "-m", models["x2"], "--device", "cpu", "--format", "png")
    assert result.exit_code == 1, result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith("error: failed: ")]
    assert 3 <= len(failed) <= 5
    assert all("No space left on device" in line and str(photos) in line for line in failed)
    written = sorted(out.iterdir())
    assert not [p for p in written if p.name.startswith(".")]  # no temp file left
    assert len(written) + len(failed) == 5
    assert all(read_image(p).shape == (400, 400, 3) for p in written)
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


@pytest.mark.parametrize("target", ["video", "frames"])
def test_a_video_that_does_not_fit_fails_clearly_and_leaves_nothing(
        tmp_path, full_disk, models, target):
    clip = make_clip(tmp_path / "clip.mp4", size="160x120", frames=40)
    where = ["-o", full_disk / "out", "--crf", "0"] if target == "video" else \
        ["--frames-dir", full_disk / "frames"]
    result = sr_run(clip, *where, "-m", models["x2"], "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert f"error: failed: {clip}" in result.stderr
    left = [p for p in full_disk.rglob("*") if p.is_file() and p.name != ".uprez-frames.json"]
    assert left == []
