"""Folders of images for `sr-eval`: which files, how LR and HR pair up, and the scoring loop.

An image that cannot be read, paired or scored is reported with its path and the reason; the
others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uprez.runtime.base import console
from uprez.runtime.base.imageio import list_images, write_image
from uprez.runtime.base.report import BatchReport
from uprez.runtime.degradations import Degradation, image_rng
from uprez.runtime.evaluation.protocol import (
    EvaluatedImage,
    ImageScores,
    ModelOutputError,
    UpscaleFn,
    evaluate_image_models,
)

ReadFn = Callable[[Path], np.ndarray]


@dataclass(frozen=True)
class EvalItem:
    """One HR image to score, with its pre-made LR image when there is one."""

    name: str
    hr_path: Path
    lr_path: Path | None = None


def items_from_hr_folder(folder: Path) -> list[EvalItem]:
    return [EvalItem(name=path.name, hr_path=path) for path in list_images(folder)]


def lr_stems(hr_stem: str, scale: int) -> tuple[str, ...]:
    """LR names that pair with an HR image: same stem, or DIV2K's `0801x4` and `0801_x4`."""
    return (hr_stem, f"{hr_stem}x{scale}", f"{hr_stem}_x{scale}")


def items_from_pairs(hr_folder: Path, lr_folder: Path,
                     scale: int) -> tuple[list[EvalItem], list[tuple[str, str]]]:
    """Pair each HR image with its LR image; HR images without one come back as failures."""
    lr_by_stem: dict[str, Path] = {}
    for path in list_images(lr_folder):
        lr_by_stem.setdefault(path.stem, path)
    items, unpaired = [], []
    for hr_path in list_images(hr_folder):
        stems = lr_stems(hr_path.stem, scale)
        match = next((lr_by_stem[stem] for stem in stems if stem in lr_by_stem), None)
        if match is None:
            wanted = ", ".join(f"{stem}.*" for stem in stems)
            unpaired.append((str(hr_path), f"no LR image in {lr_folder} named {wanted}"))
        else:
            items.append(EvalItem(name=hr_path.name, hr_path=hr_path, lr_path=match))
    return items, unpaired


def evaluate_items(items: Sequence[EvalItem], upscale: UpscaleFn, read_image: ReadFn, *,
                   scale: int, save_dir: Path | None = None,
                   report: BatchReport | None = None) -> tuple[list[ImageScores], BatchReport]:
    """Score every item on its clean LR image; see `evaluate_conditions`."""
    results, report = evaluate_conditions(items, upscale, read_image, scale=scale,
                                          save_dir=save_dir, report=report)
    return results[0], report


def evaluate_conditions(items: Sequence[EvalItem], upscale: UpscaleFn, read_image: ReadFn, *,
                        scale: int, degradations: Sequence[Degradation] = (Degradation(),),
                        seed: int = 0, save_dir: Path | None = None,
                        report: BatchReport | None = None,
                        ) -> tuple[list[list[ImageScores]], BatchReport]:
    """Score every item under each degradation of its LR image (one list of scores per
    degradation, in order); failures go to `report` (path, reason) and the loop goes on.

    Each image is read once. Noise is seeded by `seed` and the image's name. With more than
    one degradation, `save_dir` gets a subfolder per degradation.
    A ModelOutputError (the model does not fit the options) is raised: it would fail every image.
    """
    results, report = evaluate_models(items, [upscale], read_image, scale=scale,
                                      degradations=degradations, seed=seed,
                                      save_dirs=[save_dir], report=report)
    return results[0], report


OnImage = Callable[[EvalItem, Sequence[EvaluatedImage]], None]


def evaluate_models(items: Sequence[EvalItem], upscales: Sequence[UpscaleFn],
                    read_image: ReadFn, *, scale: int,
                    degradations: Sequence[Degradation] = (Degradation(),), seed: int = 0,
                    save_dirs: Sequence[Path | None] | None = None,
                    report: BatchReport | None = None, on_image: OnImage | None = None,
                    ) -> tuple[list[list[list[ImageScores]]], BatchReport]:
    """`evaluate_conditions` for several models on the same inputs: results[model][condition].

    `save_dirs` has one folder (or None) per model. `on_image(item, evaluated)` sees the images
    of each scored item, one EvaluatedImage per degradation (the comparison page uses them);
    what it raises fails that item like a read error would.
    """
    report = report if report is not None else BatchReport()
    save_dirs = list(save_dirs) if save_dirs is not None else [None] * len(upscales)
    results: list[list[list[ImageScores]]] = [[[] for _ in degradations] for _ in upscales]
    several = len(degradations) > 1
    for item in console.progress(items, desc=f"sr-eval x{scale}", unit="img"):
        current = item.hr_path
        try:
            hr = read_image(item.hr_path)
            lr = None
            if item.lr_path is not None:
                current = item.lr_path
                lr = read_image(item.lr_path)
                current = item.hr_path
            evaluated = []
            for degradation in degradations:
                rng = image_rng(seed, item.name)
                result = evaluate_image_models(
                    item.name, hr, upscales, scale=scale, lr=lr,
                    degrade=lambda image, d=degradation, r=rng: d.apply(image, r))
                for save_dir, sr in zip(save_dirs, result.srs, strict=True):
                    if save_dir is not None:
                        folder = save_dir / degradation.name if several else save_dir
                        write_image(folder / f"{Path(item.name).stem}.png", sr)
                evaluated.append(result)
            if on_image is not None:
                on_image(item, evaluated)
        except ModelOutputError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
            reason = str(exc) or type(exc).__name__
            console.error(f"{current}: {reason}")
            report.add_failed(str(current), reason)
            continue
        for model_index, per_model in enumerate(results):
            for per_condition, result in zip(per_model, evaluated, strict=True):
                per_condition.append(result.scores[model_index])
        report.add_done(str(item.hr_path))
    return results, report
