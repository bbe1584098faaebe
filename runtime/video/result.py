"""What `upscale_video` returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoResult:
    output: Path  # the video file, or the folder of PNG frames
    frames: int  # frames in the output
    upscaled: int  # frames upscaled by this run (fewer when resumed)
    seconds: float
    backend: str  # "ffmpeg (<where it came from>)" or "opencv"
