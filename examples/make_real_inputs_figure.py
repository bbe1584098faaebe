"""The README's before/after figure: a compressed photo upscaled by bicubic, the clean model, the
real-input model and the default (which picks or blends the two by the JPEG damage it finds),
side by side, with each crop's Y-PSNR against the original.

    python examples/make_real_inputs_figure.py [--photo ../shared/data/val/garden.png]
        [--quality 60] [--noise 4] [--crop 48] [--out docs/real_inputs_x4.png]

The photo is downscaled x4 with MATLAB bicubic, given noise and saved as JPEG (the LR people
actually have), then each method upscales that LR; the crop shown is where the models differ
most. The labels are drawn with OpenCV's Hershey font. torch-free: uses the shipped models.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from uprez.runtime.auto import open_upscaler
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.degradations import Degradation, image_rng
from uprez.runtime.evaluation.metrics import psnr_y
from uprez.runtime.evaluation.protocol import make_lr
from uprez.runtime.resize import imresize
from uprez.runtime.upscaler import Upscaler

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=str(HERE.parent.parent / "shared/data/val/garden.png"))
    parser.add_argument("--quality", type=int, default=60)
    parser.add_argument("--noise", type=float, default=4.0)
    parser.add_argument("--crop", type=int, default=48, help="LR crop side in pixels")
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "real_inputs_x4.png"))
    args = parser.parse_args()

    hr, lr = make_lr(read_image(args.photo), 4)
    damage = Degradation.parse(f"noise={args.noise:g},jpeg={args.quality}")
    lr = damage.apply(lr, image_rng(0, Path(args.photo).name))
    results = {
        "bicubic": imresize(lr, 4),
        "clean model": Upscaler("uprez-compact-x4", device="cpu", tile=0).upscale(lr),
        "real-input model": Upscaler("uprez-real-x4", device="cpu", tile=0).upscale(lr),
        "default (auto)": open_upscaler(None, scale=4, device="cpu", tile=0).upscale(lr),
        "original": hr,
    }
    y, x = _most_different(results["clean model"], results["real-input model"], args.crop * 4)
    size = args.crop * 4
    panels = []
    for label, image in results.items():
        crop = image[y:y + size, x:x + size]
        score = "" if label == "original" else \
            f" {psnr_y(crop, hr[y:y + size, x:x + size], border=0, channel_order='BGR'):.1f} dB"
        panels.append(_labelled(crop, label + score))
    lr_crop = cv2.resize(lr[y // 4:(y + size) // 4, x // 4:(x + size) // 4], (size, size),
                         interpolation=cv2.INTER_NEAREST)
    panels.insert(0, _labelled(lr_crop, f"input: JPEG q{args.quality}"))
    write_image(args.out, np.concatenate(panels, axis=1))
    print(f"wrote {args.out}")


def _most_different(a: np.ndarray, b: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner (on the x4 grid) of the size x size window where a and b differ most."""
    difference = np.abs(a.astype(np.float32) - b.astype(np.float32)).sum(axis=2)
    window = cv2.boxFilter(difference, -1, (size, size), normalize=False,
                           anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    window = window[:a.shape[0] - size + 1, :a.shape[1] - size + 1]
    y, x = np.unravel_index(int(np.argmax(window)), window.shape)
    return int(y) // 4 * 4, int(x) // 4 * 4


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    """The image under a white bar with `text`, and a white gap on its right."""
    bar = np.full((22, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    panel = np.concatenate([bar, image], axis=0)
    return np.concatenate([panel, np.full((panel.shape[0], 4, 3), 255, np.uint8)], axis=1)


if __name__ == "__main__":
    main()
