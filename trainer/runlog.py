"""A run's metrics: metrics.jsonl (every record), val.csv (validation means), progress.png (plot).

Records are appended, so a resumed run continues the same files; records past the resume point
(written after the checkpoint that was resumed) are dropped so the curves do not fold back.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from uprez.runtime.base import atomic

from .config import PHASES
from .images import write_rgb
from .plot import line_chart

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
        """progress.png: training losses (log scale) above validation Y-PSNR, per phase."""
        panels = []
        for phase in dict.fromkeys(r["phase"] for r in self.records):
            train = [r for r in self.records if r["kind"] == "train" and r["phase"] == phase]
            val = [r for r in self.records if r["kind"] == "val" and r["phase"] == phase]
            names = [k for k in (train[-1] if train else {}) if k.startswith("loss")]
            steps = [r["step"] for r in train]
            losses = {n: (steps, [r.get(n, float("nan")) for r in train]) for n in names}
            panels.append(line_chart(losses, title=f"{phase}: training loss", log_y=True))
            if val:
                psnr = {"PSNR-Y (dB)": ([r["step"] for r in val], [r["psnr_y"] for r in val])}
                panels.append(line_chart(psnr, title=f"{phase}: validation",
                                         references={"bicubic": val[-1]["bicubic_psnr_y"]}))
        if panels:
            write_rgb(self.run_dir / "progress.png", np.concatenate(panels, axis=0))


def _after(record: dict, resume_at: tuple[str, int]) -> bool:
    phase, step = resume_at
    return (PHASES.index(record["phase"]), record["step"]) > (PHASES.index(phase), step)


def _val_row(record: dict) -> list:
    return [record.get(c, "") for c in VAL_COLUMNS]
