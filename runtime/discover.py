"""Which files to upscale and where each result goes (the output tree mirrors the input tree)."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from uprez.runtime.imageio import IMAGE_SUFFIXES, is_temp_file

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp")


class PlanError(ValueError):
    """A usage problem found before any work starts (exit code 2)."""


@dataclass(frozen=True)
class Found:
    source: Path
    relative: Path  # where it sits below the folder or glob base it was found in


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def find_inputs(inputs: list[str], *, recursive: bool = False,
                suffixes: frozenset[str] = IMAGE_SUFFIXES,
                exclude: Path | None = None) -> list[Found]:
    """Files named, files in folders (--recursive: and below), files matching globs.

    A file named explicitly is taken whatever its suffix (reading it says what is wrong);
    folders and globs yield files with an image suffix only. `exclude` (the output folder)
    is never searched, so re-runs do not upscale their own results.
    """
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


def _in_folder(folder: Path, recursive: bool, suffixes, exclude: Path | None) -> list[Found]:
    files = []
    for root, dirs, names in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not _same(here / d, exclude)) if recursive else []
        files += [here / n for n in sorted(names) if _wanted(n, suffixes)]
    return [Found(f, f.relative_to(folder)) for f in files]


def _in_glob(pattern: str, recursive: bool, suffixes, exclude: Path | None) -> list[Found]:
    base = _glob_base(pattern)
    matches = sorted(glob.glob(pattern, recursive=recursive))
    files = [Path(m) for m in matches if Path(m).is_file() and _wanted(Path(m).name, suffixes)]
    if exclude is not None:
        files = [f for f in files if not _inside(f, exclude)]
    return [Found(f, f.relative_to(base) if _inside(f, base) else Path(f.name)) for f in files]


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


def _same(a: Path, b: Path | None) -> bool:
    return b is not None and a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def plan_jobs(found: list[Found], output: Path, *, fmt: str = "auto", suffix: str = "",
              output_is_file: bool = False) -> list[Job]:
    """Target path for each input; refuses outputs that would overwrite an input or collide."""
    if fmt not in OUTPUT_FORMATS:
        raise PlanError(f"unknown format {fmt!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    if output_is_file:
        if len(found) != 1:
            raise PlanError(f"--output {output} is a file name, but there are {len(found)} inputs; "
                            "give a folder")
        jobs = [Job(found[0].source, output)]
    else:
        jobs = []
        for item in found:
            ext = item.source.suffix if fmt == "auto" else "." + fmt
            if fmt == "auto" and ext.lower() not in IMAGE_SUFFIXES:
                ext = ".png"  # an explicitly named file with an odd suffix
            name = item.relative.stem + suffix + ext
            jobs.append(Job(item.source, output / item.relative.parent / name))
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
            raise PlanError(f"{seen[target]} and {job.source} would both be written to "
                            f"{job.target}; use --format auto or a --suffix")
        seen[target] = job.source
    return jobs
