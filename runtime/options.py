"""The option vocabulary of sr-run and sr-eval, stated once: the choices, and the click types of
`--tile` and `--device`. The library objects check their arguments against the same tuples
(the --codec choices are the keys of video.codecs.CODECS).

A leaf module, light on purpose (click and the standard library), so that the Upscaler can use
it and `sr-run --help` loads neither numpy, OpenCV nor onnxruntime.
"""

from __future__ import annotations

import click

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp", "tiff")  # --format; auto keeps each input's format
ALPHA_MODES = ("model", "bicubic")  # --alpha: how transparency is upscaled
PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # --precision (backends/precision.py decides)
DEVICE_HELP = ("auto: CUDA on an NVIDIA GPU, else OpenVINO when installed (uprez[openvino]), "
               "else onnxruntime's CPU provider. cuda:0,1 or cuda:all spread the work over "
               "several GPUs.")
PRECISION_HELP = ("auto: fp16 on CUDA/TensorRT, bf16 with OpenVINO where the CPU has it, when "
                  "the model's metadata allows reduced precision; fp32 otherwise. fp32 forces "
                  "full precision.")


class ScaleChoice(click.Choice):
    """sr-run --scale: the scales of the shipped models. Another number is most likely meant as
    the final size, which is --outscale."""

    def __init__(self, scales: tuple[str, ...] = ("2", "4")):
        super().__init__(scales)

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a model scale ({' or '.join(self.choices)}: it picks "
                      f"the shipped model); for a final size of {value} times the input, use "
                      f"--outscale {value}", param, ctx)


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


class BatchType(click.ParamType):
    """--batch: "auto" (4 on a CPU, from free memory on a GPU), or windows per call."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or str(value).strip().lower() == "auto":
            return value if isinstance(value, int) else "auto"
        try:
            batch = int(value)
        except ValueError:
            self.fail(f"{value!r} is not 'auto' or a whole number", param, ctx)
        if batch < 1:
            self.fail("must be 'auto' or at least 1", param, ctx)
        return batch


class DeviceType(click.ParamType):
    """--device: what uprez.runtime.backends.devices.parse_device accepts."""

    name = "auto|cpu|openvino|cuda[:N,M|:all]|tensorrt"

    def convert(self, value, param, ctx):
        from uprez.runtime.backends.devices import parse_device

        try:
            return parse_device(str(value)).text
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
