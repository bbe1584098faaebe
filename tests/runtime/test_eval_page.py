"""`sr-eval --html DIR` without a browser: what the page holds, which crops it shows, and how
the folder is written (atomically, replaced whole, kept on failure). The page in a browser:
test_eval_page_browser.py."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from uprez.runtime.evaluation.cli import main
from uprez.runtime.evaluation.page import CROP, MAX_CROPS
from uprez.runtime.evaluation.page.regions import (
    Differences,
    choose_regions,
    pair_priority,
    pair_stats,
)
from uprez.runtime.evaluation.page.writer import pictured

pytest.importorskip("onnx")


def page_data(index: Path) -> dict:
    text = index.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="uprez-data">(.*?)</script>', text,
                      re.S)
    return json.loads(found.group(1))


def write_images(folder: Path, count: int, size: tuple[int, int] = (24, 32),
                 dtype=np.uint8) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    top = np.iinfo(dtype).max
    for i in range(count):
        assert cv2.imwrite(str(folder / f"{i:02d}.png"),
                           rng.integers(0, top + 1, (*size, 3), dtype=dtype))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from tests.onnx_models import make_sr_model
    from uprez.runtime.metadata import SCALE

    return make_sr_model(tmp_path_factory.mktemp("model") / "m.onnx", scale=2,
                         metadata={SCALE: "2"})


def sr_eval(data: Path, model: Path, *args: str):
    return CliRunner().invoke(main, ["--data", str(data), "--scale", "2", "-m", str(model),
                                     "--device", "cpu", "-q", *args])


# --- where to look ---------------------------------------------------------------------------


def differing(image: np.ndarray, scale: int) -> Differences:
    """The differences of `image` from black: the image itself (colour: averaged)."""
    return Differences(np.zeros_like(image), image, scale)


def test_large_images_get_crops_at_each_pairs_hot_spot_on_the_scale_grid():
    height, width, scale = 300, 1000, 4
    hot_a = np.zeros((height, width, 3), np.uint8)
    hot_a[100:132, 700:732] = (20, 50, 80)  # 50 on average over the channels
    hot_b = np.zeros((height, width), np.uint8)
    hot_b[200:232, 40:72] = 30
    served = np.zeros((height, width), np.uint8)
    served[110:130, 705:725] = 90  # inside the first crop: no crop of its own
    maps = [differing(image, scale) for image in (hot_a, served, hot_b)]
    regions = choose_regions(height, width, scale, iter(maps))
    size = CROP - CROP % scale
    assert len(regions) == 2  # the maps' hot spots; the rest of the image never differs
    first, second = regions
    assert first.x <= 700 and 732 <= first.x + size and first.y <= 100 and 132 <= first.y + size
    assert second.x <= 40 and 72 <= second.x + size and second.y + size == height
    for region in regions:
        assert region.x % scale == 0 and region.y % scale == 0
        assert (region.width, region.height) == (size, size)
        assert region.x + region.width <= width and region.y + region.height <= height

    stats = pair_stats(maps[0], regions, scale)
    assert stats.means[0] == pytest.approx(50 * 32 * 32 / size**2, abs=1e-3)
    assert stats.means[1] == 0
    assert stats.focus[0] == (716, 116)  # the centre of the hot block


def test_crops_left_over_go_where_the_first_pair_differs_apart_from_each_other():
    rng = np.random.default_rng(0)
    everywhere = rng.integers(1, 10, (400, 2000), dtype=np.uint8)
    regions = choose_regions(400, 2000, 2, iter([differing(everywhere, 2)]))
    assert len(regions) == MAX_CROPS
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            overlap_x = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
            overlap_y = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
            assert overlap_x * overlap_y <= a.width * a.height / 4


def test_small_images_are_shown_whole():
    regions = choose_regions(640, 480, 4, iter([]))
    assert [r.as_list() for r in regions] == [[0, 0, 480, 640]]


def test_pairs_start_with_bicubic_against_the_models():
    # views: 0 LR, 1 bicubic, 2 and 3 models, 4 HR
    assert pair_priority(2)[:4] == [(1, 2), (1, 3), (2, 4), (3, 4)]
    assert len(pair_priority(2)) == len(set(pair_priority(2))) == 10


def test_pictures_are_spread_evenly_over_many_images():
    names = [f"frame_{i:06d}.png" for i in range(1, 11)]
    assert pictured(names, 4) == {names[0], names[3], names[6], names[9]}
    assert pictured(names, 20) == set(names)


# --- the folder ------------------------------------------------------------------------------


def test_the_page_is_one_self_contained_file_beside_its_pictures(tmp_path, model):
    data = write_images(tmp_path / "hr", 2)
    result = sr_eval(data, model, "--html", str(tmp_path / "page"), "--degrade", "none",
                     "--degrade", "jpeg=50")
    assert result.exit_code == 0, result.output
    index = tmp_path / "page" / "index.html"
    text = index.read_text(encoding="utf-8")
    assert '<meta name="generator" content="uprez sr-eval">' in text
    for remote in ("http://", "https://", "<link", "@import", "url(", "fetch(", "//cdn"):
        assert remote not in text  # nothing from a network, nothing from another file
    data_ = page_data(index)
    files = [f for im in data_["images"] for region in im["pictures"]["regions"]
             for src in region["src"].values() for f in ([src] if isinstance(src, str) else src)]
    assert len(files) == 2 * (1 + 2 * 3)  # HR, and LR, bicubic, model per condition
    for name in files:
        assert not Path(name).is_absolute() and (tmp_path / "page" / name).is_file()
    written = [p for p in (tmp_path / "page").rglob("*") if p.is_file()]
    assert {p.suffix for p in written} == {".html", ".png", ""}  # "": the folder's marker
    assert not [p for p in written if p.name.endswith(".uprez-tmp")]
    assert data_["conditions"] == ["none", "jpeg=50"]
    assert [v["id"] for v in data_["views"]] == ["lr", "bicubic", "m0", "hr"]


def test_a_second_run_replaces_the_page_and_its_files_cleanly(tmp_path, model):
    data = write_images(tmp_path / "hr", 3)
    out = tmp_path / "page"
    assert sr_eval(data, model, "--html", str(out)).exit_code == 0
    first_files = [p.name for p in out.glob("page-*")]
    (out / "notes.txt").write_text("mine")
    (data / "01.png").unlink()
    assert sr_eval(data, model, "--html", str(out)).exit_code == 0
    second_files = [p.name for p in out.glob("page-*")]
    assert len(first_files) == len(second_files) == 1 and first_files != second_files
    assert (out / "notes.txt").read_text() == "mine"  # not ours: left alone
    assert [im["name"] for im in page_data(out / "index.html")["images"]] == ["00.png", "02.png"]
    assert f'content="{second_files[0]}"' in (out / "index.html").read_text()


def test_the_page_refuses_an_index_it_did_not_write_and_the_input_folder(tmp_path, model):
    data = write_images(tmp_path / "hr", 1)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html>my site</html>")
    result = sr_eval(data, model, "--html", str(site))
    assert result.exit_code == 2 and "not written by sr-eval" in result.output
    assert (site / "index.html").read_text() == "<html>my site</html>"
    assert list(site.iterdir()) == [site / "index.html"]
    result = sr_eval(data, model, "--html", str(data))
    assert result.exit_code == 2 and "input folder" in result.output


def test_a_picture_cap_keeps_every_score(tmp_path, model):
    data = write_images(tmp_path / "hr", 5)
    result = sr_eval(data, model, "--html", str(tmp_path / "page"), "--html-images", "2")
    assert result.exit_code == 0, result.output
    images = page_data(tmp_path / "page" / "index.html")["images"]
    assert [im["name"] for im in images] == [f"{i:02d}.png" for i in range(5)]
    assert [im["name"] for im in images if im["pictures"]] == ["00.png", "04.png"]
    assert len(list((tmp_path / "page").glob("page-*/*/"))) == 2


def test_sixteen_bit_images_are_shown_in_eight_bits(tmp_path, model):
    data = write_images(tmp_path / "hr", 1, dtype=np.uint16)
    assert sr_eval(data, model, "--html", str(tmp_path / "page")).exit_code == 0
    region = page_data(tmp_path / "page" / "index.html")["images"][0]["pictures"]["regions"][0]
    shown = cv2.imread(str(tmp_path / "page" / region["src"]["hr"]), cv2.IMREAD_UNCHANGED)
    hr = cv2.imread(str(data / "00.png"), cv2.IMREAD_UNCHANGED)
    assert shown.dtype == np.uint8
    assert np.array_equal(shown, ((hr.astype(np.uint32) + 128) // 257).astype(np.uint8))


def test_ctrl_c_keeps_the_earlier_page_and_leaves_no_files(tmp_path, model):
    data = write_images(tmp_path / "hr", 2)
    out = tmp_path / "page"
    assert sr_eval(data, model, "--html", str(out)).exit_code == 0
    before = (out / "index.html").read_bytes()
    old_files = sorted(out.glob("page-*"))
    write_images(tmp_path / "hr", 60, size=(96, 128))
    command = [sys.executable, "-c", "from uprez.runtime.evaluation.cli import main; main()",
               "--data", str(data), "--scale", "2", "-m", str(model), "--device", "cpu",
               "--html", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            p not in old_files and any(p.glob("*/")) for p in out.glob("page-*")):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "keeps its earlier page" in stderr
    assert "Traceback" not in stderr
    assert (out / "index.html").read_bytes() == before
    assert sorted(out.glob("page-*")) == old_files


def test_a_full_disk_keeps_the_earlier_page_and_still_prints_the_scores(tmp_path, model):
    from tests.small_disk import small_disk

    data = write_images(tmp_path / "hr", 1)
    with small_disk(tmp_path, "1m") as disk:
        out = disk / "page"
        assert sr_eval(data, model, "--html", str(out)).exit_code == 0
        before = (out / "index.html").read_bytes()
        old_files = sorted(out.glob("page-*"))
        big = write_images(tmp_path / "big", 2, size=(400, 600))
        result = sr_eval(big, model, "--html", str(out), "--json")
        assert result.exit_code == 1, result.output
        assert "No space left on device" in result.stderr
        assert "left as it was" in result.stderr and "Traceback" not in result.output
        assert [im["name"] for im in json.loads(result.stdout)["images"]] == ["00.png",
                                                                              "01.png"]
        assert (out / "index.html").read_bytes() == before
        assert sorted(out.glob("page-*")) == old_files
        assert not [p for p in out.rglob("*") if p.name.endswith(".uprez-tmp")]


def test_video_frames_from_sr_run_make_a_page(tmp_path, model):
    from tests.runtime.video_clips import make_clip
    from uprez.runtime.cli import main as sr_run

    clip = make_clip(tmp_path / "clip.mp4", size="32x24", frames=4, audio=False)
    frames = tmp_path / "frames"
    done = CliRunner().invoke(sr_run, [str(clip), "--frames-dir", str(frames), "-m",
                                       str(model), "--device", "cpu", "-q"])
    assert done.exit_code == 0, done.output
    result = sr_eval(frames / "clip", model, "--html", str(tmp_path / "page"))
    assert result.exit_code == 0, result.output
    images = page_data(tmp_path / "page" / "index.html")["images"]
    assert [im["name"] for im in images] == [f"frame_{i:06d}.png" for i in range(1, 5)]
    assert all(im["pictures"] for im in images)

    result = sr_eval(frames, model, "--html", str(tmp_path / "page"))
    assert result.exit_code == 2
    assert "subfolders clip/ hold images" in result.output
    assert f"--data {frames / 'clip'}" in result.output


def test_file_names_cannot_break_out_of_the_pages_data(tmp_path, model):
    data = tmp_path / "hr"
    data.mkdir()
    name = "a<!--<script>alert(1)<b>.png"
    assert cv2.imwrite(str(data / "x.png"), np.zeros((16, 16, 3), np.uint8))
    (data / "x.png").rename(data / name)
    assert sr_eval(data, model, "--html", str(tmp_path / "page")).exit_code == 0
    text = (tmp_path / "page" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in text and "<!--<" not in text
    assert page_data(tmp_path / "page" / "index.html")["images"][0]["name"] == name
