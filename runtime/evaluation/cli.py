"""`sr-eval`: measure a model against bicubic on HR images, with the papers' conventions."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from uprez.runtime.evaluation.page import CROP, DEFAULT_MAX_IMAGES, FULL_SIZE, MAX_CROPS
from uprez.runtime.options import DEVICE_HELP, PRECISION_HELP, PRECISIONS, DeviceType, TileType

_DIR = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "-m", "models", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX model file to evaluate, or a shipped model's name (sr-run "
                   "--list-models). Repeatable: several models are scored side by side on the "
                   "same LR images. Default: the model shipped for --scale.")
@click.option("--data", "-d", "data_dir", type=_DIR,
              help="Folder of HR images; each LR image is made from its HR image with MATLAB "
                   "bicubic downscaling. Video frames from sr-run --frames-dir DIR are in "
                   "DIR/<video name>/.")
@click.option("--hr", "hr_dir", type=_DIR, help="Folder of HR images of pre-made pairs "
              "(with --lr).")
@click.option("--lr", "lr_dir", type=_DIR,
              help="Folder of pre-made LR images, named like their HR image (also NAMEx4 / "
                   "NAME_x4 as in DIV2K).")
@click.option("--scale", "-s", type=click.IntRange(min=2), default=4, show_default=True,
              help="Upscaling factor; must be the model's. Also the border cropped before "
                   "scoring.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the model's SR images here as PNG (a subfolder per model when "
                   "there are several).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Print the results as a Markdown table on stdout.")
@click.option("--device", type=DeviceType(), default="auto", show_default=True,
              help=DEVICE_HELP + " (as sr-run)")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help=PRECISION_HELP + " Compare two runs to see what reduced precision costs "
                   "in dB.")
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
@click.option("--html", "html_dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR",
              help="Also write a comparison page, DIR/index.html with the image files it "
                   "shows: a before/after slider between LR, bicubic, each model and HR, "
                   "pixel-exact zoom, the scores sortable. It needs no server or network: "
                   "open it from disk, or zip the folder and send it. HR images over "
                   f"{FULL_SIZE} px are shown as up to {MAX_CROPS} crops of {CROP} px where "
                   "the results differ most.")
@click.option("--html-images", type=click.IntRange(min=1), default=DEFAULT_MAX_IMAGES,
              show_default=True, metavar="N",
              help="Pictures on the page for at most N images, spread evenly over them (for "
                   "a video's frames: over the clip). The scores table lists every image.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info messages.")
def main(models: tuple[Path, ...], data_dir: Path | None, hr_dir: Path | None,
         lr_dir: Path | None, scale: int, save_dir: Path | None, as_json: bool,
         as_markdown: bool, device: str, precision: str, tile: int | str,
         degrade_specs: tuple[str, ...],
         seed: int, html_dir: Path | None, html_images: int, quiet: bool) -> None:
    """Score super-resolution models with PSNR and SSIM, beside bicubic upscaling.

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
      sr-eval --data val/ -m uprez-compact-x4 -m mine.onnx --degrade jpeg=75 --html cmp/

    --degrade applies: blur=SIGMA (Gaussian, LR pixels), noise=SIGMA (Gaussian colour noise
    in grey levels of 255), graynoise=SIGMA (the same noise in every channel), jpeg=QUALITY
    (libjpeg, 1..100, 4:2:0), in the order written.

    --html DIR shows, per image, any two of LR (nearest-upscaled), bicubic, each model and HR
    under a split line or side by side, zoomed without smoothing and panned together, with
    the crop where the two differ most first. Keys: left/right images, S swaps sides.
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
    if html_dir is not None:
        from uprez.runtime.evaluation.page.writer import PageError, check_folder

        try:
            check_folder(html_dir, inputs)
        except PageError as exc:
            raise click.BadParameter(str(exc), param_hint="--html") from None

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
        raise click.UsageError(f"no images in {source} (looked for {suffixes})"
                               f"{_subfolder_hint(source)}")

    model_paths = list(models) or [_default_model(scale)]
    _check_distinct(model_paths)
    upscalers = [_load_upscaler(path, scale=scale, device=device, precision=precision,
                                tile=tile) for path in model_paths]
    page = None
    if html_dir is not None:
        page = _comparison_page(html_dir, items, model_paths, degradations, scale=scale,
                                source=source, limit=html_images)
    sys.exit(_evaluate_and_print(items, upscalers, model_paths, scale, save_dir, report,
                                 degradations, seed, as_json=as_json, as_markdown=as_markdown,
                                 page=page))


def _default_model(scale: int) -> Path:
    """The default's name for an auto choice, else the shipped file's path."""
    from uprez.runtime.base.report import UsageProblem
    from uprez.runtime.models import (
        DEFAULT_MODELS,
        DefaultModelMissing,
        auto_model,
        default_model_path,
    )

    try:
        path = default_model_path(scale)
    except DefaultModelMissing as exc:
        raise UsageProblem(str(exc)) from None
    return Path(DEFAULT_MODELS[scale]) if auto_model(DEFAULT_MODELS[scale]) else path


def _subfolder_hint(folder: Path) -> str:
    """sr-run --frames-dir writes a folder per video: point at them."""
    from uprez.runtime.base.imageio import list_images

    try:
        with_images = sorted(sub.name for sub in folder.iterdir()
                             if sub.is_dir() and not sub.name.startswith(".")
                             and list_images(sub))
    except OSError:
        return ""
    if not with_images:
        return ""
    shown = ", ".join(f"{name}/" for name in with_images[:3])
    return (f"; its subfolders {shown} hold images: give one of them, e.g. --data "
            f"{folder / with_images[0]}")


