"""Mean Y-PSNR gain over bicubic of a blend of two models' outputs, per share of the second, per
LR condition: the measurement behind the default's shares (runtime/models/README.md).

    python benchmarks/blend_shares.py                         # x4 shipped models, val photos
    python benchmarks/blend_shares.py --scale 2 --clean uprez-compact-x2 --real uprez-real-x2
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from uprez.runtime.base.imageio import read_image
from uprez.runtime.degradations import Degradation, image_rng
from uprez.runtime.evaluation.metrics import psnr_y
from uprez.runtime.evaluation.protocol import make_lr
from uprez.runtime.resize import imresize
from uprez.runtime.upscaler import Upscaler

CONDITIONS = ("none", "jpeg=95", "jpeg=90", "jpeg=85", "jpeg=75", "jpeg=65", "noise=4,jpeg=60")
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


@click.command()
@click.option("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/val"),
              type=click.Path(exists=True, file_okay=False), show_default=True)
@click.option("--scale", default=4, show_default=True)
@click.option("--clean", default="uprez-compact-x4", show_default=True)
@click.option("--real", default="uprez-real-x4", show_default=True)
def main(data, scale, clean, real):
    clean_model = Upscaler(clean, device="cpu", tile=0)
    real_model = Upscaler(real, device="cpu", tile=0)
    photos = sorted(Path(data).glob("*.png"))
    print(f"| x{scale}, LR | " + " | ".join(f"share {a:g}" for a in SHARES) + " |")
    print("| --- |" + " ---: |" * len(SHARES))
    for condition in CONDITIONS:
        gains = {share: [] for share in SHARES}
        for photo in photos:
            hr, lr = make_lr(read_image(photo), scale)
            if condition != "none":
                lr = Degradation.parse(condition).apply(lr, image_rng(0, photo.name))
            bicubic = psnr_y(imresize(lr, scale), hr, border=scale, channel_order="BGR")
            a = clean_model.upscale(lr).astype(np.float32)
            b = real_model.upscale(lr).astype(np.float32)
            for share in SHARES:
                mixed = np.clip(np.rint(share * b + (1 - share) * a), 0, 255).astype(np.uint8)
                gains[share].append(psnr_y(mixed, hr, border=scale, channel_order="BGR")
                                    - bicubic)
        print(f"| {condition} | " + " | ".join(f"{np.mean(g):+.2f}" for g in gains.values())
              + " |")


if __name__ == "__main__":
    main()
