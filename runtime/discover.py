"""Which files to upscale and where each result goes (the output tree mirrors the input tree)."""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from uprez.runtime.base.atomic import is_temp_file
from uprez.runtime.base.imageio import (
    ANIMATION_SUFFIXES,
    IMAGE_SUFFIXES,
    animation_format,
    is_animation_file,
)
from uprez.runtime.options import OUTPUT_FORMATS
from uprez.runtime.video.codecs import CONTAINER_FORMATS

# the containers the video layer writes; the others are read and written as Matroska, which
# holds any codec they carry
WRITABLE_VIDEO_SUFFIXES = frozenset(CONTAINER_FORMATS)
READ_ONLY_VIDEO_SUFFIXES = frozenset({".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".vob", ".flv",
                                      ".wmv", ".asf", ".3gp", ".ogv"})
VIDEO_SUFFIXES = WRITABLE_VIDEO_SUFFIXES | READ_ONLY_VIDEO_SUFFIXES
MEDIA_SUFFIXES = IMAGE_SUFFIXES | ANIMATION_SUFFIXES | VIDEO_SUFFIXES
# the files an animation can be written as: GIF, APNG, animated WebP
ANIMATION_OUTPUT_SUFFIXES = frozenset({".gif", ".png", ".apng", ".webp"})

# Job.kind: image file, animated GIF/APNG/WebP, video file, folder of a video's PNG frames
IMAGE, ANIMATION, VIDEO, FRAMES = "image", "animation", "video", "frames"


class PlanError(ValueError):
    """A usage problem found before any work starts (exit code 2)."""


@dataclass(frozen=True)
class Found:
    source: Path
    relative: Path  # where it sits below the folder or glob base it was found in


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path  # a file, or for FRAMES the folder that receives the PNG frames
    kind: str = IMAGE


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def video_output_suffix(source: Path) -> str:
    return source.suffix if source.suffix.lower() in WRITABLE_VIDEO_SUFFIXES else ".mkv"


def animation_output_suffix(source: Path, fmt: str = "auto") -> str:
    """GIFs stay GIFs, APNGs APNGs, WebPs WebPs; --format png or webp converts to APNG or WebP
    (jpg holds no animation, so it leaves the format as it is)."""
    if fmt in ("png", "webp"):
        return "." + fmt
    if source.suffix.lower() in ANIMATION_OUTPUT_SUFFIXES:
        return source.suffix
    try:
        with open(source, "rb") as stream:
            found = animation_format(stream)
    except OSError:
        found = None
    return {"PNG": ".png", "WebP": ".webp"}.get(found or "", ".gif")


def find_inputs(inputs: list[str], *, recursive: bool = False,
                suffixes: frozenset[str] = IMAGE_SUFFIXES,
                exclude: Path | tuple[Path, ...] | None = None) -> list[Found]:
    """Files named, files in folders (--recursive: and below), files matching globs.

    A file named explicitly is taken whatever its suffix (reading it says what is wrong);
    folders and globs yield files with one of `suffixes` only. `exclude` (the output folders)
    is never searched, so re-runs do not upscale their own results.
    """
    if isinstance(exclude, Path):
        exclude = (exclude,)
    exclude = tuple(exclude or ())
    found: list[Found] = []
    for spec in inputs:
        path = Path(spec)
        if path.is_file():
            found.append(Found(path, Path(path.name)))
        elif path.is_dir():
            found += _in_folder(path, recursive, suffixes, exclude)
        elif glob.has_magic(spec):
            found += _in_glob(spec, recursive, suffixes, exclude)
        else:
            raise PlanError(f"input not found: {spec}")
    unique: dict[Path, Found] = {}
    for item in found:
        unique.setdefault(item.source.resolve(), item)
    return list(unique.values())


def _in_folder(folder: Path, recursive: bool, suffixes, exclude: tuple[Path, ...]
               ) -> list[Found]:
    files = []
    for root, dirs, names in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not any(_same(here / d, e) for e in exclude)) if recursive else []
        files += [here / n for n in sorted(names) if _wanted(n, suffixes)
                  and not _other_kind_of_file(here / n)]
    return [Found(f, f.relative_to(folder)) for f in files]


def _in_glob(pattern: str, recursive: bool, suffixes, exclude: tuple[Path, ...]
             ) -> list[Found]:
    base = _glob_base(pattern)
    if recursive and "**" in Path(pattern).parts:
        matches = _walk_glob(pattern, base, exclude)
    else:
        matches = sorted(glob.glob(pattern))
    files = [Path(m) for m in matches if Path(m).is_file() and _wanted(Path(m).name, suffixes)
             and not _other_kind_of_file(Path(m))]
    files = [f for f in files if not any(_inside(f, e) for e in exclude)]
    return [Found(f, f.relative_to(base) if _inside(f, base) else Path(f.name)) for f in files]


