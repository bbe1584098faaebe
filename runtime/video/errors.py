"""The one exception type of the video layer: a message meant for the user, never a traceback."""

from __future__ import annotations


class VideoError(RuntimeError):
    """A video could not be read, upscaled or written; the message says which and why."""
