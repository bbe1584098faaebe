"""Finding inputs and planning outputs that mirror the input tree."""

from pathlib import Path

import pytest

from uprez.runtime.discover import MEDIA_SUFFIXES, PlanError, find_inputs, plan_jobs


@pytest.fixture
def tree(tmp_path):
    for name in ["a.png", "b.JPG", "notes.txt", ".hidden.png", "sub/c.webp", "sub/deep/d.tif",
                 ".git/e.png"]:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def names(found):
    return sorted(str(f.relative) for f in found)


def test_a_folder_gives_its_images_and_recursive_goes_below(tree):
    assert names(find_inputs([str(tree / "in")])) == ["a.png", "b.JPG"]
    assert names(find_inputs([str(tree / "in")], recursive=True)) == [
        "a.png", "b.JPG", "sub/c.webp", "sub/deep/d.tif"]


def test_a_glob_keeps_paths_relative_to_its_fixed_part(tree):
    found = find_inputs([str(tree / "in" / "**" / "*.*")], recursive=True)
    assert names(found) == ["a.png", "b.JPG", "sub/c.webp", "sub/deep/d.tif"]
    assert names(find_inputs([str(tree / "in" / "*.png")])) == ["a.png"]


def test_a_named_file_is_taken_whatever_its_suffix(tree):
    assert names(find_inputs([str(tree / "in" / "notes.txt")])) == ["notes.txt"]


def test_missing_inputs_are_a_usage_error(tree):
    with pytest.raises(PlanError, match="input not found"):
        find_inputs([str(tree / "nope")])


def test_the_output_folder_inside_the_input_folder_is_not_searched(tree):
    out = tree / "in" / "sub"
    assert "sub/c.webp" not in names(find_inputs([str(tree / "in")], recursive=True, exclude=out))


def test_outputs_mirror_the_tree_with_format_and_suffix(tree):
    found = find_inputs([str(tree / "in")], recursive=True)
    jobs = plan_jobs(found, Path("out"), fmt="auto", suffix="")
    assert sorted(str(j.target) for j in jobs) == [
        "out/a.png", "out/b.JPG", "out/sub/c.webp", "out/sub/deep/d.tif"]
    jobs = plan_jobs(found, Path("out"), fmt="jpg", suffix="_x4")
    assert sorted(str(j.target) for j in jobs) == [
        "out/a_x4.jpg", "out/b_x4.jpg", "out/sub/c_x4.jpg", "out/sub/deep/d_x4.jpg"]


def test_an_output_that_would_overwrite_an_input_is_refused(tree):
    found = find_inputs([str(tree / "in")])
    with pytest.raises(PlanError, match="inputs are never overwritten"):
        plan_jobs(found, tree / "in")


def test_two_inputs_writing_the_same_output_are_refused(tmp_path):
    (tmp_path / "x.png").write_bytes(b"x")
    (tmp_path / "x.jpg").write_bytes(b"x")
    found = find_inputs([str(tmp_path)])
    with pytest.raises(PlanError, match="would both be written"):
        plan_jobs(found, tmp_path / "out", fmt="webp")


def test_results_of_an_earlier_run_beside_the_inputs_are_not_inputs_again(tmp_path):
    (tmp_path / "x.png").write_bytes(b"x")
    (tmp_path / "x_up.png").write_bytes(b"x")  # written by an earlier run with --suffix _up
    jobs = plan_jobs(find_inputs([str(tmp_path)]), tmp_path, suffix="_up")
    assert [(j.source.name, j.target.name) for j in jobs] == [("x.png", "x_up.png")]


def test_one_file_can_go_to_a_file_name(tree):
    found = find_inputs([str(tree / "in" / "a.png")])
    jobs = plan_jobs(found, Path("big.webp"), output_is_file=True)
    assert [str(j.target) for j in jobs] == ["big.webp"]


