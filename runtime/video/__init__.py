"""Video in `sr-run`: frames decoded with ffmpeg, upscaled in batches, encoded, audio kept."""

from __future__ import annotations

from uprez.runtime.discover import VIDEO_SUFFIXES, is_video
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.pipeline import upscale_video
from uprez.runtime.video.result import VideoResult

__all__ = ["VIDEO_SUFFIXES", "VideoError", "VideoResult", "is_video", "upscale_video"]
