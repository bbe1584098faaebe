"""GPU speed: sr-run's CUDA and TensorRT engines against a Real-ESRGAN-style eager PyTorch loop.

    python benchmarks/gpu_bench.py            # needs an NVIDIA GPU, uprez[cuda] and CUDA torch
    python benchmarks/gpu_bench.py --quick    # fewer frames and repeats

On a machine without an NVIDIA GPU it says so and exits 0.

For an SRVGG compact 64x16 and a 23-block RRDBNet (bench_models.py; the PyTorch loop runs the
very same weights), on 1920x1080 frames (x4: 7680x4320 out), each configuration in its own
process so that its GPU memory is its own:
  - PyTorch eager, fp16, channels_last: RealESRGANer's per-frame steps (BGR uint8 -> RGB float
    tensor -> GPU -> half -> forward -> float -> clamp -> CPU -> uint8), whole frame, no tiles;
  - the Upscaler (sr-run's library object) on CUDA fp32, CUDA fp16 and TensorRT fp16, frames
    given as uint8 and returned as uint8, with --tile/--batch auto, as sr-run runs them;
and prints frames/s, output MP/s, achieved TFLOP/s (2 x MACs per input pixel, from the model's
convolutions) against the GPU's peak, and peak GPU memory of the process (nvidia-smi, sampled).
A last table runs `sr-run --device cuda` end to end on a 1080p clip (decode, upscale, 4K x264
encode with --preset veryfast).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
ME = [sys.executable, str(Path(__file__).resolve()), "--child"]
MODELS = ("compact-64x16", "rrdbnet-23")
CONFIGS = [("PyTorch eager fp16 channels_last", "torch", ""),
           ("sr-run CUDA fp32", "cuda", "fp32"),
           ("sr-run CUDA fp16", "cuda", "fp16"),
           ("sr-run TensorRT fp16", "tensorrt", "fp16")]
# Dense peak TFLOP/s (fp16 tensor cores, fp32), from NVIDIA's data sheets; others show "?"
PEAKS = {"H200": (989, 67), "H100 80GB HBM3": (989, 67), "H100 PCIe": (756, 51),
         "H100 NVL": (835, 60), "A100": (312, 19.5), "L40S": (362, 91.6), "L4": (121, 30.3),
         "A10": (125, 31.2), "RTX 4090": (165, 82.6), "RTX 3090": (71, 35.6), "T4": (65, 8.1)}


def peak_tflops(gpu_name: str, precision: str) -> float | None:
    for key, (half, single) in PEAKS.items():
        if key in gpu_name:
            return half if precision == "fp16" else single
    return None


# -- children -------------------------------------------------------------------------------

def frames_1080p(count: int):
    import cv2
    import numpy as np

    photos = [cv2.imread(str(p)) for p in sorted((REPO / "examples").glob("*.png"))]
    return [np.ascontiguousarray(cv2.resize(photos[i % len(photos)], (1920, 1080),
                                            interpolation=cv2.INTER_CUBIC)[:, :: 1 - 2 * (i % 2)])
            for i in range(count)]


def child_upscaler(model: str, device: str, precision: str, count: int) -> dict:
    from uprez.runtime.upscaler import Upscaler

    upscaler = Upscaler(model, device=device, precision=precision)
    frames = frames_1080p(count)
    batch = upscaler.batch
    upscaler.upscale_batch(frames[:batch])  # warm-up: engine builds, allocations
    start = time.perf_counter()
    for i in range(0, count, batch):
        upscaler.upscale_batch(frames[i:i + batch])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "frames": count, "label": upscaler.describe()}


def child_torch(model_name: str, count: int) -> dict:
    import numpy as np
    import torch
    from bench_models import BUILT

    from uprez.trainer.archs import build_generator

    arch, hparams, _ = BUILT[model_name]
    torch.manual_seed(0)  # bench_models exports the weights of this very seed
    network = build_generator(arch, **hparams).eval().cuda().half()
    network = network.to(memory_format=torch.channels_last)
    frames = frames_1080p(count)

    def upscale(frame):
        img = frame[:, :, ::-1].astype(np.float32) / 255.0
        tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).unsqueeze(0)
        tensor = tensor.cuda().half().contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            out = network(tensor).float().clamp_(0, 1)
        out = out.squeeze(0).cpu().numpy().transpose(1, 2, 0)[:, :, ::-1]
        return (out * 255.0).round().astype(np.uint8)

    upscale(frames[0])
    torch.cuda.synchronize()
    start = time.perf_counter()
    for frame in frames:
        upscale(frame)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "frames": count, "label": "eager fp16"}


# -- parent ---------------------------------------------------------------------------------

def run_child(args: list[str]) -> dict:
    """The child's JSON result plus the peak GPU memory its process held (sampled)."""
    process = subprocess.Popen([*ME, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    peak = [0]
    sampler = threading.Thread(target=_sample_memory, args=(process, peak), daemon=True)
    sampler.start()
    out, err = process.communicate()
    sampler.join()
    if process.returncode != 0:
        return {"error": (err.strip().splitlines() or ["failed"])[-1][:120]}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mib"] = peak[0]
    return result


def _sample_memory(process: subprocess.Popen, peak: list[int]) -> None:
    while process.poll() is None:
        try:
            done = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                                   "--format=csv,noheader,nounits"], capture_output=True,
                                  text=True, timeout=5)
            for line in done.stdout.splitlines():
                pid, used = (field.strip() for field in line.split(","))
                if int(pid) == process.pid:
                    peak[0] = max(peak[0], int(used))
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
        time.sleep(0.2)


