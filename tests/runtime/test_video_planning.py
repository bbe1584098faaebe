"""Where videos found among images go: their own container, or a folder of PNG frames."""

from pathlib import Path

import pytest

from uprez.runtime.discover import (
    FRAMES,
    IMAGE,
    MEDIA_SUFFIXES,
    VIDEO,
    PlanError,
    find_inputs,
    plan_jobs,
)


@pytest.fixture
def tree(tmp_path):
    for name in ["a.png", "clip.MP4", "sub/talk.mkv", "sub/b.jpg", "notes.txt"]:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path / "in"


def plan(tree, **kwargs):
    found = find_inputs([str(tree)], recursive=True, suffixes=MEDIA_SUFFIXES)
    return sorted((str(j.source.relative_to(tree)), str(j.target), j.kind)
                  for j in plan_jobs(found, Path("out"), **kwargs))


def test_videos_keep_their_container_whatever_the_image_format(tree):
    assert plan(tree, fmt="webp", suffix="_x2") == [
        ("a.png", "out/a_x2.webp", IMAGE),
        ("clip.MP4", "out/clip_x2.MP4", VIDEO),
        ("sub/b.jpg", "out/sub/b_x2.webp", IMAGE),
        ("sub/talk.mkv", "out/sub/talk_x2.mkv", VIDEO),
    ]


def test_frames_dir_turns_videos_into_mirrored_frame_folders(tree):
    assert plan(tree, frames_dir=Path("frames")) == [
        ("a.png", "out/a.png", IMAGE),
        ("clip.MP4", "frames/clip", FRAMES),
        ("sub/b.jpg", "out/sub/b.jpg", IMAGE),
        ("sub/talk.mkv", "frames/sub/talk", FRAMES),
    ]


def test_two_videos_with_one_frames_folder_are_refused(tmp_path):
    for name in ["x.mp4", "x.mkv"]:
        (tmp_path / name).write_bytes(b"x")
    found = find_inputs([str(tmp_path)], suffixes=MEDIA_SUFFIXES)
    with pytest.raises(PlanError, match="would both be written.*rename one"):
        plan_jobs(found, tmp_path / "out", frames_dir=tmp_path / "frames")


@pytest.mark.parametrize("source, output, ok", [
    ("clip.MP4", "big.mkv", True), ("a.png", "big.webp", True),
    ("clip.MP4", "big.png", False), ("a.png", "big.mp4", False),
])
def test_one_file_goes_only_to_a_file_name_of_its_own_kind(tree, source, output, ok):
    found = find_inputs([str(tree / source)])
    if ok:
        assert [j.target for j in plan_jobs(found, Path(output), output_is_file=True)] == \
            [Path(output)]
    else:
        with pytest.raises(PlanError, match="does not fit"):
            plan_jobs(found, Path(output), output_is_file=True)


def test_frame_folders_inside_the_inputs_are_not_searched(tree):
    (tree / "frames" / "clip").mkdir(parents=True)
    (tree / "frames" / "clip" / "frame_000001.png").write_bytes(b"x")
    found = find_inputs([str(tree)], recursive=True, suffixes=MEDIA_SUFFIXES,
                        exclude=(Path("elsewhere"), tree / "frames"))
    assert not any("frames" in str(f.relative) for f in found)
