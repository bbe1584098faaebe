"""A run's metrics: metrics.jsonl (every record), val.csv (validation means), progress.png (plot).

Records are appended, so a resumed run continues the same files; records past the resume point
(written after the checkpoint that was resumed) are dropped so the curves do not fold back.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from uprez.runtime.base import atomic

from .config import PHASES
from .plot import progress_figure, save_png

VAL_COLUMNS = ("phase", "step", "psnr_y", "ssim_y", "psnr_rgb", "bicubic_psnr_y", "bicubic_ssim_y")


class RunLog:
    def __init__(self, run_dir: Path, *, resume_at: tuple[str, int] | None = None):
        self.run_dir = Path(run_dir)
        self.jsonl = self.run_dir / "metrics.jsonl"
        self.csv = self.run_dir / "val.csv"
        self.records: list[dict] = []
        if self.jsonl.exists():
            lines = self.jsonl.read_text(encoding="utf-8").splitlines()
            self.records = [json.loads(line) for line in lines if line.strip()]
            if resume_at is not None:
                self.records = [r for r in self.records if not _after(r, resume_at)]
            self._rewrite()
        elif self.csv.exists():
            self.csv.unlink()

    def _rewrite(self) -> None:
        # atomic: a Ctrl-C here must not truncate the run's whole history
        atomic.write_bytes(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.records).encode())
        table = io.StringIO(newline="")
        writer = csv.writer(table)
        writer.writerow(VAL_COLUMNS)
        writer.writerows(_val_row(r) for r in self.records if r["kind"] == "val")
        atomic.write_bytes(self.csv, table.getvalue().encode())

    def append(self, record: dict) -> None:
        """Add a record ({"kind": "train" | "val", "phase", "step", ...}) to the files."""
        self.records.append(record)
        with self.jsonl.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if record["kind"] == "val":
            new = not self.csv.exists()
            with self.csv.open("a", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                if new:
                    writer.writerow(VAL_COLUMNS)
                writer.writerow(_val_row(record))

    def plot(self) -> None:
        """progress.png: per phase, training losses (log scale) beside validation Y-PSNR."""
        figure = progress_figure(self.records)
        if figure is not None:
            save_png(figure, self.run_dir / "progress.png")


def _after(record: dict, resume_at: tuple[str, int]) -> bool:
    phase, step = resume_at
    return (PHASES.index(record["phase"]), record["step"]) > (PHASES.index(phase), step)


def _val_row(record: dict) -> list:
    return [record.get(c, "") for c in VAL_COLUMNS]
