"""`sr-run`: upscale images and videos with an ONNX model.

The command reads its options, plans (planning.py: the jobs and settings, checked before any
work) and runs the plan (running.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from uprez.runtime.base import console
from uprez.runtime.options import (
    ALPHA_MODES,
    DEVICE_HELP,
    OUTPUT_FORMATS,
    PRECISION_HELP,
    PRECISIONS,
    BatchType,
    DeviceType,
    ScaleChoice,
    TileType,
)
from uprez.runtime.video.codecs import CODECS


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("-i", "--input", "more_inputs", multiple=True, metavar="PATH",
              help="Image, animation or video file, folder, or quoted glob ('shots/*.jpg'). "
                   "Repeatable; same as INPUT.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("upscaled"),
              show_default=True,
              help="Output folder (mirrors the input tree). For a single input file, a file name "
                   "of the same kind (image; animation: .gif .png .webp; video: .mp4, .mkv, ...) "
                   "also works.")
@click.option("-m", "--model", type=click.Path(path_type=Path),
              help="ONNX model file (from sr-export, or any NCHW image-to-image upscaler), or "
                   "the name of a shipped model (see --list-models). Default: the shipped "
                   "default for --scale.")
@click.option("-s", "--scale", type=ScaleChoice(), default=None,
              help="Pick the default model by scale (4 if not given). With --model, only checks "
                   "it.")
@click.option("--outscale", type=click.FloatRange(min=0, min_open=True),
              help="Final scale, e.g. 2.5: the model's output (images, animation and video "
                   "frames) is resized to input size x this.")
@click.option("--tile", type=TileType(), default="auto", show_default=True,
              help="Tile size in input pixels; 0 = the whole image at once; auto = largest that "
                   "fits in free memory.")
@click.option("--tile-pad", type=click.IntRange(min=0),
              help="Context pixels on each side of a tile. Default: the model's receptive field "
                   "(from its metadata, at most 32), else 16.")
@click.option("--batch", type=BatchType(), default="auto", show_default=True,
              help="Tiles per inference call; for animations and video also the frames taken "
                   "at a time. "
                   "auto: 4 on a CPU, as many as half the free memory holds on a GPU.")
@click.option("--device", type=DeviceType(), default="auto", show_default=True,
              help=DEVICE_HELP)
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help=PRECISION_HELP)
@click.option("-r", "--recursive", is_flag=True, help="Also take images and videos in subfolders.")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="auto",
              show_default=True,
              help="Image output format; auto keeps each input's format. Animations become "
                   "APNG or WebP with png or webp and keep theirs otherwise; videos keep their "
                   "container.")
@click.option("--quality", type=click.IntRange(1, 100),
              help="JPEG/WebP quality, animated WebP included [default: 95].")
@click.option("--suffix", default="", metavar="TEXT",
              help="Added to output file names: photo.jpg -> photo<TEXT>.jpg.")
@click.option("--alpha", type=click.Choice(ALPHA_MODES), default="model", show_default=True,
              help="How transparency is upscaled: with the model, or bicubic.")
@click.option("--strip-metadata", is_flag=True,
              help="Write images and animations without the inputs' colour profile, EXIF and "
                   "XMP (default: kept, with the orientation reset and the new pixel size).")
@click.option("--overwrite", is_flag=True,
              help="Redo outputs that already exist (default: skip them, so re-runs resume).")
@click.option("--codec", type=click.Choice(list(CODECS)), default=None,
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
@click.option("--cluster", metavar="ADDRESS",
              help="Run on a Ray cluster: its address as `ray start --head` prints it "
                   "(host:port), or `local` to start Ray on this machine. One worker per GPU, "
                   "else per CPU slot, each loading the model once (it is sent to them); "
                   "inputs and outputs must be on a filesystem every node sees. Needs "
                   "pip install \"uprez[cluster]\".")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the summary line.")
@click.option("--list-models", is_flag=True, is_eager=True, expose_value=False,
              callback=lambda ctx, _, value: _list_models(ctx) if value else None,
              help="List the shipped models (name, scale, size, speed, purpose) and exit.")
def main(inputs, more_inputs, output, model, scale, outscale, tile, tile_pad, batch, device,
         precision, recursive, fmt, quality, suffix, alpha, strip_metadata, overwrite, codec,
         crf, preset, pix_fmt, frames_dir, deinterlace, resume, cluster, quiet) -> None:
    """Upscale images and videos with a super-resolution ONNX model, without PyTorch.

    \b
    Examples:
      sr-run photo.jpg -o big/                  # -> big/photo.jpg, 4x
      sr-run -i shots/ -r -o shots_x4/          # a folder tree, mirrored
      sr-run 'scans/*.tif' -m model.onnx --outscale 2 --format png
      sr-run -i art.png -o art_x4.png --alpha bicubic
      sr-run sticker.gif -o big/                # every frame; timing and loop kept
      sr-run clip.mp4 -o big/ --codec h265 --crf 20   # audio and subtitles kept
      sr-run long.mkv -o big/ --resume          # Ctrl-C, then the same command goes on
      sr-run clip.mp4 --frames-dir frames/      # frames/clip/frame_000001.png, ...
      sr-run -i /shared/photos -r -o /shared/x4 --cluster head:6379   # on a Ray cluster

    Inputs: PNG, JPEG, WebP, BMP, TIFF; 8/16-bit, gray, alpha and palette images keep their
    kind, and their colour profile, EXIF (orientation reset, new pixel size) and XMP. Animated
    GIF, APNG and WebP come back in their format with every frame upscaled, the same frame
    durations and loop count, and transparency (--format png/webp makes APNG/WebP of them).
    Videos (.mp4 .mkv .mov .avi .webm .m4v) keep their container, frame rate, frame count,
    audio and subtitles; 10-bit stays 10-bit; .ts .m2ts .mts .mpg .mpeg .vob .flv .wmv .asf
    .3gp .ogv are read too and written as .mkv. Existing outputs are skipped unless
    --overwrite. Exit code: 0 all done, 1 some files failed (each is named with the reason),
    2 usage error, 130 interrupted.
    """
    from uprez.runtime.animation_jobs import AnimationOptions
    from uprez.runtime.pipeline import RunOptions
    from uprez.runtime.planning import ModelSettings, plan_run
    from uprez.runtime.running import run_plan
    from uprez.runtime.video.job import Encoding
    from uprez.runtime.video_jobs import VideoOptions

    console.set_quiet(quiet)
    plan = plan_run(
        [*inputs, *more_inputs], output=output, recursive=recursive, fmt=fmt, suffix=suffix,
        frames_dir=frames_dir,
        model=ModelSettings(path=model, scale=int(scale) if scale else None, device=device,
                            precision=precision, tile=tile, tile_pad=tile_pad, batch=batch),
        image_options=RunOptions(outscale=outscale, alpha=alpha, quality=quality,
                                 overwrite=overwrite, keep_metadata=not strip_metadata),
        animation_options=AnimationOptions(outscale=outscale, alpha=alpha, quality=quality,
                                           overwrite=overwrite,
                                           keep_metadata=not strip_metadata),
        video_options=VideoOptions(
            encoding=Encoding(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt),
            resume=resume, overwrite=overwrite, outscale=outscale, deinterlace=deinterlace),
    )
    if cluster is not None:
        from uprez.runtime.cluster.running import run_plan_on_cluster

        sys.exit(run_plan_on_cluster(plan, cluster))
    sys.exit(run_plan(plan))


def _list_models(ctx: click.Context) -> None:
    from uprez.runtime.models import model_table

    console.result(model_table())
    ctx.exit(0)
