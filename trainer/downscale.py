"""`sr-downscale`: write an LR folder from an HR folder (MATLAB bicubic), without PyTorch."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import cv2

from uprez.runtime.base import console, interrupts
from uprez.runtime.base.atomic import write_bytes
from uprez.runtime.base.image_metadata import NO_METADATA, gray_alpha_png
from uprez.runtime.base.imageio import IMAGE_SUFFIXES, ImageReadError, list_images, read_image
from uprez.runtime.base.report import EXIT_INTERRUPTED, BatchReport
from uprez.runtime.resize import imresize, mod_crop


def downscale_file(source: Path, target: Path, scale: int) -> None:
    """HR file -> LR PNG: crop to a multiple of `scale`, MATLAB-bicubic 1/scale.

    Bit depth (8/16), grey/colour and alpha are kept, EXIF orientation is applied (as sr-train,
    sr-eval and sr-run read the HR photo, so LR and HR pair up); the result is written
    atomically.
    """
    image = read_image(source)
    cropped = mod_crop(image, scale)
    if min(cropped.shape[:2]) == 0:
        raise ValueError(f"{image.shape[1]}x{image.shape[0]} is smaller than the scale {scale}")
    lr = imresize(cropped, 1 / scale)
    if lr.ndim == 3 and lr.shape[2] == 2:  # gray and alpha, which OpenCV cannot encode
        write_bytes(target, gray_alpha_png(lr, NO_METADATA))
        return
    ok, encoded = cv2.imencode(".png", lr)
    if not ok:
        raise ValueError("OpenCV could not encode the result as PNG")
    write_bytes(target, encoded.tobytes())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--input", "-i", "input_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of HR images.")
@click.option("--output", "-o", "output_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the LR PNGs (created).")
@click.option("--scale", "-s", type=click.IntRange(2, 8), default=4, show_default=True,
              help="Downscale factor.")
@click.option("--overwrite", is_flag=True, help="Redo files that already exist in --output.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=min(4, os.cpu_count() or 1),
              show_default=True, help="Images processed in parallel.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings, errors and the summary.")
def main(input_dir: Path, output_dir: Path, scale: int, overwrite: bool, jobs: int,
         quiet: bool) -> None:
    """Write MATLAB-bicubic LR images for a folder of HR images.

    Each HR image is cropped at the bottom/right to a multiple of --scale and downscaled with
    MATLAB's antialiased bicubic imresize (as the SRCNN/EDSR/BasicSR data scripts do), then saved
    as OUTPUT/<name>.png. This is the LR that `sr-train --data` makes on the fly; use the folder
    with `sr-train --lr OUTPUT --hr INPUT`, or to evaluate a model with `sr-eval`.

    \b
    Example:
      sr-downscale --input DIV2K_valid_HR/ --output DIV2K_valid_LR_x4/ --scale 4
    """
    console.set_quiet(quiet)
    if output_dir.resolve() == input_dir.resolve():
        raise click.UsageError("--output must differ from --input (inputs are never overwritten)")
    sources = list_images(input_dir)
    if not sources:
        raise click.UsageError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {input_dir}")
    stems = [p.stem for p in sources]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise click.UsageError(f"several inputs would write the same PNG: {', '.join(clashes)}")
    output_dir.mkdir(parents=True, exist_ok=True)
    report = BatchReport()
    todo = []
    for source in sources:
        target = output_dir / f"{source.stem}.png"
        if target.exists() and not overwrite:
            report.add_skipped(str(source))
        else:
            todo.append((source, target))

    def work(pair: tuple[Path, Path]) -> None:
        if interrupts.requested():  # Ctrl-C: the pool's queued images are not started
            return
        source, target = pair
        try:
            downscale_file(source, target, scale)
        except ImageReadError as exc:
            reason = exc.reason
        except (ValueError, OSError) as exc:
            reason = str(exc)
            if isinstance(exc, OSError) and exc.strerror:  # not "[Errno 28] ..." and a temp name
                reason = f"cannot write {target}: {exc.strerror}"
        else:
            report.add_done(str(source))
            return
        report.add_failed(str(source), reason)
        console.error(f"{source}: {reason}")

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        with interrupts.recorded():
            done = pool.map(work, todo)
            for _ in console.progress(done, total=len(todo), desc=f"x{scale}", unit="img"):
                interrupts.check()
    except KeyboardInterrupt:  # the images being written finish (atomically); no new ones
        pool.shutdown(cancel_futures=True)
        console.error(f"interrupted: {report.summary()}; run the same command again to go on "
                      "(finished files are skipped)")
        sys.exit(EXIT_INTERRUPTED)
    pool.shutdown()
    console.result(f"{output_dir}: {report.summary()}")
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
