"""`sr-eval --html DIR`: write DIR/index.html and the image files it shows.

The page is one HTML file with its script, style and data inline (no server, no network: it
works from file:// and zipped), beside a folder `page-<random>/` of PNG crops, one per view,
region and LR condition (LR crops at LR size: the page enlarges them without smoothing, which is
the nearest-neighbour upscale). Every file is written atomically; index.html is replaced last,
and only then are the folders of earlier pages removed, so DIR always holds a whole page: the
new one, or after a failure or Ctrl-C, the old one. A page records itself with
`<meta name="generator" content="uprez sr-eval">`; an index.html without it is never replaced.
"""

from __future__ import annotations

import html
import json
import math
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from uprez.runtime.base import atomic, console
from uprez.runtime.base.imageio import ImageWriteError, write_bytes_atomic
from uprez.runtime.evaluation.page import CROP, FULL_SIZE, MAX_CROPS
from uprez.runtime.evaluation.page.regions import (
    Differences,
    Region,
    choose_regions,
    crop_size,
    nearest_upscale,
    pair_priority,
    pair_stats,
    to_display,
)
from uprez.runtime.evaluation.protocol import EvaluatedImage, Scores
from uprez.runtime.evaluation.report import PROTOCOL

GENERATOR = "uprez sr-eval"
FILES_PREFIX = "page-"
FOLDER_MARKER = ".uprez-page"  # in every files folder this module made (and may remove)
OVERVIEW = 480  # longest side of the overview of a cropped image
PNG_COMPRESSION = 6  # 9 is 3x slower for 1% less (val crops); lossless WebP: -30%, 4x slower


class PageError(Exception):
    """The page cannot go to this folder (a usage error, found before any work)."""


def check_folder(folder: Path, inputs: Sequence[Path]) -> None:
    """Raise PageError if `folder` cannot take a page: a file, an input folder, or a folder
    with an index.html that sr-eval did not write."""
    if folder.exists() and not folder.is_dir():
        raise PageError(f"{folder} is a file, not a folder")
    if any(folder.resolve() == path.resolve() for path in inputs):
        raise PageError(f"{folder} is an input folder; choose another folder for the page")
    index = folder / "index.html"
    if index.exists() and not written_by_sr_eval(index):
        raise PageError(f"{index} exists and was not written by sr-eval; choose another folder "
                        "(or remove it)")


def written_by_sr_eval(index: Path) -> bool:
    try:
        head = index.read_bytes()[:4096].decode("utf-8", errors="replace")
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">' in head


def pictured(names: Sequence[str], limit: int) -> set[str]:
    """The images that get pictures: all, or `limit` spread evenly over the list in its order
    (over a video's frames, over the whole clip)."""
    if len(names) <= limit:
        return set(names)
    if limit == 1:
        return {names[0]}
    step = (len(names) - 1) / (limit - 1)
    return {names[round(i * step)] for i in range(limit)}


def view_ids(models: int) -> list[str]:
    """Views in page order: 0 LR, 1 bicubic, the models, HR (regions.pair_priority's indices)."""
    return ["lr", "bicubic", *(f"m{j}" for j in range(models)), "hr"]


