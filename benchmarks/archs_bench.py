"""Inference speed of each architecture on this CPU: onnxruntime, 320x240 input, fp32.

    python benchmarks/archs_bench.py [--runs N] [--threads N] [--only NAME ...] [--heavy]

Full-size, randomly initialised models in their public configurations (the speed does not depend
on the weights), exported to ONNX as sr-export does (without its measurements), run whole (no
tiling) on one 320x240 image after a small warm-up run (session start, allocations). Prints input
megapixels per second (the median of the runs) and seconds per image. `--heavy` adds HAT-L and
DAT, which take minutes here.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch

from uprez.export.onnx_export import export_onnx
from uprez.trainer.archs import build_generator, generator_spec

HEIGHT, WIDTH = 240, 320
MODELS = {
    "realesr-general-x4v3 (compact)": ("compact", dict(num_feat=64, num_conv=32, scale=4)),
    "RealESRGAN_x4plus (RRDBNet)": ("rrdbnet", dict(scale=4)),
    "SPAN x4 (48 channels)": ("span", dict(scale=4)),
    "OmniSR x4": ("omnisr", dict(scale=4)),
    "SwinIR-S x4 (lightweight)": ("swinir", dict(
        scale=4, embed_dim=60, depths=[6] * 4, num_heads=[6] * 4,
        upsampler="pixelshuffledirect")),
    "DAT-light x4": ("dat", dict(
        scale=4, embed_dim=60, depth=[18], num_heads=[6], expansion_factor=2.0,
        upsampler="pixelshuffledirect", resi_connection="3conv")),
    "SwinIR-M x4 (real-world)": ("swinir", dict(scale=4, upsampler="nearest+conv")),
    "HAT-S x4": ("hat", dict(scale=4, embed_dim=144, compress_ratio=24, squeeze_factor=24)),
    "HAT x4": ("hat", dict(scale=4)),
}
HEAVY = {
    "DAT x4": ("dat", dict(scale=4)),
    "HAT-L x4": ("hat", dict(scale=4, depths=[6] * 12, num_heads=[6] * 12)),
}


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench(arch: str, hparams: dict, folder: Path, runs: int, threads: int) -> tuple[float, int]:
    """(median seconds per 320x240 image, parameters)."""
    model = build_generator(arch, **hparams).eval()
    path = folder / f"{arch}.onnx"
    multiple = generator_spec(arch).tile_multiple(model.hparams)
    onnx.save(export_onnx(model, size_multiple=multiple), str(path))
    run = session(path, threads)
    run.run(None, {"input": np.zeros((1, 3, 64, 64), np.float32)})  # warm-up
    x = np.random.default_rng(0).random((1, 3, HEIGHT, WIDTH), dtype=np.float32)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run.run(None, {"input": x})
        times.append(time.perf_counter() - started)
    return statistics.median(times), sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all)")
    parser.add_argument("--only", nargs="*", help="model names (substrings) to run")
    parser.add_argument("--heavy", action="store_true", help="also HAT-L and DAT")
    args = parser.parse_args()
    models = {**MODELS, **(HEAVY if args.heavy else {})}
    if args.only:
        models = {k: v for k, v in models.items() if any(s.lower() in k.lower() for s in args.only)}
    torch.set_grad_enabled(False)
    print(f"onnxruntime CPU, fp32, {WIDTH}x{HEIGHT} input, median of {args.runs} runs")
    print(f"{'model':34} {'params':>8} {'s/image':>9} {'MP/s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (arch, hparams) in models.items():
            seconds, params = bench(arch, hparams, Path(tmp), args.runs, args.threads)
            megapixels = HEIGHT * WIDTH / 1e6
            print(f"{name:34} {params / 1e6:7.2f}M {seconds:9.2f} {megapixels / seconds:8.3g}",
                  flush=True)


if __name__ == "__main__":
    main()
