"""Time each sr-export step on full-size, randomly initialised public architectures.

    python benchmarks/export_steps.py [--threads N]

Prints one table row per model: load/detect/build, receptive-field probe, fp16 measurement,
ONNX export, verification (PyTorch reference + onnxruntime), and the total of sr-export.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import onnx
import torch

from uprez.export import verify
from uprez.export.exporter import ExportOptions, export_checkpoint
from uprez.export.onnx_export import export_onnx
from uprez.export.profile import profile_model
from uprez.export.receptive_field import measure_receptive_field
from uprez.runtime.base import console
from uprez.trainer.archs import build_generator, size_multiple_for
from uprez.trainer.archs.detect import build_model, detect
from uprez.trainer.weights_file import load_checkpoint

MODELS = {
    "animevideov3 (compact 64/16 x4)": ("compact", dict(num_feat=64, num_conv=16, scale=4)),
    "realesr-general-x4v3 (compact 64/32 x4)": ("compact", dict(num_feat=64, num_conv=32, scale=4)),
    "SRResNet 64/16 x4": ("srresnet", dict(scale=4)),
    "RealESRGAN_x2plus (rrdbnet 23 x2)": ("rrdbnet", dict(scale=2)),
    "RealESRGAN_x4plus (rrdbnet 23 x4)": ("rrdbnet", dict(scale=4)),
}


class Stopwatch:
    """Seconds since the last lap."""

    def __init__(self):
        self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed


def bench(arch: str, hparams: dict, folder: Path) -> tuple[list[float], int]:
    checkpoint = folder / f"{arch}.pth"
    torch.save({"params_ema": build_generator(arch, **hparams).state_dict()}, checkpoint)
    scale, multiple = hparams["scale"], size_multiple_for(arch, hparams["scale"])
    watch, laps = Stopwatch(), []
    model = build_model(detect(load_checkpoint(checkpoint).state_dict))
    laps.append(watch.lap())
    profile = profile_model(model, size_multiple=multiple)
    field = measure_receptive_field(model, scale=scale, size_multiple=multiple,
                                    macs_per_pixel=profile.macs_per_pixel)
    laps.append(watch.lap())
    verify.measure_fp16(model, multiple)
    laps.append(watch.lap())
    onnx_path = folder / "model.onnx"
    onnx.save(export_onnx(model, size_multiple=multiple), str(onnx_path))
    laps.append(watch.lap())
    inputs = verify.check_inputs(multiple)
    verify.verify_fp32(onnx_path, verify.torch_outputs(model, inputs), inputs)
    laps.append(watch.lap())
    export_checkpoint(checkpoint, folder / "out.onnx", ExportOptions())
    laps.append(watch.lap())
    return laps, field.radius


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console.set_quiet(True)
    header = f"{'model':42} {'load':>6} {'rf':>6} {'fp16':>6} {'export':>7} {'verify':>7} " \
             f"{'total':>7}  rf px"
    print(f"torch {torch.__version__}, {args.threads} threads, CPU; seconds")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        for label, (arch, hparams) in MODELS.items():
            laps, radius = bench(arch, hparams, Path(folder))
            cells = " ".join(f"{t:{w}.1f}" for t, w in zip(laps, (6, 6, 6, 7, 7, 7), strict=True))
            print(f"{label:42} {cells}  {radius}")


if __name__ == "__main__":
    main()