def _check_distinct(model_paths: list[Path]) -> None:
    from uprez.runtime.models import resolve_model

    seen: dict[Path, Path] = {}
    for path in model_paths:
        resolved = resolve_model(path).resolve()
        if resolved in seen:
            raise click.BadParameter(f"{path} is given twice (as {seen[resolved]} before)",
                                     param_hint="--model")
        seen[resolved] = path


def _comparison_page(folder: Path, items, model_paths: list[Path], degradations, *,
                     scale: int, source: Path, limit: int):
    from uprez.runtime.evaluation.compare import model_labels
    from uprez.runtime.evaluation.page.writer import ComparisonPage, pictured

    labels = model_labels(model_paths)
    name = source.resolve().name or str(source)
    return ComparisonPage(folder, scale=scale, models=labels,
                          conditions=[degradation.name for degradation in degradations],
                          pictured=pictured([item.name for item in items], limit),
                          title=f"sr-eval x{scale}: {', '.join(labels)} on {name}")


def _load_upscaler(model_path: Path, *, scale: int, device: str, precision: str,
                   tile: int | str):
    from uprez.runtime.auto import open_upscaler
    from uprez.runtime.backends import DeviceError, ModelError
    from uprez.runtime.base import console
    from uprez.runtime.base.report import UsageProblem

    try:
        upscaler = open_upscaler(str(model_path), scale=scale, device=device,
                                 precision=precision, tile=tile)
    except click.ClickException:
        raise
    except (DeviceError, ModelError) as exc:  # exit 2, as in sr-run
        raise UsageProblem(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any load failure is one line for the user
        raise UsageProblem(f"cannot use the model {model_path}: {exc}") from None
    if upscaler.notice:
        console.warn(upscaler.notice)
    return upscaler


def _evaluate_and_print(items, upscalers, model_paths: list[Path], scale: int,
                        save_dir: Path | None, report, degradations, seed: int, *,
                        as_json: bool, as_markdown: bool, page=None) -> int:
    import contextlib

    from uprez.runtime.base import console, interrupts
    from uprez.runtime.base.imageio import read_image
    from uprez.runtime.base.report import EXIT_INTERRUPTED, EXIT_SOME_FAILED, UsageProblem
    from uprez.runtime.evaluation.batch import evaluate_models
    from uprez.runtime.evaluation.compare import model_labels
    from uprez.runtime.evaluation.protocol import ModelOutputError
    from uprez.runtime.evaluation.report import EvalReport

    labels = model_labels(model_paths)
    several_models = len(model_paths) > 1
    save_dirs = [save_dir / label if save_dir is not None and several_models else save_dir
                 for label in labels]
    index = None
    try:
        with interrupts.recorded(), (page or contextlib.nullcontext()):
            results, report = evaluate_models(
                items, [upscaler.upscale for upscaler in upscalers], read_image, scale=scale,
                degradations=degradations, seed=seed, save_dirs=save_dirs, report=report,
                on_image=page.add if page is not None else None)
            interrupts.check()
            reports = [[EvalReport(model=str(path), scale=scale, images=tuple(scores),
                                   failed=tuple(report.failed), degradation=degradation.name,
                                   device=upscaler.label())
                        for degradation, scores in zip(degradations, per_model, strict=True)]
                       for path, upscaler, per_model in zip(model_paths, upscalers, results,
                                                            strict=True)]
            if page is not None:
                index = page.finish(reports, report.failed)
    except ModelOutputError as exc:  # a model error, as in sr-run: exit 2
        raise UsageProblem(f"{model_paths[exc.model_index]}: {exc}") from None
    except KeyboardInterrupt:
        kept = f"; {page.folder} keeps its earlier page" if page is not None else ""
        console.error(f"interrupted after {len(report.done)} of {len(items)} images{kept}")
        return EXIT_INTERRUPTED
    if several_models:
        _print_models(reports, labels, seed, as_json=as_json, as_markdown=as_markdown)
    else:
        _print_one_model(reports[0], seed, as_json=as_json, as_markdown=as_markdown)
    if save_dir is not None and report.done:
        console.info(f"SR images written to {save_dir}")
    if index is not None:
        size = _megabytes([index, *page.files.rglob("*")])
        console.info(f"comparison page: {index} ({size:.1f} MB with its images)")
    console.info(report.summary())
    page_failed = page is not None and index is None
    return EXIT_SOME_FAILED if page_failed else report.exit_code


def _print_one_model(reports, seed: int, *, as_json: bool, as_markdown: bool) -> None:
    """One model: the formats sr-eval has always printed."""
    from uprez.runtime.base import console
    from uprez.runtime.evaluation.report import (
        conditions_to_json,
        format_markdown,
        format_summary,
        format_summary_markdown,
        format_text,
        to_json,
    )

    several = len(reports) > 1
    if as_json:
        console.result(conditions_to_json(reports, seed) if several else to_json(reports[0]))
    elif as_markdown:
        tables = [format_markdown(r) for r in reports]
        console.result("\n\n".join(tables + ([format_summary_markdown(reports)] if several
                                              else [])))
    elif reports[0].images:
        tables = [format_text(r) for r in reports]
        console.result("\n\n".join(tables + ([format_summary(reports)] if several else [])))


def _print_models(reports, labels: list[str], seed: int, *, as_json: bool,
                  as_markdown: bool) -> None:
    from uprez.runtime.base import console
    from uprez.runtime.evaluation.compare import format_markdown, format_text, to_json

    if as_json:
        console.result(to_json(reports, labels, seed))
    elif as_markdown:
        console.result(format_markdown(reports, labels))
    elif reports[0][0].images:
        console.result(format_text(reports, labels))


def _megabytes(paths) -> float:
    return sum(path.stat().st_size for path in paths if path.is_file()) / 1e6