def _walk_glob(pattern: str, base: Path, exclude: tuple[Path, ...]) -> list[str]:
    """The files a `**` glob matches, found by the folder scan's walk: symlinked folders are not
    entered (so a link cycle is not walked round and round), nor hidden or output folders.
    glob's own `**` follows every link."""
    parts = Path(pattern).parts[len(base.parts):]
    matches = []
    for root, dirs, names in os.walk(base):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not any(_same(here / d, e) for e in exclude))
        relative = here.relative_to(base).parts
        matches += [str(here / n) for n in sorted(names)
                    if _parts_match((*relative, n), parts)]
    return matches


def _parts_match(names: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Whether path components match glob components, `**` standing for any number of them
    (as glob's recursive mode; `*` and the rest match within one, hidden names only
    explicitly)."""
    if not parts:
        return not names
    if parts[0] == "**":
        return any(_parts_match(names[i:], parts[1:]) for i in range(len(names) + 1))
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatch(names[0], parts[0]) and _parts_match(names[1:], parts[1:])


def _glob_base(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard: 'a/b/*/c*.png' -> 'a/b'."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _wanted(name: str, suffixes) -> bool:
    return (not name.startswith(".") and Path(name).suffix.lower() in suffixes
            and not is_temp_file(name))


# where an MPEG transport stream's packets start and how long they are (m2ts adds a 4-byte
# timecode); a TypeScript source file shares the .ts suffix and is no video
_TRANSPORT_PACKETS = {".ts": (0, 188), ".m2ts": (4, 192), ".mts": (4, 192)}


def _other_kind_of_file(path: Path) -> bool:
    """A file a folder scan skips although its suffix matches: a .ts that is TypeScript."""
    packets = _TRANSPORT_PACKETS.get(path.suffix.lower())
    if packets is None:
        return False
    first, size = packets
    try:
        with open(path, "rb") as f:
            head = f.read(first + size + 1)
    except OSError:
        return False  # reading it later says what is wrong
    sync = [head[i] for i in (first, first + size) if i < len(head)]
    return not sync or any(byte != 0x47 for byte in sync)


def _kind(source: Path) -> str:
    if is_video(source):
        return VIDEO
    return ANIMATION if is_animation_file(source) else IMAGE


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def plan_jobs(found: list[Found], output: Path, *, fmt: str = "auto", suffix: str = "",
              output_is_file: bool = False, frames_dir: Path | None = None) -> list[Job]:
    """Target path for each input; refuses outputs that would overwrite an input or collide.

    Videos keep their container (--format is for images); with `frames_dir` they become
    folders of PNG frames below it, mirroring the input tree like the other outputs.
    """
    if fmt not in OUTPUT_FORMATS:
        raise PlanError(f"unknown format {fmt!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    if output_is_file:
        if len(found) != 1:
            raise PlanError(f"--output {output} is a file name, but there are {len(found)} inputs; "
                            "give a folder")
        source = found[0].source
        kind = _kind(source)
        fits = {VIDEO: is_video(output),
                ANIMATION: output.suffix.lower() in ANIMATION_OUTPUT_SUFFIXES,
                IMAGE: output.suffix.lower() in IMAGE_SUFFIXES}[kind]
        if not fits:
            wanted = {VIDEO: "a video file name (.mp4, .mkv, ...)",
                      ANIMATION: "a .gif, .png or .webp file name (it is an animation)",
                      IMAGE: "an image file name (.png, .jpg, .webp, .bmp, .tif)"}[kind]
            raise PlanError(f"--output {output} does not fit {source}: give {wanted} or a folder")
        jobs = [Job(source, output, kind)]
    else:
        jobs = []
        for item in found:
            stem = item.relative.stem + suffix
            if is_video(item.source):
                if frames_dir is not None:
                    jobs.append(Job(item.source, frames_dir / item.relative.parent / stem, FRAMES))
                else:
                    name = stem + video_output_suffix(item.source)
                    jobs.append(Job(item.source, output / item.relative.parent / name, VIDEO))
                continue
            if is_animation_file(item.source):
                target = output / item.relative.parent / (
                    stem + animation_output_suffix(item.source, fmt))
                jobs.append(Job(item.source, target, ANIMATION))
                continue
            ext = item.source.suffix if fmt == "auto" else "." + fmt
            if fmt == "auto" and ext.lower() not in IMAGE_SUFFIXES:
                ext = ".png"  # an explicitly named file with an odd suffix
            jobs.append(Job(item.source, output / item.relative.parent / (stem + ext)))
    if suffix and not output_is_file:
        # Writing beside the inputs with a suffix: files that are the target of another input
        # are results of an earlier run, not new inputs (or they would get suffixed again).
        targets = {job.target.resolve() for job in jobs}
        jobs = [job for job in jobs if job.source.resolve() not in targets]
    inputs = {job.source.resolve() for job in jobs}
    seen: dict[Path, Path] = {}
    for job in jobs:
        target = job.target.resolve()
        if target in inputs:
            raise PlanError(f"{job.source} would be written to {job.target}, which is an input "
                            "(inputs are never overwritten); choose another --output folder "
                            "or a --suffix")
        if target in seen:
            hint = ("rename one of them" if job.kind not in (IMAGE, ANIMATION)
                    else "use --format auto or a --suffix")
            raise PlanError(f"{seen[target]} and {job.source} would both be written to "
                            f"{job.target}; {hint}")
        seen[target] = job.source
    return jobs
