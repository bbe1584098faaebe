"""`sr-run`: upscale images and videos with an ONNX model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from uprez.runtime.base import console, interrupts
from uprez.runtime.base.report import EXIT_INTERRUPTED, UsageProblem

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp")
ALPHA_MODES = ("model", "bicubic")
VIDEO_CODECS = ("h264", "h265", "vp9", "av1")


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
              help="Image or video file, folder, or quoted glob ('shots/*.jpg'). Repeatable; "
                   "same as INPUT.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("upscaled"),
              show_default=True,
              help="Output folder (mirrors the input tree). For a single input file, a file name "
                   "of the same kind (image, or video: .mp4, .mkv, ...) also works.")
@click.option("-m", "--model", type=click.Path(path_type=Path),
              help="ONNX model file (from sr-export, or any NCHW image-to-image upscaler), or "
                   "the name of a shipped model (see --list-models). Default: the shipped "
                   "default for --scale.")
@click.option("-s", "--scale", type=click.Choice(["2", "4"]), default=None,
              help="Pick the default model by scale (4 if not given). With --model, only checks it.")
@click.option("--outscale", type=click.FloatRange(min=0, min_open=True),
              help="Final scale, e.g. 2.5: the model's output (images and video frames) is "
                   "resized to input size x this.")
@click.option("--tile", type=TileType(), default="auto", show_default=True,
              help="Tile size in input pixels; 0 = the whole image at once; auto = largest that "
                   "fits in free memory.")
@click.option("--tile-pad", type=click.IntRange(min=0),
              help="Context pixels on each side of a tile. Default: the model's receptive field "
                   "(from its metadata, at most 32), else 16.")
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True,
              help="Tiles per inference call; for video also the frames taken at a time.")
@click.option("--device", type=DeviceType(), default="auto", show_default=True,
              help="auto uses CUDA when it can load, else CPU (and says why).")
@click.option("-r", "--recursive", is_flag=True, help="Also take images and videos in subfolders.")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="auto",
              show_default=True,
              help="Image output format; auto keeps each input's format. Videos keep their "
                   "container.")
@click.option("--quality", type=click.IntRange(1, 100),
              help="JPEG/WebP quality [default: 95].")
@click.option("--suffix", default="", metavar="TEXT",
              help="Added to output file names: photo.jpg -> photo<TEXT>.jpg.")
@click.option("--alpha", type=click.Choice(ALPHA_MODES), default="model", show_default=True,
              help="How transparency is upscaled: with the model, or bicubic.")
@click.option("--overwrite", is_flag=True,
              help="Redo outputs that already exist (default: skip them, so re-runs resume).")
@click.option("--codec", type=click.Choice(VIDEO_CODECS), default=None,
              help="Video codec, as this ffmpeg allows [default: h264; vp9 for .webm]; "
                   ".avi takes h264/h265 without B-frames, or vp9.")
@click.option("--crf", type=click.IntRange(0, 63),
              help="Video quality, lower is better and bigger: 0..51 for h264/h265, 0..63 for "
                   "vp9/av1 [default: 18 h264, 20 h265, 30 vp9/av1].")
@click.option("--preset", metavar="NAME",
              help="Encoder speed: ultrafast ... medium ... veryslow (mapped to speed levels for "
                   "vp9/av1, which also take a number) [default: medium].")
@click.option("--pix-fmt", metavar="FMT",
              help="Output pixel format, e.g. yuv444p [default: yuv420p, yuv420p10le for 10-bit "
                   "sources].")
@click.option("--frames-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write each video's upscaled frames as PNGs into DIR/<name>/ instead of a "
                   "video (images still go to --output).")
@click.option("--deinterlace/--no-deinterlace", default=True,
              help="Video: deinterlace interlaced sources (DVD, TV, camcorder) before upscaling, "
                   "since enlarged fields comb [default: on; only frames flagged interlaced].")
@click.option("--resume", is_flag=True,
              help="Video: keep finished segments (or --frames-dir PNGs) when a run stops "
                   "(Ctrl-C, error) and continue from them; give it again on the re-run. "
                   "Finished files are always skipped.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the summary line.")
@click.option("--list-models", is_flag=True, is_eager=True, expose_value=False,
              callback=lambda ctx, _, value: _list_models(ctx) if value else None,
              help="List the shipped models (name, scale, size, speed, purpose) and exit.")
def main(inputs, more_inputs, output, model, scale, outscale, tile, tile_pad, batch, device,
         recursive, fmt, quality, suffix, alpha, overwrite, codec, crf, preset, pix_fmt,
         frames_dir, deinterlace, resume, quiet) -> None:
    """Upscale images and videos with a super-resolution ONNX model, without PyTorch.

    \b
    Examples:
      sr-run photo.jpg -o big/                  # -> big/photo.jpg, 4x
      sr-run -i shots/ -r -o shots_x4/          # a folder tree, mirrored
      sr-run 'scans/*.tif' -m model.onnx --outscale 2 --format png
      sr-run -i art.png -o art_x4.png --alpha bicubic
      sr-run clip.mp4 -o big/ --codec h265 --crf 20   # audio and subtitles kept
      sr-run long.mkv -o big/ --resume          # Ctrl-C, then the same command goes on
      sr-run clip.mp4 --frames-dir frames/      # frames/clip/frame_000001.png, ...

    Inputs: PNG, JPEG, WebP, BMP, TIFF; 8/16-bit, gray, alpha and palette images keep their
    kind. Videos (.mp4 .mkv .mov .avi .webm .m4v) keep their container, frame rate, frame
    count, audio and subtitles; 10-bit stays 10-bit; .ts .m2ts .mts .mpg .mpeg .vob .flv .wmv
    .asf .3gp .ogv are read too and written as .mkv. Existing outputs are skipped unless
    --overwrite. Exit code: 0 all done, 1 some files failed (each is named with the reason),
    2 usage error, 130 interrupted.
    """
    from uprez.runtime.auto import open_upscaler
    from uprez.runtime.base.report import BatchReport
    from uprez.runtime.discover import (
        IMAGE,
        MEDIA_SUFFIXES,
        PlanError,
        find_inputs,
        is_video,
        plan_jobs,
    )
    from uprez.runtime.pipeline import RunOptions, run_jobs
    from uprez.runtime.session import DeviceError, ModelError

    console.set_quiet(quiet)
    specs = list(inputs) + list(more_inputs)
    if not specs:
        raise UsageProblem("no input given: name image or video files, folders or globs "
                           "(see sr-run -h)")
    single = Path(specs[0]) if len(specs) == 1 and Path(specs[0]).is_file() else None
    output_is_file = (single is not None and not output.is_dir()
                      and output.suffix.lower() in MEDIA_SUFFIXES
                      and not (frames_dir is not None and is_video(single)))
    if (output_is_file and not is_video(output) and fmt != "auto"
            and output.suffix.lower().lstrip(".") != fmt):
        raise UsageProblem(f"--format {fmt} does not match the output file name {output}")
    exclude = tuple(p for p in (None if output_is_file else output, frames_dir) if p is not None)
    try:
        found = find_inputs(specs, recursive=recursive, suffixes=MEDIA_SUFFIXES, exclude=exclude)
        if not found:
            raise PlanError(f"no image or video files found in: {', '.join(specs)}"
                            + ("" if recursive else " (use --recursive for subfolders)"))
        jobs = plan_jobs(found, output, fmt=fmt, suffix=suffix, output_is_file=output_is_file,
                         frames_dir=frames_dir)
    except PlanError as exc:
        raise UsageProblem(str(exc)) from None
    image_jobs = [job for job in jobs if job.kind == IMAGE]
    video_jobs = [job for job in jobs if job.kind != IMAGE]
    video_options = _video_options(video_jobs, codec=codec, crf=crf, preset=preset,
                                   pix_fmt=pix_fmt, resume=resume, overwrite=overwrite,
                                   outscale=outscale, frames_dir=frames_dir,
                                   deinterlace=deinterlace)

    try:
        upscaler = open_upscaler(model, scale=int(scale) if scale else None, device=device,
                                 tile=tile, tile_pad=tile_pad, batch=batch)
    except ModelError as exc:
        raise UsageProblem(str(exc)) from None
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    if upscaler.fallback_reason:
        console.info(f"running on CPU: GPU unavailable ({upscaler.fallback_reason})")
    counts = [_count(len(image_jobs), "image"), _count(len(video_jobs), "video")]
    console.info(f"{' and '.join(c for c in counts if c)} with {upscaler.describe()}")

    report = BatchReport()
    options = RunOptions(outscale=outscale, alpha=alpha, quality=quality, overwrite=overwrite)
    video_stats = None
    try:
        with interrupts.recorded():
            stats = run_jobs(image_jobs, upscaler, options, report) if image_jobs else None
            if video_jobs:
                from uprez.runtime.video_jobs import frames_fingerprint, run_video_jobs

                # the default's pick for compressed video (a per-codec pick: TODO with jobs)
                video_upscaler = getattr(upscaler, "real", upscaler)
                fingerprint = frames_fingerprint(video_upscaler, tile=tile, outscale=outscale,
                                                 deinterlace=deinterlace)
                video_stats = run_video_jobs(video_jobs, video_upscaler, video_options, report,
                                             frames_from=fingerprint)
            interrupts.check()
    except KeyboardInterrupt:
        again = " with --resume" if resume else " (add --resume to keep a video's finished part)"
        console.error(f"interrupted: {report.summary()}; run the same command again{again} to "
                      "go on (finished files are skipped)")
        sys.exit(EXIT_INTERRUPTED)
    parts = []
    if stats is not None and stats.images:
        parts.append(stats.summary(upscaler.provider))
        if hasattr(upscaler, "usage"):  # the default model picked per image
            parts.append(upscaler.usage())
    if video_stats is not None and video_stats.videos:
        parts.append(video_stats.summary() + ("" if parts else f" on {upscaler.provider}"))
    console.result("; ".join(parts or ["nothing upscaled"]) + f"; {report.summary()}")
    for path, reason in report.failed:
        console.error(f"failed: {path}: {reason}")
    sys.exit(report.exit_code)


def _list_models(ctx: click.Context) -> None:
    from uprez.runtime.models import model_table

    console.result(model_table())
    ctx.exit(0)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}" if number else ""


def _video_options(video_jobs, *, codec, crf, preset, pix_fmt, resume, overwrite, outscale,
                   frames_dir, deinterlace):
    """The video settings, checked against ffmpeg before any file is touched."""
    from uprez.runtime.video.errors import VideoError
    from uprez.runtime.video.job import Encoding
    from uprez.runtime.video_jobs import VideoOptions, check_encoder_choices

    encoding = Encoding(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt)
    options = VideoOptions(encoding=encoding, resume=resume, overwrite=overwrite,
                           outscale=outscale, deinterlace=deinterlace)
    given = encoding.given()
    if frames_dir is not None and video_jobs and given:
        console.warn(f"{', '.join(given)} only shape video files; --frames-dir writes PNG frames")
    try:
        check_encoder_choices(video_jobs, options)
    except VideoError as exc:
        raise UsageProblem(str(exc)) from None
    return options
