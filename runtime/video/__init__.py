"""Video in `sr-run`: frames decoded with ffmpeg, upscaled in batches, encoded, audio kept."""

from __future__ import annotations

from pathlib import Path

from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.pipeline import upscale_video
from uprez.runtime.video.result import VideoResult

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


__all__ = ["VIDEO_EXTENSIONS", "VideoError", "VideoResult", "is_video", "upscale_video"]
