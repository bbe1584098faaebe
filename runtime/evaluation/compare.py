"""`sr-eval` results of several models side by side: a text table, Markdown or JSON.

One model keeps the formats of `eval_report` (unchanged). With several, each LR condition gets
one table whose rows are the images and whose column groups are bicubic and each model (Y-PSNR,
Y-SSIM, RGB-PSNR, and the model's Y-PSNR gain over bicubic); several conditions add a summary
of the means. Models are named by their file's stem (a shipped model by its name), or by the
path as given where two stems are alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from uprez.runtime.evaluation.protocol import Scores
from uprez.runtime.evaluation.report import PROTOCOL, EvalReport, scores_to_dict

Grid = Sequence[Sequence[EvalReport]]  # reports[model][condition]


def model_labels(models: Sequence[str | Path]) -> list[str]:
    """Short unique names: the file stems, or the paths as given where stems collide."""
    stems = [Path(model).name.removesuffix(".onnx") for model in models]
    return [stem if stems.count(stem) == 1 else str(model)
            for stem, model in zip(stems, models, strict=True)]


def _cells(scores: Scores) -> list[str]:
    return [f"{scores.psnr_y:.2f}", f"{scores.ssim_y:.4f}", f"{scores.psnr_rgb:.2f}"]


def _gain(model: Scores, bicubic: Scores) -> str:
    return f"{model.psnr_y - bicubic.psnr_y:+.2f}"


_METRICS = ["Y-PSNR", "Y-SSIM", "RGB-PSNR"]


def _condition_rows(reports: Grid, condition: int) -> tuple[list[list[str]], list[str] | None]:
    """(one row per image, the mean row) of one condition; cells as in the header."""
    per_model = [model_reports[condition] for model_reports in reports]
    first = per_model[0]
    rows = []
    for index, image in enumerate(first.images):
        row = [image.name, f"{image.width}x{image.height}", *_cells(image.bicubic)]
        for report in per_model:
            scores = report.images[index]
            row += [*_cells(scores.model), _gain(scores.model, scores.bicubic)]
        rows.append(row)
    if not first.images:
        return rows, None
    mean = [f"mean ({len(first.images)})", "", *_cells(first.mean_bicubic)]
    for report in per_model:
        mean += [*_cells(report.mean_model), _gain(report.mean_model, report.mean_bicubic)]
    return rows, mean


def _groups(labels: Sequence[str]) -> list[tuple[str, list[str]]]:
    return ([("", ["image", "size"]), ("bicubic", list(_METRICS))]
            + [(label, [*_METRICS, "gain"]) for label in labels])


def _text_table(groups: list[tuple[str, list[str]]], rows: list[list[str]],
                footer: list[list[str]]) -> list[str]:
    header = [column for _, columns in groups for column in columns]
    widths = [max(len(row[i]) for row in [header, *rows, *footer]) for i in range(len(header))]
    bounds, start = [], 0
    for _, columns in groups:
        bounds.append((start, start + len(columns)))
        start += len(columns)

    def line(cells: Sequence[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return " | ".join("  ".join(padded[a:b]) for a, b in bounds).rstrip()

    parts = line(header).split(" | ")
    titles = " | ".join(title.center(len(part)) for (title, _), part in zip(groups, parts,
                                                                          strict=True))
    rule = "-" * len(line(header))
    lines = [titles.rstrip(), line(header), rule, *(line(row) for row in rows)]
    if footer:
        lines += [rule, *(line(row) for row in footer)]
    return lines


def _models_line(reports: Grid, labels: Sequence[str]) -> str:
    return "models: " + ", ".join(f"{label} = {model_reports[0].model}"
                                  for label, model_reports in zip(labels, reports, strict=True))


def format_text(reports: Grid, labels: Sequence[str]) -> str:
    """One table per condition, then the means per condition when there are several."""
    first = reports[0]
    blocks = [_models_line(reports, labels)]
    for condition, report in enumerate(first):
        rows, mean = _condition_rows(reports, condition)
        if not rows:
            continue
        degraded = f", LR degraded: {report.degradation}" if report.degradation != "none" else ""
        blocks.append("\n".join([f"x{report.scale}{degraded}",
                                 *_text_table(_groups(labels), rows, [mean] if mean else [])]))
    if len(first) > 1:
        blocks.append(format_summary(reports, labels))
    return "\n\n".join(blocks)


def _summary_groups(labels: Sequence[str]) -> list[tuple[str, list[str]]]:
    return ([("", ["LR"]), ("bicubic", ["Y-PSNR", "Y-SSIM"])]
            + [(label, ["Y-PSNR", "Y-SSIM", "gain"]) for label in labels])


def _summary_rows(reports: Grid) -> list[list[str]]:
    rows = []
    for condition, report in enumerate(reports[0]):
        if not report.images:
            continue
        bicubic = report.mean_bicubic
        row = [report.degradation, f"{bicubic.psnr_y:.2f}", f"{bicubic.ssim_y:.4f}"]
        for model_reports in reports:
            model = model_reports[condition].mean_model
            row += [f"{model.psnr_y:.2f}", f"{model.ssim_y:.4f}", _gain(model, bicubic)]
        rows.append(row)
    return rows


def format_summary(reports: Grid, labels: Sequence[str]) -> str:
    """The mean scores of bicubic and every model, one line per LR condition."""
    count = len(reports[0][0].images)
    return "\n".join([f"x{reports[0][0].scale}: mean of {count} images",
                      *_text_table(_summary_groups(labels), _summary_rows(reports), [])])


def _markdown_table(groups: list[tuple[str, list[str]]], rows: list[list[str]]) -> list[str]:
    header = [f"{title} {column}".strip() for title, columns in groups for column in columns]
    aligns = ["---" if i < len(groups[0][1]) else "---:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


def format_markdown(reports: Grid, labels: Sequence[str]) -> str:
    first = reports[0]
    models = ", ".join(f"`{label}` = `{model_reports[0].model}`"
                       for label, model_reports in zip(labels, reports, strict=True))
    blocks = [f"**x{first[0].scale}**, models {models}. Protocol: {PROTOCOL}."]
    for condition, report in enumerate(first):
        rows, mean = _condition_rows(reports, condition)
        if not rows:
            continue
        if mean:
            rows.append([f"**{mean[0]}**", *mean[1:]])
        blocks.append("\n".join([f"LR degraded: `{report.degradation}`", "",
                                 *_markdown_table(_groups(labels), rows)]))
    if len(first) > 1:
        blocks.append("\n".join([f"Mean of {len(first[0].images)} images per LR condition:", "",
                                 *_markdown_table(_summary_groups(labels),
                                                  _summary_rows(reports))]))
    return "\n\n".join(blocks)


def to_json(reports: Grid, labels: Sequence[str], seed: int) -> str:
    """{"scale", "seed", "protocol", "models": [{"name", "path"}], "conditions": [{
    "degradation", "images": [{"name", "width", "height", "bicubic": scores, "models":
    {name: scores}}], "mean": {"bicubic", "models"} or null}], "failed": [{"path", "reason"}]}.
    Scores are {"psnr_y", "ssim_y", "psnr_rgb"}; an infinite PSNR is null."""
    first = reports[0]
    conditions = []
    for condition, report in enumerate(first):
        per_model = [model_reports[condition] for model_reports in reports]
        images = [{"name": image.name, "width": image.width, "height": image.height,
                   "bicubic": scores_to_dict(image.bicubic),
                   "models": {label: scores_to_dict(model_report.images[index].model)
                              for label, model_report in zip(labels, per_model, strict=True)}}
                  for index, image in enumerate(report.images)]
        mean = None
        if report.images:
            mean = {"bicubic": scores_to_dict(report.mean_bicubic),
                    "models": {label: scores_to_dict(model_report.mean_model)
                               for label, model_report in zip(labels, per_model, strict=True)}}
        conditions.append({"degradation": report.degradation, "images": images, "mean": mean})
    data = {"scale": first[0].scale, "seed": seed, "protocol": PROTOCOL,
            "models": [{"name": label, "path": model_reports[0].model}
                       for label, model_reports in zip(labels, reports, strict=True)],
            "conditions": conditions,
            "failed": [{"path": path, "reason": reason} for path, reason in first[0].failed]}
    return json.dumps(data, indent=2)
