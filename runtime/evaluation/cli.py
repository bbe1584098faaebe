"""`sr-eval`: measure a model against bicubic on HR images, with the papers' conventions."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from uprez.runtime.options import DeviceType, TileType

_DIR = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "-m", type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX model file to evaluate, or a shipped model's name (sr-run "
                   "--list-models). Default: the model shipped for --scale.")
@click.option("--data", "-d", "data_dir", type=_DIR,
              help="Folder of HR images; each LR image is made from its HR image with MATLAB "
                   "bicubic downscaling.")
@click.option("--hr", "hr_dir", type=_DIR, help="Folder of HR images of pre-made pairs "
              "(with --lr).")
@click.option("--lr", "lr_dir", type=_DIR,
              help="Folder of pre-made LR images, named like their HR image (also NAMEx4 / "
                   "NAME_x4 as in DIV2K).")
@click.option("--scale", "-s", type=click.IntRange(min=2), default=4, show_default=True,
              help="Upscaling factor; must be the model's. Also the border cropped before "
                   "scoring.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the model's SR images here as PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Print the results as a Markdown table on stdout.")
@click.option("--device", type=DeviceType(), default="auto", show_default=True,
              help="auto, cpu, cuda, cuda:N or tensorrt (as sr-run).")
@click.option("--tile", type=TileType(), default="0", show_default=True,
              help="Tile size for inference, 0 = whole image (as the papers), 'auto' = from "
                   "free memory. Tiles change results by at most a grey level.")
@click.option("--degrade", "degrade_specs", multiple=True, metavar="SPEC",
              help="Degrade each LR image before upscaling, as real inputs are: "
                   "e.g. jpeg=75, noise=4,jpeg=60, blur=1.2. Repeatable: one column of results "
                   "each ('none' for clean LR). Scores stay against the clean HR image, and "
                   "bicubic upscales the same degraded LR.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the --degrade noise (per image, so results repeat).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info messages.")
def main(model: Path | None, data_dir: Path | None, hr_dir: Path | None, lr_dir: Path | None,
         scale: int, save_dir: Path | None, as_json: bool, as_markdown: bool, device: str,
         tile: int | str, degrade_specs: tuple[str, ...], seed: int, quiet: bool) -> None:
    """Score a super-resolution model with PSNR and SSIM, beside bicubic upscaling.

    Follows the papers' protocol (SRCNN, EDSR, SRGAN, BasicSR): each HR image is cropped to a
    multiple of the scale, downscaled with MATLAB's antialiased bicubic imresize, upscaled by
    the model exactly as sr-run does it, and compared with the HR image: PSNR and SSIM on the
    BT.601 Y channel and PSNR on RGB, after cropping SCALE pixels from each edge. The bicubic
    upscale of the same LR image is scored beside it.

    \b
    Examples:
      sr-eval --data val/ --scale 4                  # the shipped x4 model
      sr-eval --model my_x2.onnx --data val/ --scale 2 --markdown
      sr-eval --model m.onnx --lr Set5/LRbicx4 --hr Set5/GTmod12 --json
      sr-eval --data val/ --degrade none --degrade jpeg=75 --degrade noise=4,jpeg=60

    --degrade applies: blur=SIGMA (Gaussian, LR pixels), noise=SIGMA (Gaussian colour noise
    in grey levels of 255), graynoise=SIGMA (the same noise in every channel), jpeg=QUALITY
    (libjpeg, 1..100, 4:2:0), in the order written.
    """
    from uprez.runtime.base import console
    from uprez.runtime.base.imageio import FORMATS
    from uprez.runtime.base.report import BatchReport
    from uprez.runtime.degradations import Degradation
    from uprez.runtime.evaluation.batch import items_from_hr_folder, items_from_pairs

    console.set_quiet(quiet)
    if as_json and as_markdown:
        raise click.UsageError("choose one of --json and --markdown")
    try:
        degradations = [Degradation.parse(spec) for spec in degrade_specs] or [Degradation()]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--degrade") from None
    if data_dir is not None and (hr_dir is not None or lr_dir is not None):
        raise click.UsageError("give either --data, or --lr with --hr, not both")
    if data_dir is None and (hr_dir is None or lr_dir is None):
        raise click.UsageError("give --data DIR (HR images), or --lr DIR and --hr DIR (pairs)")
    inputs = [folder for folder in (data_dir, hr_dir, lr_dir) if folder is not None]
    if save_dir is not None and any(save_dir.resolve() == f.resolve() for f in inputs):
        raise click.BadParameter("the SR images would overwrite the inputs; choose another "
                                 "folder", param_hint="--save-dir")

    report = BatchReport()
    if data_dir is not None:
        items = items_from_hr_folder(data_dir)
        source = data_dir
    else:
        items, unpaired = items_from_pairs(hr_dir, lr_dir, scale)
        for path, reason in unpaired:
            console.error(f"{path}: {reason}")
            report.add_failed(path, reason)
        source = hr_dir
    if not items and not report.failed:
        suffixes = ", ".join(suffix.lstrip(".") for suffix in FORMATS)
        raise click.UsageError(f"no images in {source} (looked for {suffixes})")

    model_path = model if model is not None else _default_model(scale)
    upscaler = _load_upscaler(model_path, scale=scale, device=device, tile=tile)
    sys.exit(_evaluate_and_print(items, upscaler, model_path, scale, save_dir, report,
                                 degradations, seed, as_json=as_json, as_markdown=as_markdown))


def _default_model(scale: int) -> Path:
    """The default's name for an auto choice, else the shipped file's path."""
    from uprez.runtime.models import (
        DEFAULT_MODELS,
        DefaultModelMissing,
        auto_model,
        default_model_path,
    )

    try:
        path = default_model_path(scale)
    except DefaultModelMissing as exc:
        raise click.ClickException(str(exc)) from None
    return Path(DEFAULT_MODELS[scale]) if auto_model(DEFAULT_MODELS[scale]) else path


def _load_upscaler(model_path: Path, *, scale: int, device: str, tile: int | str):
    from uprez.runtime.auto import open_upscaler

    try:
        return open_upscaler(str(model_path), scale=scale, device=device, tile=tile)
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - any load failure is one line for the user
        raise click.ClickException(f"cannot use the model {model_path}: {exc}") from None


def _evaluate_and_print(items, upscaler, model_path: Path, scale: int, save_dir: Path | None,
                        report, degradations, seed: int, *, as_json: bool,
                        as_markdown: bool) -> int:
    from uprez.runtime.base import console
    from uprez.runtime.base.imageio import read_image
    from uprez.runtime.evaluation.batch import evaluate_conditions
    from uprez.runtime.evaluation.protocol import ModelOutputError
    from uprez.runtime.evaluation.report import (
        EvalReport,
        conditions_to_json,
        format_markdown,
        format_summary,
        format_summary_markdown,
        format_text,
        to_json,
    )

    try:
        results, report = evaluate_conditions(items, upscaler.upscale, read_image, scale=scale,
                                              degradations=degradations, seed=seed,
                                              save_dir=save_dir, report=report)
    except ModelOutputError as exc:
        raise click.ClickException(f"{model_path}: {exc}") from None
    reports = [EvalReport(model=str(model_path), scale=scale, images=tuple(scores),
                          failed=tuple(report.failed), degradation=degradation.name)
               for degradation, scores in zip(degradations, results, strict=True)]
    several = len(reports) > 1
    if as_json:
        console.result(conditions_to_json(reports, seed) if several else to_json(reports[0]))
    elif as_markdown:
        tables = [format_markdown(r) for r in reports]
        console.result("\n\n".join(tables + ([format_summary_markdown(reports)] if several
                                              else [])))
    elif results[0]:
        tables = [format_text(r) for r in reports]
        console.result("\n\n".join(tables + ([format_summary(reports)] if several else [])))
    if save_dir is not None and results[0]:
        console.info(f"SR images written to {save_dir}")
    console.info(report.summary())
    return report.exit_code
