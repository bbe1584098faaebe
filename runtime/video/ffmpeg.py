"""Finding the ffmpeg binary and asking it what it can do.

Order: `UPREZ_FFMPEG` when set (a path to a binary, or `none` to use OpenCV instead of ffmpeg),
then a system `ffmpeg` on PATH, then the static binary shipped in the imageio-ffmpeg wheel.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from uprez.runtime.video.errors import VideoError

ENV_VAR = "UPREZ_FFMPEG"


@dataclass(frozen=True)
class Ffmpeg:
    """An ffmpeg binary and where it came from ("UPREZ_FFMPEG", "system", "imageio-ffmpeg")."""

    exe: str
    origin: str

    @property
    def version(self) -> str:
        return _version(self.exe)

    def encoders(self) -> frozenset[str]:
        return _encoders(self.exe)

    def encoder_pix_fmts(self, encoder: str) -> tuple[str, ...]:
        return _encoder_pix_fmts(self.exe, encoder)

    def run(self, args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run ffmpeg to completion (small jobs: probes, muxing); output captured as text."""
        return subprocess.run([self.exe, "-hide_banner", "-nostdin", *args], capture_output=True,
                              text=True, errors="replace", timeout=timeout)

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        """Start ffmpeg in its own process group: Ctrl-C reaches only us, and we stop it, so it
        never gets the chance to finalise a half-written file as if it were complete."""
        return subprocess.Popen([self.exe, "-hide_banner", "-nostdin", *args],
                                **_detached(), **kwargs)


def clean_message(line: str) -> str:
    """An ffmpeg log line without its '[demuxer @ 0x55...]' prefix."""
    return re.sub(r"^(\[[^\]]*@ 0x[0-9a-f]+\]\s*)+", "", line.strip())


def first_error(stderr: str) -> str:
    """The cause in ffmpeg's error output: its first line, cleaned; later lines are mostly its
    consequences. (console.first_line is the same for a Python exception.)"""
    lines = stderr.strip().splitlines()
    return clean_message(lines[0]) if lines else "no reason given"


def _detached() -> dict:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def find_ffmpeg() -> Ffmpeg | None:
    """The ffmpeg to use, or None when there is none (or `UPREZ_FFMPEG=none` asks for OpenCV)."""
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced.lower() == "none":
        return None
    if forced:
        exe = shutil.which(forced) or (forced if os.path.isfile(forced) else None)
        if exe is None:
            raise VideoError(f"{ENV_VAR}={forced!r} is not an ffmpeg binary "
                             f"(set it to a path, or to 'none' to use OpenCV)")
        return Ffmpeg(exe, ENV_VAR)
    system = shutil.which("ffmpeg")
    if system:
        return Ffmpeg(system, "system")
    try:
        import imageio_ffmpeg

        return Ffmpeg(imageio_ffmpeg.get_ffmpeg_exe(), "imageio-ffmpeg")
    except (ImportError, RuntimeError):
        return None


@functools.lru_cache(maxsize=8)
def _version(exe: str) -> str:
    done = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True,
                          errors="replace")
    match = re.match(r"ffmpeg version (\S+)", done.stdout)
    return match.group(1) if match else "unknown"


@functools.lru_cache(maxsize=8)
def _encoders(exe: str) -> frozenset[str]:
    done = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                          errors="replace")
    names = set()
    for line in done.stdout.splitlines():
        # " V....D libx264   libx264 H.264 ..."; the legend above the list uses "=" lines
        match = re.match(r"\s*([VAS][A-Z.]{5})\s+(\S+)", line)
        if match and "=" not in line:
            names.add(match.group(2))
    return frozenset(names)


@functools.lru_cache(maxsize=32)
def _encoder_pix_fmts(exe: str, encoder: str) -> tuple[str, ...]:
    done = subprocess.run([exe, "-hide_banner", "-h", f"encoder={encoder}"], capture_output=True,
                          text=True, errors="replace")
    match = re.search(r"Supported pixel formats:([^\n]*)", done.stdout)
    return tuple(match.group(1).split()) if match else ()
