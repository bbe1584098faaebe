"""`sr-run`: upscale images with an ONNX model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from uprez.runtime import console

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp")
ALPHA_MODES = ("model", "bicubic")
EXIT_INTERRUPTED = 130


class UsageProblem(click.ClickException):
    """A one-line error with the usage exit code (2), without click's usage banner."""

    exit_code = 2


class TileType(click.ParamType):
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
    name = "auto|cpu|cuda[:N]|tensorrt"

    def convert(self, value, param, ctx):
        from uprez.runtime.session import parse_device

        try:
            parse_device(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value).strip().lower()


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("-i", "--input", "more_inputs", multiple=True, metavar="PATH",
              help="Image file, folder, or quoted glob ('shots/*.jpg'). Repeatable; same as INPUT.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("upscaled"),
              show_default=True,
              help="Output folder (mirrors the input tree). For a single input file, a file name "
                   "with an image suffix also works.")
@click.option("-m", "--model", type=click.Path(path_type=Path),
              help="ONNX model (from sr-export, or any NCHW image-to-image upscaler). "
                   "Default: the shipped uprez-compact model for --scale.")
@click.option("-s", "--scale", type=click.Choice(["2", "4"]), default=None,
              help="Pick the default model by scale (4 if not given). With --model, only checks it.")
@click.option("--outscale", type=click.FloatRange(min=0, min_open=True),
              help="Final scale, e.g. 2.5: the model's output is resized to input size x this.")
@click.option("--tile", type=TileType(), default="auto", show_default=True,
              help="Tile size in input pixels; 0 = the whole image at once; auto = largest that "
                   "fits in free memory.")
@click.option("--tile-pad", type=click.IntRange(min=0),
              help="Context pixels on each side of a tile. Default: the model's receptive field "
                   "(from its metadata, at most 32), else 16.")
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True,
              help="Tiles per inference call.")
@click.option("--device", type=DeviceType(), default="auto", show_default=True,
              help="auto uses CUDA when it can load, else CPU (and says why).")
@click.option("-r", "--recursive", is_flag=True, help="Also take images in subfolders.")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="auto",
              show_default=True, help="Output format; auto keeps each input's format.")
@click.option("--quality", type=click.IntRange(1, 100),
              help="JPEG/WebP quality [default: 95].")
@click.option("--suffix", default="", metavar="TEXT",
              help="Added to output file names: photo.jpg -> photo<TEXT>.jpg.")
@click.option("--alpha", type=click.Choice(ALPHA_MODES), default="model", show_default=True,
              help="How transparency is upscaled: with the model, or bicubic.")
@click.option("--overwrite", is_flag=True,
              help="Redo outputs that already exist (default: skip them, so re-runs resume).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the summary line.")
def main(inputs, more_inputs, output, model, scale, outscale, tile, tile_pad, batch, device,
         recursive, fmt, quality, suffix, alpha, overwrite, quiet) -> None:
    """Upscale images with a super-resolution ONNX model, without PyTorch.

    \b
    Examples:
      sr-run photo.jpg -o big/                  # -> big/photo.jpg, 4x
      sr-run -i shots/ -r -o shots_x4/          # a folder tree, mirrored
      sr-run 'scans/*.tif' -m model.onnx --outscale 2 --format png
      sr-run -i art.png -o art_x4.png --alpha bicubic

    Inputs: PNG, JPEG, WebP, BMP, TIFF; 8/16-bit, gray, alpha and palette images keep their
    kind. Existing outputs are skipped unless --overwrite. Exit code: 0 all done, 1 some images
    failed (each is named with the reason), 2 usage error.
    """
    from uprez.runtime.discover import PlanError, find_inputs, plan_jobs
    from uprez.runtime.imageio import IMAGE_SUFFIXES
    from uprez.runtime.pipeline import RunOptions, run_jobs
    from uprez.runtime.report import BatchReport
    from uprez.runtime.session import DeviceError, ModelError
    from uprez.runtime.upscaler import Upscaler

    console.set_quiet(quiet)
    specs = list(inputs) + list(more_inputs)
    if not specs:
        raise UsageProblem("no input given: name image files, folders or globs (see sr-run -h)")
    output_is_file = (len(specs) == 1 and Path(specs[0]).is_file() and not output.is_dir()
                      and output.suffix.lower() in IMAGE_SUFFIXES)
    if output_is_file and fmt != "auto" and output.suffix.lower().lstrip(".") != fmt:
        raise UsageProblem(f"--format {fmt} does not match the output file name {output}")
    try:
        found = find_inputs(specs, recursive=recursive,
                            exclude=None if output_is_file else output)
        if not found:
            raise PlanError(f"no image files found in: {', '.join(specs)}"
                            + ("" if recursive else " (use --recursive for subfolders)"))
        jobs = plan_jobs(found, output, fmt=fmt, suffix=suffix, output_is_file=output_is_file)
    except PlanError as exc:
        raise UsageProblem(str(exc)) from None

    try:
        upscaler = Upscaler(model, scale=int(scale) if scale else None, device=device, tile=tile,
                            tile_pad=tile_pad, batch=batch)
    except ModelError as exc:
        raise UsageProblem(str(exc)) from None
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    if upscaler.fallback_reason:
        console.info(f"running on CPU: GPU unavailable ({upscaler.fallback_reason})")
    console.info(f"{len(jobs)} image{'s' if len(jobs) != 1 else ''} with {upscaler.describe()}")

    report = BatchReport()
    options = RunOptions(outscale=outscale, alpha=alpha, quality=quality, overwrite=overwrite)
    try:
        stats = run_jobs(jobs, upscaler, options, report)
    except KeyboardInterrupt:
        console.error(f"interrupted: {report.summary()}; run the same command again to resume "
                      "(finished images are skipped)")
        sys.exit(EXIT_INTERRUPTED)
    if stats.images:
        console.result(stats.summary(upscaler.provider) + f"; {report.summary()}")
    else:
        console.result(f"no images upscaled: {report.summary()}")
    for path, reason in report.failed:
        console.error(f"failed: {path}: {reason}")
    sys.exit(report.exit_code)