def macs_per_input_pixel(model_name: str) -> float:
    from bench_models import BUILT

    from uprez.export.profile import profile_model
    from uprez.trainer.archs import build_generator

    arch, hparams, multiple = BUILT[model_name]
    return profile_model(build_generator(arch, **hparams).eval(),
                         size_multiple=multiple).macs_per_pixel


def model_table(args, gpu, models: dict[str, Path]) -> None:
    rows = []
    for name, path in models.items():
        macs = macs_per_input_pixel(name)
        results: dict[str, list[dict]] = {}
        for _ in range(args.rounds):  # interleaved: the GPU's clocks and neighbours drift
            for label, device, precision in CONFIGS:
                child = (["torch", name, str(args.frames)] if device == "torch" else
                         ["upscaler", str(path), device, precision, str(args.frames)])
                results.setdefault(label, []).append(run_child(child))
        for label, _, _ in CONFIGS:
            runs = [r for r in results[label] if "error" in r or "seconds" in r]
            errors = [r["error"] for r in runs if "error" in r]
            if errors:
                rows.append([name, label, f"failed: {errors[0]}", "", "", "", ""])
                continue
            seconds = statistics.median(r["seconds"] / r["frames"] for r in runs)
            tflops = 2 * macs * 1920 * 1080 / seconds / 1e12
            peak = peak_tflops(gpu.name, "fp16" if "fp16" in label else "fp32")
            share = f" ({100 * tflops / peak:.0f}% of {peak:g})" if peak else " (peak ?)"
            rows.append([name, label, f"{1 / seconds:.2f}", f"{7680 * 4320 / seconds / 1e6:.1f}",
                         f"{tflops:.1f}{share}", f"{max(r['peak_mib'] for r in runs)}",
                         runs[0]["label"]])
    table(f"1. 1920x1080 frames x4 on {gpu.name}, {args.frames} frames per run, median of "
          f"{args.rounds} interleaved runs (frames in and out as uint8 on the host)",
          ["model", "pipeline", "frames/s", "output MP/s", "achieved TFLOP/s (of peak)",
           "peak GPU MiB", "settings"], rows)


def video_table(args, models: dict[str, Path], work: Path) -> None:
    from uprez.runtime.video.ffmpeg import find_ffmpeg

    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("\n2. skipped: no ffmpeg")
        return
    clip = work / "clip_1080p.mp4"
    frames = args.frames
    subprocess.run([ffmpeg.exe, "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=1920x1080:rate=30:duration={frames / 30}", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", "-y", str(clip)], check=True)
    rows = []
    for name, path in models.items():
        for precision in ("fp32", "fp16"):
            out = work / f"out_{name}_{precision}.mp4"
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", "from uprez.runtime.cli import main; "
                                   "main()", str(clip), "-o", str(out), "-m", str(path),
                                   "--device", "cuda", "--precision", precision, "--preset",
                                   "veryfast", "-q", "--overwrite"], capture_output=True,
                                  text=True)
            seconds = time.perf_counter() - start
            result = (f"{frames / seconds:.2f}" if done.returncode == 0 else
                      f"failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:80]}")
            rows.append([name, f"CUDA {precision}", result, done.stdout.strip()[-90:]])
    table(f"2. sr-run end to end on a {frames}-frame 1080p clip (decode, upscale, 4K x264 "
          "--preset veryfast encode), whole process", ["model", "engine", "frames/s",
                                                       "summary"], rows)


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48, help="1080p frames per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per setting")
    parser.add_argument("--quick", action="store_true", help="8 frames, one round")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "torch":
            result = child_torch(rest[0], int(rest[1]))
        else:
            result = child_upscaler(rest[0], rest[1], rest[2], int(rest[3]))
        print(json.dumps(result))
        return 0

    from uprez.runtime.backends import nvidia

    scan = nvidia.scan()
    if not scan.gpus:
        why = f" ({scan.problem})" if scan.problem else ""
        print(f"no NVIDIA GPU{why}: nothing to measure here. gpu_bench.py needs an NVIDIA GPU, "
              'pip install ".[cuda]" and a CUDA build of torch.')
        return 0
    if args.quick:
        args.frames, args.rounds = 8, 1
    import onnxruntime
    import torch
    from bench_models import bench_models

    gpu = scan.gpus[0]
    print(f"{gpu.name} (compute {gpu.compute[0]}.{gpu.compute[1]}, "
          f"{gpu.memory / 2**30:.0f} GiB); onnxruntime {onnxruntime.__version__}, torch "
          f"{torch.__version__}; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}")
    work = Path(tempfile.mkdtemp(prefix="uprez-gpu-bench-"))
    try:
        models = bench_models(work / "models", MODELS)
        model_table(args, gpu, models)
        video_table(args, models, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
