"""The option vocabulary of sr-run and sr-eval, stated once: the choices, and the click types of
`--tile` and `--device`. The library objects check their arguments against the same tuples
(the --codec choices are the keys of video.codecs.CODECS).

A leaf module, light on purpose (click and the standard library), so that the Upscaler can use
it and `sr-run --help` loads neither numpy, OpenCV nor onnxruntime.
"""

from __future__ import annotations

import click

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp")  # --format; auto keeps each input's format
ALPHA_MODES = ("model", "bicubic")  # --alpha: how transparency is upscaled


class TileType(click.ParamType):
    """--tile: "auto", or a size in input pixels (0 = the whole image at once)."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or str(value).strip().lower() == "auto":
            return value if isinstance(value, int) else "auto"
        try:
            tile = int(value)
        except ValueError:
            self.fail(f"{value!r} is not 'auto' or a whole number", param, ctx)
        if tile < 0:
            self.fail("must be 0 (whole image), a positive size, or 'auto'", param, ctx)
        return tile


class DeviceType(click.ParamType):
    """--device: what uprez.runtime.session.parse_device accepts."""

    name = "auto|cpu|cuda[:N]|tensorrt"

    def convert(self, value, param, ctx):
        from uprez.runtime.session import parse_device

        try:
            parse_device(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value).strip().lower()
