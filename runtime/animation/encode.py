"""Upscaled frames back into a GIF, APNG or WebP file, with their timing, loop and metadata.

Frames are whole pictures (see frames.py), and each is written so that a viewer shows exactly
it. Pillow's writers crop every frame to what changed from the one before and work out that
rectangle from the disposal they are given, so the disposal is the one that makes that crop
right: GIF restores to the background after each frame when the animation has transparency
(else a pixel that turns transparent would keep the colour under it) and keeps the frame
otherwise; APNG keeps each frame and replaces, rather than blends, the changed rectangle, alpha
included; WebP's encoder (libwebp) chooses for itself.
"""

from __future__ import annotations

import io

import numpy as np

from uprez.runtime.animation.frames import PILLOW_FORMATS, Animation
from uprez.runtime.animation.gif_palette import quantize
from uprez.runtime.base.image_metadata import for_output, pillow_image, pillow_save_options

GIF_KEEP, GIF_RESTORE_BACKGROUND = 1, 2  # GIF disposal methods
APNG_NONE, APNG_SOURCE = 0, 0  # APNG dispose_op (keep the frame), blend_op (replace)


def encode_animation(animation: Animation, fmt: str, quality: int) -> bytes:
    """The animation as a `fmt` ('GIF', 'PNG' or 'WebP') file. Takes the frames over: the list
    is emptied as they are converted, so they are not held twice."""
    height, width = animation.frames[0].shape[:2]
    metadata = for_output(animation.metadata, width, height)
    if fmt == "GIF":
        images, options = _gif_frames(animation)
    else:
        images = _pillow_frames(animation.frames)
        options = {**pillow_save_options("apng" if fmt == "PNG" else "webp", metadata, quality),
                   "duration": list(animation.durations), "loop": animation.plays}
        if fmt == "PNG":
            options.update(disposal=APNG_NONE, blend=APNG_SOURCE, default_image=False)
        else:
            options.update(lossless=False, background=(0, 0, 0, 0))
    out = io.BytesIO()
    images[0].save(out, format=PILLOW_FORMATS[fmt], save_all=True, append_images=images[1:],
                   **options)
    return out.getvalue()


def _gif_frames(animation: Animation):
    from PIL import Image

    paletted = quantize(animation.frames)
    animation.frames.clear()
    images = []
    for indices in paletted.indices:
        image = Image.fromarray(indices, "P")
        image.putpalette(paletted.palette, "RGB")
        images.append(image)
    paletted.indices.clear()
    options: dict = {
        # GIF counts time in hundredths of a second
        "duration": [round(ms / 10) * 10 for ms in animation.durations],
        "disposal": GIF_KEEP if paletted.transparent is None else GIF_RESTORE_BACKGROUND,
        "optimize": False,  # keeps the palette as made, transparent entry included
    }
    if paletted.transparent is not None:
        options["transparency"] = paletted.transparent
    if animation.plays != 1:  # without a loop extension a GIF plays once
        options["loop"] = 0 if animation.plays == 0 else animation.plays - 1
    return images, options


def _pillow_frames(frames: list[np.ndarray]):
    images = []
    while frames:
        images.append(pillow_image(frames.pop(0)))
    return images
