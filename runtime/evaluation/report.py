"""`sr-eval` results as a text table, a Markdown table or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from uprez.runtime.evaluation.protocol import ImageScores, Scores, finite_or_none

PROTOCOL = ("MATLAB bicubic (antialiased) LR from mod-cropped HR; Y = BT.601 as MATLAB rgb2ycbcr; "
            "border = scale; SSIM 11x11 Gaussian (sigma 1.5), K1 0.01, K2 0.03; peak 255")


@dataclass(frozen=True)
class EvalReport:
    model: str
    scale: int
    images: tuple[ImageScores, ...]
    failed: tuple[tuple[str, str], ...] = ()
    degradation: str = "none"  # what was done to each LR image (sr-eval --degrade)
    device: str = ""  # what ran the model and in which precision, e.g. "OpenVINO CPU bf16"

    @property
    def mean_model(self) -> Scores:
        return Scores.mean([image.model for image in self.images])

    @property
    def mean_bicubic(self) -> Scores:
        return Scores.mean([image.bicubic for image in self.images])


def _cells(scores: Scores) -> list[str]:
    return [f"{scores.psnr_y:.2f}", f"{scores.ssim_y:.4f}", f"{scores.psnr_rgb:.2f}"]


def _gain(model: Scores, bicubic: Scores) -> str:
    return f"{model.psnr_y - bicubic.psnr_y:+.2f}"


def _rows(report: EvalReport) -> list[list[str]]:
    rows = [[image.name, f"{image.width}x{image.height}", *_cells(image.model),
             *_cells(image.bicubic), _gain(image.model, image.bicubic)]
            for image in report.images]
    if report.images:
        rows.append([f"mean ({len(report.images)})", "", *_cells(report.mean_model),
                     *_cells(report.mean_bicubic), _gain(report.mean_model, report.mean_bicubic)])
    return rows


_HEADER = ["image", "size", "Y-PSNR", "Y-SSIM", "RGB-PSNR", "Y-PSNR", "Y-SSIM", "RGB-PSNR",
           "gain"]


_GROUPS = ((0, 2), (2, 5), (5, 8), (8, 9))  # name+size | model | bicubic | gain


def format_text(report: EvalReport) -> str:
    rows = _rows(report)
    widths = [max(len(row[i]) for row in [_HEADER, *rows]) for i in range(len(_HEADER))]

    def groups(cells: Sequence[str]) -> list[str]:
        padded = [cells[0].ljust(widths[0])]
        padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return ["  ".join(padded[start:stop]) for start, stop in _GROUPS]

    header = groups(_HEADER)
    titles = ["", "model", "bicubic", ""]
    rule = "-" * len(" | ".join(header))
    condition = f", LR degraded: {report.degradation}" if report.degradation != "none" else ""
    on = f" on {report.device}" if report.device else ""
    lines = [f"x{report.scale}, model: {report.model}{on}{condition}",
             " | ".join(title.center(len(cell)) for title, cell in zip(titles, header,
                                                                       strict=True)),
             " | ".join(header), rule]
    lines += [" | ".join(groups(row)) for row in rows[:len(report.images)]]
    if report.images:
        lines += [rule, " | ".join(groups(rows[-1]))]
    return "\n".join(line.rstrip() for line in lines)


def format_markdown(report: EvalReport) -> str:
    header = ["image", "size", "model Y-PSNR", "model Y-SSIM", "model RGB-PSNR",
              "bicubic Y-PSNR", "bicubic Y-SSIM", "bicubic RGB-PSNR", "Y-PSNR gain"]
    condition = f", LR degraded: `{report.degradation}`" if report.degradation != "none" else ""
    on = f" on {report.device}" if report.device else ""
    lines = [f"**x{report.scale}**, model `{report.model}`{on}{condition}. Protocol: "
             f"{PROTOCOL}.", "",
             "| " + " | ".join(header) + " |",
             "| " + " | ".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + " |"]
    for row in _rows(report):
        if row[0].startswith("mean ("):
            row = [f"**{row[0]}**"] + row[1:]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def scores_to_dict(scores: Scores) -> dict:
    return {"psnr_y": finite_or_none(scores.psnr_y), "ssim_y": scores.ssim_y,
            "psnr_rgb": finite_or_none(scores.psnr_rgb)}


def _json_data(report: EvalReport) -> dict:
    return {
        "model": report.model,
        "scale": report.scale,
        "degradation": report.degradation,
        "device": report.device,
        "protocol": PROTOCOL,
        "images": [{"name": image.name, "width": image.width, "height": image.height,
                    "model": scores_to_dict(image.model), "bicubic": scores_to_dict(image.bicubic)}
                   for image in report.images],
        "mean": ({"model": scores_to_dict(report.mean_model),
                  "bicubic": scores_to_dict(report.mean_bicubic)} if report.images else None),
        "failed": [{"path": path, "reason": reason} for path, reason in report.failed],
    }


def to_json(report: EvalReport) -> str:
    return json.dumps(_json_data(report), indent=2)


def conditions_to_json(reports: Sequence[EvalReport], seed: int) -> str:
    """Several degradations: {"model", "scale", "seed", "conditions": [report, ...]}."""
    first = reports[0]
    data = {"model": first.model, "scale": first.scale, "seed": seed,
            "conditions": [_json_data(report) for report in reports]}
    return json.dumps(data, indent=2)


_SUMMARY_HEADER = ["LR", "model Y-PSNR", "bicubic Y-PSNR", "gain", "model Y-SSIM",
                   "bicubic Y-SSIM"]


def _summary_rows(reports: Sequence[EvalReport]) -> list[list[str]]:
    rows = []
    for report in reports:
        if not report.images:
            continue
        model, bicubic = report.mean_model, report.mean_bicubic
        rows.append([report.degradation, f"{model.psnr_y:.2f}", f"{bicubic.psnr_y:.2f}",
                     _gain(model, bicubic), f"{model.ssim_y:.4f}", f"{bicubic.ssim_y:.4f}"])
    return rows


def format_summary(reports: Sequence[EvalReport]) -> str:
    """One line per degradation: mean scores of the model and bicubic, and the gain."""
    rows = _summary_rows(reports)
    widths = [max(len(row[i]) for row in [_SUMMARY_HEADER, *rows])
              for i in range(len(_SUMMARY_HEADER))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join([cells[0].ljust(widths[0])]
                          + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)])

    count = len(reports[0].images)
    lines = [f"x{reports[0].scale}, model: {reports[0].model}: mean of {count} images",
             line(_SUMMARY_HEADER), "-" * len(line(_SUMMARY_HEADER))]
    return "\n".join(lines + [line(row) for row in rows])


def format_summary_markdown(reports: Sequence[EvalReport]) -> str:
    lines = [f"**x{reports[0].scale}**, model `{reports[0].model}`, mean of "
             f"{len(reports[0].images)} images per LR condition:", "",
             "| " + " | ".join(_SUMMARY_HEADER) + " |",
             "| --- | " + " | ".join(["---:"] * (len(_SUMMARY_HEADER) - 1)) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in _summary_rows(reports)]
    return "\n".join(lines)
