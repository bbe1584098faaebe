"""Animated GIF, APNG and WebP in `sr-run`: every frame upscaled, the same format written back.

frames.py reads an animation into the frames a viewer shows and their timing; gif_palette.py
makes a GIF's palette from the upscaled frames (ffmpeg's palettegen/paletteuse); encode.py
writes the frames back with Pillow. The package imports only itself, the base and the video
package's ffmpeg machinery; uprez.runtime.animation_jobs runs the animations of a batch.
"""

from __future__ import annotations

from uprez.runtime.animation.frames import Animation, AnimationError, AnimationFile

__all__ = ["Animation", "AnimationError", "AnimationFile"]
