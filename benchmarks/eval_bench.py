"""Time MATLAB-compatible imresize, the PSNR/SSIM metrics and the sr-eval --html pictures on a
photo-sized image.

    python benchmarks/eval_bench.py [--width 2000 --height 1500 --repeat 3]

Prints one table row per operation: the best wall time of `--repeat` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from uprez.runtime.evaluation.batch import EvalItem
from uprez.runtime.evaluation.metrics import psnr_rgb, psnr_y, ssim_y
from uprez.runtime.evaluation.page.writer import ComparisonPage
from uprez.runtime.evaluation.protocol import EvaluatedImage
from uprez.runtime.resize import imresize


def best_time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def page_pictures(hr: np.ndarray, lr: np.ndarray, models: int, conditions: int):
    """What sr-eval --html adds per image: difference maps, crops, PNG files."""
    rng = np.random.default_rng(1)
    bicubic = imresize(lr, 4)
    srs = tuple(np.clip(bicubic.astype(int) + rng.integers(-8, 9, hr.shape), 0, 255)
                .astype(np.uint8) for _ in range(models))
    evaluated = [EvaluatedImage(hr=hr, lr=lr, bicubic=bicubic, srs=srs, scores=())
                 for _ in range(conditions)]
    item = EvalItem(name="photo.png", hr_path=Path("photo.png"))

    def run() -> None:
        with tempfile.TemporaryDirectory() as folder, ComparisonPage(
                Path(folder), scale=4, models=[f"m{i}" for i in range(models)],
                conditions=[f"c{i}" for i in range(conditions)], pictured={item.name},
                title="bench") as page:
            page.add(item, evaluated)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--height", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    hr_float = hr.astype(np.float32) / 255
    lr4 = imresize(hr, 0.25)
    other = rng.integers(0, 256, hr.shape, dtype=np.uint8)
    cases = [
        ("imresize x1/4 uint8", lambda: imresize(hr, 0.25)),
        ("imresize x1/4 float32", lambda: imresize(hr_float, 0.25)),
        ("imresize x1/2 uint8", lambda: imresize(hr, 0.5)),
        (f"imresize x4 uint8 (from {lr4.shape[1]}x{lr4.shape[0]})", lambda: imresize(lr4, 4)),
        ("psnr_y", lambda: psnr_y(hr, other, border=4, channel_order="BGR")),
        ("ssim_y", lambda: ssim_y(hr, other, border=4, channel_order="BGR")),
        ("psnr_rgb", lambda: psnr_rgb(hr, other, border=4)),
        ("--html pictures, 1 model x 2 conditions", page_pictures(hr, lr4, 1, 2)),
        ("--html pictures, 3 models x 2 conditions", page_pictures(hr, lr4, 3, 2)),
    ]
    print(f"image {args.width}x{args.height}x3, best of {args.repeat}")
    print(f"{'operation':44s} {'ms':>8s}")
    for name, function in cases:
        print(f"{name:44s} {best_time(function, args.repeat) * 1000:8.0f}")


if __name__ == "__main__":
    main()
