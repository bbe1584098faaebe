"""The sample strips of a run, RUN/samples/<phase>_<step>_<image>.png: for each of the first
`val.num_samples` validation images, LR-bicubic | SR | HR side by side under a caption band
that names each panel with its Y-PSNR and the phase and step. Only the newest
`val.keep_samples` strips of each image are kept, so the folder does not grow with the run.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from .config import PHASES
from .images import write_rgb

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BAND = (32, 32, 32)  # caption background, RGB
_TEXT = (255, 255, 255)
_STRIP_NAME = re.compile(rf"^({'|'.join(PHASES)})_(\d{{8}})_(.+)\.png$")


def save_sample(samples_dir: Path, *, phase: str, step: int, name: str, bicubic: np.ndarray,
                sr: np.ndarray, hr: np.ndarray, bicubic_psnr: float, sr_psnr: float,
                keep: int) -> Path:
    """Write the labelled strip of one validation image; drop its older strips beyond `keep`."""
    path = Path(samples_dir) / f"{phase}_{step:08d}_{name}.png"
    captions = [["LR-bicubic", f"PSNR-Y {bicubic_psnr:.2f} dB"],
                [f"SR {phase} {step}", f"PSNR-Y {sr_psnr:.2f} dB"],
                ["HR", "ground truth"]]
    write_rgb(path, labelled_strip([bicubic, sr, hr], captions))
    prune_samples(samples_dir, name, keep)
    return path


def labelled_strip(panels: list[np.ndarray], captions: list[list[str]]) -> np.ndarray:
    """RGB panels of one height side by side, each under a dark band with its caption lines."""
    width = panels[0].shape[1]
    lines = max(len(caption) for caption in captions)
    scale = _font_scale(width, [line for caption in captions for line in caption])
    (_, text_height), baseline = cv2.getTextSize("Ag", _FONT, scale, 1)
    line_height = text_height + baseline + 2
    band_height = lines * line_height + 6
    labelled = []
    for panel, caption in zip(panels, captions, strict=True):
        band = np.empty((band_height, panel.shape[1], 3), np.uint8)
        band[:] = _BAND
        for i, line in enumerate(caption):
            origin = (4, 3 + i * line_height + text_height)
            cv2.putText(band, line, origin, _FONT, scale, _TEXT, 1, cv2.LINE_AA)
        labelled.append(np.concatenate([band, panel], axis=0))
    return np.concatenate(labelled, axis=1)


def _font_scale(panel_width: int, lines: list[str]) -> float:
    """Letters about a 40th of the panel wide, smaller if the longest line would not fit (down
    to a size still readable; a narrower panel clips it)."""
    scale = float(np.clip(panel_width / 800, 0.35, 1.2))
    widest = max(cv2.getTextSize(line, _FONT, scale, 1)[0][0] for line in lines)
    if widest > panel_width - 8:
        scale = max(0.3, scale * (panel_width - 8) / widest)
    return scale


def prune_samples(samples_dir: Path, name: str, keep: int) -> None:
    """Delete all but the newest `keep` strips of validation image `name`."""
    strips = []
    for path in Path(samples_dir).iterdir():
        match = _STRIP_NAME.match(path.name)
        if match and match.group(3) == name:
            strips.append(((PHASES.index(match.group(1)), int(match.group(2))), path))
    for _, path in sorted(strips)[:-keep]:
        path.unlink(missing_ok=True)
