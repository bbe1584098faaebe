"""`sr-compare`: compare sr-train runs: a table, their curves in one PNG, and sample crops."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from uprez.runtime.base import console
from uprez.runtime.base.console import require_extra
from uprez.runtime.base.report import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED

from .runs import RunFolderError, RunRecords, differing_settings, read_run, summarize, unique_names
from .setup import format_duration

EXAMPLES = """
\b
Examples:
  sr-compare runs/adam runs/sgd runs/adagrad              # the table only
  sr-compare runs/opt/* -o compare/                       # + compare.png and crops
  sr-compare runs/a runs/b -o cmp/ --image starry_night --crop 128
"""


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
               epilog=EXAMPLES)
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for compare.png, crops.png and crops_<run>.png; without it only the "
                   "table is printed.")
@click.option("--val", "val_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Validation images for the crops (default: the first run's val.dir).")
@click.option("--image", help="The validation image of the crops, by file name or stem "
                              "(default: the first).")
@click.option("--crop", type=click.IntRange(min=16), default=96, show_default=True,
              help="Side of the crop in HR pixels.")
@click.option("--at", nargs=2, type=click.IntRange(min=0), metavar="X Y",
              help="Top-left corner of the crop in HR pixels (default: the region with the "
                   "most edges).")
@click.option("--device", default="cpu", show_default=True,
              help="Where the generators upscale the image: cpu, cuda, cuda:N or mps.")
def cli(runs, output, val_dir, image, crop, at, device) -> None:
    """Compare sr-train run folders: print a table (best and last validation Y-PSNR, steps,
    training time, and the settings in which the runs differ); with --output also draw their
    validation Y-PSNR and losses against step and against training time in one PNG
    (compare.png, one colour per run, labelled by run name and differing settings), and write
    one strip of crops per run (bicubic | the run's final generator | HR) from the same region
    of the same validation image.

    A folder that is not a readable run is named with the reason and the others go on.
    Exit codes: 0 done, 1 some runs could not be read or cropped, 2 usage, 130 interrupted.
    """
    try:
        failures = _compare(runs, output, val_dir, image, crop, at, device)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_SOME_FAILED if failures else EXIT_OK)


def _compare(paths, output, val_dir, image, crop, at, device) -> int:
    read, failures = [], 0
    for path, name in zip(paths, unique_names(list(paths)), strict=True):
        try:
            read.append(read_run(path, name))
        except RunFolderError as exc:
            console.error(str(exc))
            failures += 1
    if not read:
        return failures
    differences = differing_settings(read)
    console.result(table(read, differences))
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        failures += _draw(read, differences, output)
        failures += _crops(read, output, val_dir, image, crop, at, device)
    return failures


def table(runs: list[RunRecords], differences: dict[str, list[str]]) -> str:
    """The runs' summary, one row each, aligned; then what they differ in."""
    header = ["run", "best Y-PSNR", "at step", "last Y-PSNR", "steps", "time"]
    rows = []
    for run in runs:
        s = summarize(run)
        rows.append([run.name, _db(s.best_psnr), str(s.best_step) if run.val else "-",
                     _db(s.last_psnr), str(s.steps),
                     format_duration(s.seconds) if math.isfinite(s.seconds) else "-"])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in [header] + rows]
    bicubic = {round(summarize(r).bicubic_psnr, 2) for r in runs if r.val}
    if len(bicubic) == 1:
        lines.append(f"bicubic on the same images: {bicubic.pop():.2f} dB")
    if any(differences.values()):
        lines.append("settings that differ:")
        lines += [f"  {name}: {', '.join(diff)}" for name, diff in differences.items()]
    return "\n".join(lines)


def _db(value: float) -> str:
    return f"{value:.2f} dB" if math.isfinite(value) else "-"


def _draw(runs: list[RunRecords], differences: dict[str, list[str]], output: Path) -> int:
    from .compare_plot import comparison_figure
    from .plot import save_png

    path = output / "compare.png"
    try:
        save_png(comparison_figure(runs, differences), path)
    except OSError as exc:
        console.error(f"{path}: {exc.strerror or exc}")
        return 1
    console.info(f"wrote {path}")
    return 0


def _crops(runs: list[RunRecords], output: Path, val_dir: Path | None, image: str | None,
           crop: int, at: tuple[int, int] | None, device_name: str) -> int:
    """crops_<run>.png for every run and all of them stacked in crops.png; failures counted."""
    import numpy as np
    import torch

    from .compare_crops import (
        CropError,
        crop_strip,
        load_generator,
        most_detailed_region,
        pick_image,
        read_hr,
    )
    from .images import write_rgb

    try:
        device = torch.device(device_name)
        folder = val_dir or _val_dir_of(runs)
        image_path = pick_image(folder, image)
        hr = read_hr(image_path)
    except (CropError, RuntimeError) as exc:
        console.error(f"no crops: {exc}")
        return 1
    generators, failures = {}, 0
    for run in runs:
        try:
            generators[run.name] = load_generator(run.path, device)
        except CropError as exc:
            console.error(f"no crops of {run.name}: {exc}")
            failures += 1
    if not generators:
        return failures
    multiple = math.lcm(*(g.scale for g in generators.values()))
    usable = hr[:hr.shape[0] - hr.shape[0] % multiple, :hr.shape[1] - hr.shape[1] % multiple]
    if crop > min(usable.shape[:2]):
        console.error(f"no crops: --crop {crop} is larger than {image_path.name} "
                      f"({usable.shape[1]}x{usable.shape[0]})")
        return failures + 1
    y, x = (at[1], at[0]) if at else most_detailed_region(usable, crop)
    strips = []
    for name, generator in generators.items():
        try:
            strip = crop_strip(generator, hr, name, image_path.stem, (y, x, crop), device)
        except CropError as exc:
            console.error(f"no crops of {name}: {exc}")
            failures += 1
            continue
        write_rgb(output / f"crops_{name.replace('/', '_')}.png", strip)
        strips.append(strip)
    if strips:
        write_rgb(output / "crops.png", np.concatenate(strips, axis=0))
        console.info(f"wrote {len(strips)} crop strips of {image_path.name} (x={x}, y={y}, "
                     f"{crop} px) to {output}")
    return failures


def _val_dir_of(runs: list[RunRecords]) -> Path:
    from .compare_crops import CropError

    for run in runs:
        folder = run.settings.get("val.dir")
        if folder:
            if not Path(folder).is_dir():
                raise CropError(f"val.dir {folder!r} of {run.name} is not a folder here; give "
                                "--val DIR")
            return Path(folder)
    raise CropError("the runs have no val.dir; give --val DIR")


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else list(args)
    if not {"-h", "--help"} & set(argv):
        try:  # the trainer's modules need torch; the figure needs matplotlib
            require_extra("sr-compare", "train", "torch", "matplotlib")
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
    cli.main(args=argv, prog_name="sr-compare")


if __name__ == "__main__":
    main()
