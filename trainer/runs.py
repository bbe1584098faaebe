"""Run folders of sr-train read back for comparing them (sr-compare): their records on one step
axis across phases, their wall time, their summary, and the settings in which they differ.

Reads only the files (metrics.jsonl, config.toml); no torch, no matplotlib.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from .config_io import tomllib

MAX_LABEL_SETTINGS = 4  # settings named in a run's label; the table names all of them
NOT_SET = "(not set)"


class RunFolderError(Exception):
    """A folder that is not a readable sr-train run; the message names it and says why."""


@dataclass(frozen=True)
class RunRecords:
    name: str
    path: Path
    settings: dict[str, object]  # config.toml flattened to dotted keys
    train: list[dict]  # loss records, each with "run_step" (steps of all phases so far)
    val: list[dict]  # validation records, with "run_step" and "elapsed_s"


@dataclass(frozen=True)
class RunSummary:
    best_psnr: float  # nan without validation
    best_step: int
    last_psnr: float
    bicubic_psnr: float
    steps: int  # of all phases
    seconds: float  # training time of the whole run


def read_run(path: Path, name: str | None = None) -> RunRecords:
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not a folder")
    records = _read_metrics(path / "metrics.jsonl")
    settings = _read_settings(path / "config.toml")
    _add_run_steps(records)
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    _add_val_times(val, train)
    return RunRecords(name or path.name, path, settings, train, val)


def _read_metrics(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise RunFolderError(f"{path.parent}: no metrics.jsonl (not an sr-train run folder, or "
                             "one that has not logged yet)") from None
    except OSError as exc:
        raise RunFolderError(f"{path}: {exc.strerror or exc}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{path}:{number}: not a JSON record ({exc.msg})") from None
        if not isinstance(record, dict) or not {"kind", "phase", "step"} <= record.keys():
            raise RunFolderError(f"{path}:{number}: not a metrics record")
        records.append(record)
    if not records:
        raise RunFolderError(f"{path}: no records yet")
    return records


def _read_settings(path: Path) -> dict[str, object]:
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path.parent}: no config.toml") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot be read ({exc})") from None
    return flatten(tables)


def flatten(table: dict, prefix: str = "") -> dict[str, object]:
    """{"psnr": {"lr": 1e-3, "optimizer_settings": {"momentum": 0.9}}} ->
    {"psnr.lr": 1e-3, "psnr.optimizer_settings.momentum": 0.9}; lists stay values."""
    flat: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _add_run_steps(records: list[dict]) -> None:
    """"run_step": the step counted over the phases in their order (a gan phase after 5000 psnr
    steps starts at 5000), so a run's curves go on along one axis."""
    offset, last_phase, phase_end = 0, None, 0
    for record in records:
        if record["phase"] != last_phase:
            offset += phase_end
            last_phase, phase_end = record["phase"], 0
        phase_end = max(phase_end, record["step"])
        record["run_step"] = offset + record["step"]


def _add_val_times(val: list[dict], train: list[dict]) -> None:
    """Validation records of runs from before they carried "elapsed_s" get it from the loss
    records around them (linear in steps); with none to go by they get NaN."""
    timed = [(r["run_step"], r["elapsed_s"]) for r in train if "elapsed_s" in r]
    for record in val:
        if "elapsed_s" in record:
            continue
        if not timed:
            record["elapsed_s"] = math.nan
            continue
        before = [t for t in timed if t[0] <= record["run_step"]]
        after = [t for t in timed if t[0] >= record["run_step"]]
        if before and after and after[0][0] != before[-1][0]:
            (s0, t0), (s1, t1) = before[-1], after[0]
            record["elapsed_s"] = t0 + (t1 - t0) * (record["run_step"] - s0) / (s1 - s0)
        else:
            record["elapsed_s"] = (before[-1] if before else after[0])[1]


def summarize(run: RunRecords) -> RunSummary:
    psnrs = [(r["psnr_y"], r["run_step"]) for r in run.val if _finite(r.get("psnr_y"))]
    best = max(psnrs, default=(math.nan, 0), key=lambda p: p[0])
    last = run.train[-1] if run.train else None
    steps = max((r["run_step"] for r in run.train + run.val), default=0)
    seconds = max([r["elapsed_s"] for r in run.train + run.val
                   if _finite(r.get("elapsed_s"))], default=math.nan)
    return RunSummary(best_psnr=best[0], best_step=best[1],
                      last_psnr=psnrs[-1][0] if psnrs else math.nan,
                      bicubic_psnr=run.val[-1].get("bicubic_psnr_y", math.nan) if run.val
                      else math.nan,
                      steps=steps if last is not None or run.val else 0, seconds=seconds)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def differing_settings(runs: list[RunRecords]) -> dict[str, list[str]]:
    """Per run name, "key=value" for each setting whose value is not the same in every run
    (a setting a run lacks counts as different), in config order."""
    keys = list(dict.fromkeys(key for run in runs for key in run.settings))
    missing = object()
    differ = [key for key in keys
              if len({_shown(run.settings.get(key, missing)) for run in runs}) > 1]
    return {run.name: [f"{key}={_shown(run.settings.get(key, missing))}" for key in differ]
            for run in runs}


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return NOT_SET


def label(name: str, differences: list[str]) -> str:
    """The run's name and the settings it differs in (the first few; not those it leaves
    unset, which the table lists)."""
    differences = [d for d in differences if not d.endswith(f"={NOT_SET}")]
    if not differences:
        return name
    shown = differences[:MAX_LABEL_SETTINGS]
    more = len(differences) - len(shown)
    return f"{name}: {', '.join(shown)}" + (f" (+{more} more)" if more else "")


def unique_names(paths: list[Path]) -> list[str]:
    """Folder names, with the parent folder added where two runs share a name."""
    names = [Path(p).resolve().name for p in paths]
    return [f"{Path(p).resolve().parent.name}/{n}" if names.count(n) > 1 else n
            for p, n in zip(paths, names, strict=True)]
