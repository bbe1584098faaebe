"""The work folder beside a video output: finished segments and what they were made with.

Segments are complete video-only files of `segment_frames` frames (the last may be shorter).
The manifest lists them in order, so `--resume` knows where to pick up, and records everything
that shapes the frames, so segments from a different run are never mixed in.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from uprez.runtime.base import atomic
from uprez.runtime.video.encode import SEGMENT_FORMAT

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ResumePoint:
    segment_frames: list[int]  # frames in each finished segment, in order
    complete: bool  # every frame of the source is in a finished segment

    @property
    def next_frame(self) -> int:
        return sum(self.segment_frames)


class WorkFolder:
    """`.<output name>.uprez-parts/` beside the output (same filesystem, so renames are atomic)."""

    def __init__(self, output: Path):
        self.root = output.parent / f".{output.name}.uprez-parts"

    def segment_path(self, index: int) -> Path:
        return self.root / f"segment_{index:06d}.{SEGMENT_FORMAT}"

    def segments(self, count: int) -> list[Path]:
        return [self.segment_path(i) for i in range(count)]

    def output_tmp_path(self, suffix: str) -> Path:
        return self.root / f"output.tmp{suffix}"

    def resume_point(self, fingerprint: dict) -> ResumePoint | None:
        """What a previous run with the same fingerprint finished, or None."""
        try:
            manifest = json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if manifest.get("fingerprint") != fingerprint:
            return None
        frames: list[int] = []
        for index, count in enumerate(manifest.get("segments", [])):
            if not self.segment_path(index).is_file():
                break
            frames.append(int(count))
        complete = bool(manifest.get("complete")) and len(frames) == len(manifest["segments"])
        return ResumePoint(frames, complete)

    def start(self, fingerprint: dict, keep: ResumePoint | None) -> None:
        """Create the folder; without a resume point, clear what an earlier run left."""
        if keep is None and self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._write({"fingerprint": fingerprint,
                     "segments": keep.segment_frames if keep else [],
                     "ranges": self._manifest().get("ranges", {}) if keep else {},
                     "complete": bool(keep and keep.complete)})

    def finished_ranges(self) -> dict[int, int]:
        """The finished segments by index, with their frames: those a one-machine run made
        one after the other, and those that ranges (ranges.py) finished in any order."""
        manifest = self._manifest()
        found = dict(enumerate(manifest.get("segments", [])))
        found.update({int(index): count for index, count in manifest.get("ranges", {}).items()})
        return {index: int(count) for index, count in found.items()
                if count and self.segment_path(index).is_file()}

    def record_range(self, index: int, frames: int) -> None:
        """Segment `index` is finished (made by a range). The ones that follow on from the
        first are listed as a one-machine run lists them, so its --resume takes them up."""
        manifest = self._manifest()
        ranges = manifest.setdefault("ranges", {})
        ranges[str(index)] = frames
        known = {**dict(enumerate(manifest.get("segments", []))),
                 **{int(i): n for i, n in ranges.items()}}
        prefix: list[int] = []
        while known.get(len(prefix)):
            prefix.append(known[len(prefix)])
        manifest["segments"] = prefix
        self._write(manifest)

    def _manifest(self) -> dict:
        try:
            manifest = json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        return manifest if isinstance(manifest, dict) else {}

    def record(self, segment_frames: list[int], *, complete: bool) -> None:
        manifest = json.loads((self.root / MANIFEST).read_text())
        manifest.update(segments=segment_frames, complete=complete)
        self._write(manifest)

    def output_size(self) -> list[int] | None:
        try:
            return json.loads((self.root / MANIFEST).read_text()).get("output_size")
        except (OSError, ValueError):
            return None

    def set_output_size(self, width: int, height: int) -> None:
        manifest = json.loads((self.root / MANIFEST).read_text())
        manifest["output_size"] = [width, height]
        self._write(manifest)

    def _write(self, manifest: dict) -> None:
        atomic.write_bytes(self.root / MANIFEST,
                           json.dumps(manifest, indent=1, sort_keys=True).encode())

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