def test_typescript_files_are_not_taken_for_transport_streams(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.ts").write_text("export const answer: number = 42;\n")
    (tmp_path / "rec.ts").write_bytes((b"\x47" + bytes(187)) * 3)  # 188-byte TS packets
    (tmp_path / "cam.m2ts").write_bytes((bytes(4) + b"\x47" + bytes(187)) * 3)
    (tmp_path / "empty.mts").write_bytes(b"")
    found = {f.relative.as_posix() for f in find_inputs([str(tmp_path)], recursive=True,
                                                        suffixes=MEDIA_SUFFIXES)}
    assert found == {"rec.ts", "cam.m2ts"}
    globbed = find_inputs([str(tmp_path / "**" / "*.ts")], recursive=True,
                          suffixes=MEDIA_SUFFIXES)
    assert [f.relative.as_posix() for f in globbed] == ["rec.ts"]
    # named explicitly, a file is taken whatever it holds (reading it says what is wrong)
    assert len(find_inputs([str(tmp_path / "src" / "index.ts")])) == 1


def test_animations_are_planned_by_suffix_or_content_and_keep_or_convert_their_format(tmp_path):
    from tests.runtime.photo_files import animated_file, gif_file, sprite_frames
    from uprez.runtime.base.imageio import write_image
    from uprez.runtime.discover import ANIMATION, IMAGE

    folder = tmp_path / "in"
    folder.mkdir()
    frames = sprite_frames(2)
    (folder / "a.gif").write_bytes(gif_file(frames, [100, 100], loop=0))
    (folder / "b.png").write_bytes(animated_file(frames, "PNG", [100, 100], loop=0))
    (folder / "c.webp").write_bytes(animated_file(frames, "WEBP", [100, 100], loop=0))
    (folder / "odd.bin").write_bytes(gif_file(frames, [100, 100], loop=0))
    write_image(folder / "still.png", frames[0])
    write_image(folder / "flat.webp", frames[0][:, :, :3])
    found = find_inputs([str(folder), str(folder / "odd.bin")], suffixes=MEDIA_SUFFIXES)
    for fmt, expected in [
        ("auto", {"a.gif": "a.gif", "b.png": "b.png", "c.webp": "c.webp", "odd.bin": "odd.gif"}),
        ("webp", {"a.gif": "a.webp", "b.png": "b.webp", "c.webp": "c.webp", "odd.bin": "odd.webp"}),
        ("jpg", {"a.gif": "a.gif", "b.png": "b.png", "c.webp": "c.webp", "odd.bin": "odd.gif"}),
    ]:
        jobs = {job.source.name: job for job in plan_jobs(found, tmp_path / "out", fmt=fmt)}
        assert {name: job.target.name for name, job in jobs.items()
                if job.kind == ANIMATION} == expected, fmt
        assert jobs["still.png"].kind == jobs["flat.webp"].kind == IMAGE
    with pytest.raises(PlanError, match="animation"):
        plan_jobs(found[:1], tmp_path / "x.jpg", output_is_file=True)
    with pytest.raises(PlanError, match="image file name"):
        still = [f for f in found if f.source.name == "still.png"]
        plan_jobs(still, tmp_path / "x.gif", output_is_file=True)


@pytest.fixture
def linked_tree(tree, tmp_path):
    """`in/` with two symlink cycles (one to the root, one to itself) and a link to a folder
    outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.png").write_bytes(b"x")
    (tree / "in" / "sub" / "up").symlink_to(tree / "in", target_is_directory=True)
    (tree / "in" / "sub" / "deep" / "self").symlink_to(tree / "in" / "sub" / "deep",
                                                      target_is_directory=True)
    (tree / "in" / "elsewhere").symlink_to(outside, target_is_directory=True)
    return tree


def test_a_recursive_glob_over_symlink_cycles_finishes_and_finds_each_file_once(linked_tree):
    # glob's own `**` walks every cycle (2 cycles: about 2**40 paths before the kernel's link
    # limit stops it), so the scan runs in a process of its own that may not hang the suite
    import subprocess
    import sys

    pattern = str(linked_tree / "in" / "**" / "*.*")
    code = ("from uprez.runtime.discover import find_inputs\n"
            f"print(sorted(str(f.relative) for f in find_inputs([{pattern!r}], "
            "recursive=True)))")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the ** glob was still walking symlink cycles after 60 s")
    assert done.stdout.strip() == str(["a.png", "b.JPG", "sub/c.webp", "sub/deep/d.tif"])


def test_a_recursive_glob_follows_the_folder_scan_rules(linked_tree):
    by_glob = find_inputs([str(linked_tree / "in" / "**" / "*.*")], recursive=True)
    by_scan = find_inputs([str(linked_tree / "in")], recursive=True)
    assert names(by_glob) == names(by_scan) == ["a.png", "b.JPG", "sub/c.webp", "sub/deep/d.tif"]
    # ** matches no folder too, and a fixed part after it still has to match
    assert names(find_inputs([str(linked_tree / "in" / "**" / "deep" / "*.tif")],
                             recursive=True)) == ["sub/deep/d.tif"]
    assert names(find_inputs([str(linked_tree / "in" / "**" / "a.png")],
                             recursive=True)) == ["a.png"]