class ComparisonPage:
    """Collects the pictures of each image while sr-eval scores them, then writes the page.

    Use as a context manager: leaving it without `finish` (an error, Ctrl-C) removes the files
    written so far, and the folder keeps its earlier page. A failed write (a full disk) is
    reported once, stops the pictures, and leaves the earlier page too; scoring goes on.
    """

    def __init__(self, folder: Path, *, scale: int, models: Sequence[str],
                 conditions: Sequence[str], pictured: set[str], title: str):
        self.folder = Path(folder)
        self.scale = scale
        self.models = list(models)
        self.conditions = list(conditions)
        self.pictured = set(pictured)
        self.title = title
        self.files = self.folder / f"{FILES_PREFIX}{secrets.token_hex(4)}"
        self.error: str | None = None
        self._pictures: dict[str, dict] = {}
        self._folders = 0
        self._finished = False

    def __enter__(self) -> ComparisonPage:
        try:
            self.files.mkdir(parents=True)
            (self.files / FOLDER_MARKER).write_bytes(b"")
        except OSError as exc:
            self._fail(self.files, exc)
        return self

    def __exit__(self, *exc_info) -> None:
        if not self._finished:
            shutil.rmtree(self.files, ignore_errors=True)

    def _fail(self, path: Path | str, exc: BaseException) -> None:
        reason = exc.reason if isinstance(exc, ImageWriteError) else (
            getattr(exc, "strerror", None) or str(exc))
        where = exc.path if isinstance(exc, ImageWriteError) else path
        self.error = f"{where}: {reason}"
        console.error(f"{self.error}; the comparison page in {self.folder} is left as it was")
        shutil.rmtree(self.files, ignore_errors=True)

    def add(self, item, evaluated: Sequence[EvaluatedImage]) -> None:
        """The pictures of one image (one EvaluatedImage per condition); an OnImage hook."""
        if self.error is not None or item.name not in self.pictured:
            return
        self._folders += 1  # a new name even after an image that failed halfway
        folder = self.files / f"{self._folders:04d}"
        try:
            self._pictures[item.name] = self._write_pictures(folder, evaluated)
        except (OSError, ImageWriteError) as exc:
            self._fail(folder, exc)

    def _write_pictures(self, folder: Path, evaluated: Sequence[EvaluatedImage]) -> dict:
        scale, ids = self.scale, view_ids(len(self.models))
        hr = to_display(evaluated[0].hr)
        lrs = [to_display(result.lr) for result in evaluated]
        # each condition's views at HR size, in view_ids order (LR nearest-upscaled)
        views = [[nearest_upscale(lr, scale), to_display(result.bicubic),
                  *(to_display(sr) for sr in result.srs), hr]
                 for lr, result in zip(lrs, evaluated, strict=True)]
        height, width = hr.shape[:2]
        pairs = pair_priority(len(self.models))

        def differences() -> Iterator[Differences]:
            for a, b in pairs:
                for per_condition in views:
                    yield Differences(per_condition[a], per_condition[b], scale)

        regions = choose_regions(height, width, scale, differences())
        stats = [{f"{a}-{b}": pair_stats(Differences(per_condition[a], per_condition[b], scale),
                                         regions, scale)
                  for a, b in sorted(pairs)} for per_condition in views]
        folder.mkdir()
        region_data = []
        for r, region in enumerate(regions):
            src: dict[str, str | list[str]] = {"hr": self._write(folder / f"r{r}-hr.png",
                                                                  _crop(hr, region))}
            lr_region = Region(region.x // scale, region.y // scale, region.width // scale,
                               region.height // scale)
            for index, view in enumerate(ids[:-1]):
                src[view] = [
                    self._write(folder / f"r{r}-c{c}-{view}.png",
                                _crop(lrs[c], lr_region) if view == "lr"
                                else _crop(views[c][index], region))
                    for c in range(len(views))]
            region_data.append({"rect": region.as_list(), "src": src})
        overview = None
        if crop_size(height, width, scale) is not None:
            overview = self._write(folder / "overview.webp", _overview(hr), quality=80)
        return {
            "regions": region_data,
            "overview": overview,
            "diff": [{pair: list(s.means) for pair, s in per.items()} for per in stats],
            "focus": [{pair: [list(f) for f in s.focus] for pair, s in per.items()}
                      for per in stats],
        }

    def _write(self, path: Path, image: np.ndarray, *, quality: int | None = None) -> str:
        import cv2

        if quality is None:
            params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
        else:
            params = [cv2.IMWRITE_WEBP_QUALITY, quality]
        ok, encoded = cv2.imencode(path.suffix, np.ascontiguousarray(image), params)
        if not ok:
            raise ImageWriteError(path, f"cannot encode as {path.suffix}")
        write_bytes_atomic(path, encoded.tobytes())
        return path.relative_to(self.folder).as_posix()

    def finish(self, reports, failed: Sequence[tuple[str, str]]) -> Path | None:
        """Write index.html from the scores (`reports[model][condition]`, EvalReports) and the
        pictures; then remove earlier pages' files. None if the page could not be written."""
        if self.error is not None:
            return None
        index = self.folder / "index.html"
        try:
            atomic.write_bytes(index, self.render(reports, failed).encode("utf-8"))
        except OSError as exc:
            self._fail(index, exc)
            return None
        self._finished = True
        for old in self.folder.glob(f"{FILES_PREFIX}*"):
            if old != self.files and (old / FOLDER_MARKER).is_file():
                shutil.rmtree(old, ignore_errors=True)
        return index

    def data(self, reports, failed: Sequence[tuple[str, str]]) -> dict:
        """Everything the page shows, as JSON-ready data."""
        ids = view_ids(len(self.models))
        labels = [f"LR ×{self.scale} nearest", "bicubic", *self.models, "HR"]
        images = []
        for index, image in enumerate(reports[0][0].images):
            scores = []
            for condition in range(len(self.conditions)):
                scored = {"bicubic": _score_list(reports[0][condition].images[index].bicubic)}
                for j, model_reports in enumerate(reports):
                    scored[f"m{j}"] = _score_list(model_reports[condition].images[index].model)
                scores.append(scored)
            images.append({"name": image.name, "width": image.width, "height": image.height,
                           "scores": scores, "pictures": self._pictures.get(image.name)})
        means = []
        for condition, report in enumerate(reports[0]):
            if not report.images:
                means.append(None)
                continue
            mean = {"bicubic": _score_list(report.mean_bicubic)}
            for j, model_reports in enumerate(reports):
                mean[f"m{j}"] = _score_list(model_reports[condition].mean_model)
            means.append(mean)
        return {
            "title": self.title, "scale": self.scale, "protocol": PROTOCOL,
            "views": [{"id": i, "label": label} for i, label in zip(ids, labels, strict=True)],
            "conditions": self.conditions, "images": images, "means": means,
            "failed": [list(entry) for entry in failed],
            "limits": {"fullSize": FULL_SIZE, "crop": CROP, "maxCrops": MAX_CROPS,
                       "pictured": len(self._pictures)},
        }

    def render(self, reports, failed: Sequence[tuple[str, str]]) -> str:
        assets = resources.files("uprez.runtime.evaluation.page")
        template = assets.joinpath("page.html").read_text(encoding="utf-8")
        data = json.dumps(self.data(reports, failed), separators=(",", ":"), allow_nan=False)
        # inside <script>, "</script" or "<!--" would change how HTML reads the element; "<"
        # only occurs inside JSON strings, where "\u003c" is the same character
        data = data.replace("<", "\\u003c")
        parts = {
            "__TITLE__": html.escape(self.title),
            "__FILES__": html.escape(self.files.name),
            "/*__CSS__*/": assets.joinpath("page.css").read_text(encoding="utf-8"),
            "/*__JS__*/": assets.joinpath("page.js").read_text(encoding="utf-8"),
            "__DATA__": data,
        }
        # one pass, so that nothing inserted is read as a placeholder
        pattern = "|".join(re.escape(key) for key in parts)
        return re.sub(pattern, lambda match: parts[match.group(0)], template)


def _crop(image: np.ndarray, region: Region) -> np.ndarray:
    return image[region.y:region.y + region.height, region.x:region.x + region.width]


def _overview(image: np.ndarray) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    factor = OVERVIEW / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _score_list(scores: Scores) -> list[float | None]:
    """[Y-PSNR, Y-SSIM, RGB-PSNR]; an infinite PSNR (identical images) is null."""
    return [_finite(scores.psnr_y), round(scores.ssim_y, 6), _finite(scores.psnr_rgb)]


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None
