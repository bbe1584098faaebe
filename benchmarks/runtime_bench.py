"""Runtime speed and memory: `sr-run` and `Upscaler` against a Real-ESRGAN-style PyTorch loop.

    python benchmarks/runtime_bench.py            # about 2-3 minutes on a 2-core CPU
    python benchmarks/runtime_bench.py --quick    # a smoke run

Prints five tables:
  1. Upscaler on one image for several --tile/--batch settings: output MP/s and peak RSS.
  2. The comparison users make: a sequential eager-PyTorch loop in Real-ESRGAN's style
     (cv2.imread, tile 256 pad 10, infer, paste, cv2.imwrite) against `sr-run` run as a whole
     process on the same folder, same weights.
  3. Peak RSS of `sr-run` as the folder grows.
  4. The backends: output MP/s of the eager PyTorch forward pass, onnxruntime CPU, OpenVINO
     fp32 and OpenVINO bf16 on one image, for the shipped models, an SRVGG compact 64x16 and a
     23-block RRDBNet (bench_models.py).
  5. `sr-run --device cpu` against `sr-run --device openvino` end to end over a folder of
     photos (--photos, default shared/data/val), whole processes.
Every measurement runs in its own process so that its peak RSS is its own (os.wait4). Tables 4
and 5 run their configurations interleaved, --rounds times, and print medians: the machine is
shared, and only ratios measured side by side mean anything.

The network is the tests' ONNX SR model (convs + depth-to-space + nearest skip), built wider and
deeper here to be compact-like; the PyTorch loop runs the same weights, read from the ONNX file.
Needs torch and onnx (the dev extra); uprez.runtime itself never imports them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def make_images(folder: Path, count: int, size: int) -> None:
    """Real photo content (the examples), cropped and resized to size x size PNGs."""
    import cv2
    import numpy as np

    sources = [cv2.imread(str(p)) for p in sorted(EXAMPLES.glob("*.png"))]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        source = sources[i % len(sources)]
        side = min(source.shape[:2])
        y = int(rng.integers(0, source.shape[0] - side + 1))
        x = int(rng.integers(0, source.shape[1] - side + 1))
        crop = source[y:y + side, x:x + side]
        image = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
        if i % 2:
            image = image[:, ::-1]
        cv2.imwrite(str(folder / f"img{i:03d}.png"), np.ascontiguousarray(image))


def run_isolated(command: list[str], env: dict | None = None) -> dict:
    """Run `command` under a fresh Python that reports on its only child: wall seconds, peak
    RSS MiB, CPU seconds (user + system; unlike wall time, they hardly change when other
    processes share the machine) and stdout.
    """
    probe = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': done.returncode, 'wall': wall, 'peak': usage.ru_maxrss / 1024,"
        " 'cpu': usage.ru_utime + usage.ru_stime, 'out': done.stdout,"
        " 'err': done.stderr[-2000:]}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                          text=True, env=env)
    report = json.loads(done.stdout)
    if report["rc"] != 0:
        raise SystemExit(f"command failed: {' '.join(command)}\n{report['err']}")
    return report


# -- modes run in child processes ---------------------------------------------------------------

def child_upscaler(model: str, image: str, tile: str, batch: int, repeats: int) -> None:
    """Upscale one image `repeats` times after a warm-up; print output MP/s."""
    from uprez.runtime.base.imageio import read_image
    from uprez.runtime.upscaler import Upscaler

    upscaler = Upscaler(model, device=os.environ.get("BENCH_DEVICE", "cpu"),
                        precision=os.environ.get("BENCH_PRECISION", "auto"),
                        tile=int(tile) if tile != "auto" else "auto", batch=batch)
    picture = read_image(image)
    out = upscaler.upscale(picture)  # warm-up: first-run allocations and shape setup
    best = math.inf
    for _ in range(repeats):  # best of: other processes on a shared machine only slow runs down
        start = time.perf_counter()
        out = upscaler.upscale(picture)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"mps": out.shape[0] * out.shape[1] / best / 1e6, "tile": upscaler.tile,
                      "label": upscaler.label()}))


def child_torch_forward(model: str, image: str, repeats: int) -> None:
    """Real-ESRGAN's per-image steps around one eager forward pass (fp32, no tiling)."""
    import cv2
    import numpy as np
    import torch

    from uprez.runtime.metadata import ModelInfo
    from uprez.runtime.onnx_file import read_metadata_props
    from uprez.trainer.archs import build_generator

    info = ModelInfo.from_props(read_metadata_props(model))
    network = build_generator(info.arch, **info.hparams).eval()  # same shape; weights: no matter
    picture = cv2.imread(image)

    def upscale():
        img = cv2.cvtColor(picture.astype(np.float32) / 255.0, cv2.COLOR_BGR2RGB)
        tensor = torch.from_numpy(np.transpose(img, (2, 0, 1))).unsqueeze(0)
        with torch.no_grad():
            out = network(tensor).squeeze(0).clamp_(0, 1).numpy()
        return (np.transpose(out, (1, 2, 0)) * 255.0).round().astype(np.uint8)

    out = upscale()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = upscale()
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"mps": out.shape[0] * out.shape[1] / best / 1e6}))


def torch_network(model_path: str):
    """The ONNX test network rebuilt in PyTorch with the same weights."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(model_path).graph
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    convs = sum(1 for node in graph.node if node.op_type == "Conv")
    scale = next(a.i for node in graph.node if node.op_type == "DepthToSpace"
                 for a in node.attribute if a.name == "blocksize")

    class Network(torch.nn.Module):
        def forward(self, x):
            h = x
            for i in range(convs):
                h = torch.nn.functional.conv2d(h, weights[f"w{i}"], weights[f"b{i}"], padding=1)
                if i < convs - 1:
                    h = torch.relu(h)
            detail = torch.nn.functional.pixel_shuffle(h, scale)
            return torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest") + detail

    return Network().eval(), scale


def child_torch_loop(model: str, in_dir: str, out_dir: str) -> None:
    """Real-ESRGAN's RealESRGANer loop: read, tile 256 pad 10, infer, paste, write; sequential."""
    import cv2
    import numpy as np
    import torch

    network, scale = torch_network(model)
    tile, pad = 256, 10
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()  # after interpreter start and imports: the loop alone
    for name in sorted(os.listdir(in_dir)):
        img = cv2.imread(os.path.join(in_dir, name), cv2.IMREAD_UNCHANGED)
        img = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2RGB)
        img = torch.from_numpy(np.transpose(img, (2, 0, 1))).float().unsqueeze(0)
        _, channels, height, width = img.shape
        output = img.new_zeros((1, channels, height * scale, width * scale))
        for y in range(math.ceil(height / tile)):
            for x in range(math.ceil(width / tile)):
                x0, y0 = x * tile, y * tile
                x1, y1 = min(x0 + tile, width), min(y0 + tile, height)
                px0, py0 = max(x0 - pad, 0), max(y0 - pad, 0)
                px1, py1 = min(x1 + pad, width), min(y1 + pad, height)
                with torch.no_grad():
                    out_tile = network(img[:, :, py0:py1, px0:px1])
                ox0, oy0 = (x0 - px0) * scale, (y0 - py0) * scale
                output[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = out_tile[
                    :, :, oy0:oy0 + (y1 - y0) * scale, ox0:ox0 + (x1 - x0) * scale]
        result = output.data.squeeze().float().cpu().clamp_(0, 1).numpy()
        result = cv2.cvtColor(np.transpose(result, (1, 2, 0)), cv2.COLOR_RGB2BGR)
        cv2.imwrite(os.path.join(out_dir, name), (result * 255.0).round().astype(np.uint8))
    print(json.dumps({"loop_seconds": time.perf_counter() - start}))


# -- the tables -------------------------------------------------------------------------------

ME = [sys.executable, str(Path(__file__).resolve()), "--child"]
SR_RUN = [sys.executable, "-c", "from uprez.runtime.cli import main; main()"]


def tile_tables(args, model: Path, work: Path) -> None:
    """1. Upscaler MP/s and peak RSS for tile and batch sizes (CPU, and CUDA when it loads)."""
    from uprez.runtime.upscaler import Upscaler

    single = work / "single"
    make_images(single, 1, args.tile_image)
    image = str(next(single.iterdir()))
    devices = ["cpu"]
    if Upscaler(model).provider == "CUDAExecutionProvider":
        devices.append("cuda")
    for device in devices:
        settings = [("128", 1), ("128", 4), ("256", 1), ("256", 4), ("512", 1), ("512", 4),
                    ("0", 1), ("auto", 4)]
        if device == "cuda":
            settings = [("256", 4), ("512", 1), ("512", 4), ("1024", 1), ("0", 1), ("auto", 4)]
        rows = []
        for tile, batch in settings:
            report = run_isolated([*ME, "upscaler", str(model), image, tile, str(batch),
                                   "1" if args.quick else "3"],
                                  env={**os.environ, "BENCH_DEVICE": device})
            result = json.loads(report["out"])
            label = f"auto ({result['tile']})" if tile == "auto" else tile
            rows.append([label, batch, f"{result['mps']:.2f}", f"{report['peak']:.0f}"])
        table(f"1. Upscaler, one {args.tile_image}x{args.tile_image} image, {device.upper()}",
              ["tile", "batch", "output MP/s", "peak RSS MiB"], rows)


def comparison_table(args, model: Path, work: Path) -> None:
    """2. The Real-ESRGAN-style PyTorch loop against sr-run, whole processes, same folder."""
    folder = work / "folder"
    make_images(folder, args.images, args.size)
    out_pixels = args.images * (args.size * args.scale) ** 2
    loop_wall = loop_only = run_wall = loop_cpu = run_cpu = math.inf
    for _ in range(1 if args.quick else 2):  # alternate, keep each one's best
        loop = run_isolated([*ME, "torch", str(model), str(folder), str(work / "out_torch")])
        loop_wall, loop_cpu = min(loop_wall, loop["wall"]), min(loop_cpu, loop["cpu"])
        loop_only = min(loop_only, json.loads(loop["out"])["loop_seconds"])
        run = run_isolated([*SR_RUN, str(folder), "-o", str(work / "out_sr"), "-m", str(model),
                            "--device", "cpu", "-q", "--overwrite"])
        run_wall, run_cpu = min(run_wall, run["wall"]), min(run_cpu, run["cpu"])
    loop_rate, run_rate = out_pixels / loop_wall / 1e6, out_pixels / run_wall / 1e6
    only_rate = out_pixels / loop_only / 1e6
    table(f"2. {args.images} images of {args.size}x{args.size} -> x{args.scale}, same "
          "weights; sr-run timed as a whole process (start-up, model load included); "
          "best of alternating runs",
          ["pipeline", "wall s", "output MP/s", "sr-run speed-up", "CPU s", "peak RSS MiB"],
          [["PyTorch loop, whole process (Real-ESRGAN style, tile 256 pad 10)",
            f"{loop_wall:.1f}", f"{loop_rate:.2f}", f"{run_rate / loop_rate:.2f}x",
            f"{loop_cpu:.1f}", f"{loop['peak']:.0f}"],
           ["PyTorch loop alone (without interpreter and torch start-up)",
            f"{loop_only:.1f}", f"{only_rate:.2f}", f"{run_rate / only_rate:.2f}x", "", ""],
           ["sr-run (defaults, --device cpu)", f"{run_wall:.1f}", f"{run_rate:.2f}", "",
            f"{run_cpu:.1f}", f"{run['peak']:.0f}"]])
    _check_same_output(work / "out_torch", work / "out_sr")


def growth_table(args, model: Path, work: Path) -> None:
    """3. sr-run's peak RSS over folders of growing length."""
    rows = []
    for count in ([2, 4] if args.quick else [4, 16, 48]):
        grow = work / f"grow{count}"
        make_images(grow, count, 128)
        grown = run_isolated([*SR_RUN, str(grow), "-o", str(work / f"out{count}"),
                              "-m", str(model), "--device", "cpu", "-q"])
        rows.append([count, f"{grown['wall']:.1f}", f"{grown['peak']:.0f}"])
    table("3. sr-run peak RSS as the folder grows (128x128 images)",
          ["images", "wall s", "peak RSS MiB"], rows)


BACKENDS = [("onnxruntime CPU", "cpu", "fp32"), ("OpenVINO fp32", "openvino", "fp32"),
            ("OpenVINO bf16", "openvino", "bf16")]
INPUT_SIDES = {"rrdbnet-23": (120, 160)}  # the others take 240x320, as in issue 12


def backend_table(args, work: Path) -> None:
    """4. One image through each backend (and the eager PyTorch pass), interleaved rounds."""
    import statistics

    import cv2
    from bench_models import bench_models

    names = ("uprez-compact-x4", "compact-64x16") if args.quick else None
    models = bench_models(work.parent / "uprez-bench-models", names)
    source = cv2.imread(str(next(iter(sorted(EXAMPLES.glob("*.png"))))))
    rows = []
    for name, model in models.items():
        height, width = INPUT_SIDES.get(name, (240, 320))
        image = work / f"{name}.png"
        cv2.imwrite(str(image), cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA))
        runs: dict[str, list[float]] = {}
        notes: dict[str, str] = {}
        for _ in range(args.rounds):
            torch_run = run_isolated([*ME, "forward", str(model), str(image), "2"])
            runs.setdefault("torch", []).append(json.loads(torch_run["out"])["mps"])
            for label, device, precision in BACKENDS:
                if label in notes:
                    continue
                env = {**os.environ, "BENCH_DEVICE": device, "BENCH_PRECISION": precision}
                try:
                    report = run_isolated([*ME, "upscaler", str(model), str(image), "0", "1",
                                           "2"], env=env)
                except SystemExit as failed:  # bf16 on a CPU without it: say so
                    reason = str(failed).strip().splitlines()[-1]
                    notes[label] = ("n/a (this CPU has no bf16)" if "runs fp32 only" in reason
                                    else "failed: " + reason[-60:])
                    continue
                runs.setdefault(label, []).append(json.loads(report["out"])["mps"])
        cells = [f"{statistics.median(runs['torch']):.2f}"]
        base = statistics.median(runs["onnxruntime CPU"])
        for label, _, _ in BACKENDS:
            if label in notes:
                cells.append(notes[label])
            else:
                mps = statistics.median(runs[label])
                cells.append(f"{mps:.2f}" + (f" ({mps / base:.2f}x)" if label != BACKENDS[0][0]
                                             else ""))
        rows.append([name, f"{width}x{height}", *cells])
    table(f"4. Output MP/s on one image, median of {args.rounds} interleaved rounds (each the "
          "best of 2 runs after a warm-up); ratios against onnxruntime CPU",
          ["model", "input", "PyTorch eager fp32", *(label for label, _, _ in BACKENDS)], rows)


def end_to_end_table(args, work: Path) -> None:
    """5. sr-run over a folder of photos: --device cpu against --device openvino."""
    import statistics

    candidates = [REPO / "shared" / "data" / "val", REPO.parent / "shared" / "data" / "val",
                  Path("/work/shared/data/val"), EXAMPLES]
    photos = Path(args.photos) if args.photos else next(p for p in candidates if p.is_dir())
    configs = [("sr-run --device cpu", ["--device", "cpu"]),
               ("sr-run --device openvino", ["--device", "openvino"])]
    import openvino

    if "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        # elsewhere --device openvino already runs fp32, so this row would repeat the last
        configs.append(("sr-run --device openvino --precision fp32",
                        ["--device", "openvino", "--precision", "fp32"]))
    walls: dict[str, list[float]] = {name: [] for name, _ in configs}
    cpus: dict[str, list[float]] = {name: [] for name, _ in configs}
    for round_ in range(args.rounds):
        for name, options in configs:
            out = work / f"e2e-{round_}-{len(walls[name])}"
            run = run_isolated([*SR_RUN, str(photos), "-o", str(out), *options, "--overwrite"])
            walls[name].append(run["wall"])
            cpus[name].append(run["cpu"])
            shutil.rmtree(out, ignore_errors=True)
            last = run["out"].strip().splitlines()[-1] if run["out"].strip() else ""
            print(f"  round {round_ + 1} {name}: {run['wall']:.1f} s  ({last})", flush=True)
    base = statistics.median(walls[configs[0][0]])
    base_cpu = statistics.median(cpus[configs[0][0]])
    rows = [[name, " ".join(f"{w:.1f}" for w in walls[name]),
             f"{statistics.median(walls[name]):.1f}",
             f"{base / statistics.median(walls[name]):.2f}x",
             f"{statistics.median(cpus[name]):.1f}",
             f"{base_cpu / statistics.median(cpus[name]):.2f}x"] for name, _ in configs]
    count = len([p for p in photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")])
    table(f"5. sr-run end to end (whole processes: start-up, model load, decode, upscale, "
          f"encode) over {count} photos in {photos}, shipped x4 model, {args.rounds} "
          "interleaved rounds",
          ["command", "wall s per round", "median wall s", "wall speed-up", "median CPU s",
           "CPU-time speed-up"], rows)
    print("(CPU s: user + system time of the whole process, all threads; on a machine other "
          "processes share, it is what the work costs, while wall time also measures them)")


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feat", type=int, default=32, help="hidden channels of the network")
    parser.add_argument("--convs", type=int, default=8, help="conv layers of the network")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--tile-image", type=int, default=640, help="side of the table-1 image")
    parser.add_argument("--size", type=int, default=384, help="side of the folder images")
    parser.add_argument("--images", type=int, default=10, help="images in the comparison folder")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    parser.add_argument("--tables", default="12345", help="which tables to print, e.g. 45")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, tables 4-5")
    parser.add_argument("--photos", help="folder of photos for table 5 [default: the first of "
                        "shared/data/val beside or in the checkout, /work/shared/data/val, "
                        "examples/]")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "upscaler":
            child_upscaler(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]))
        elif mode == "forward":
            child_torch_forward(rest[0], rest[1], int(rest[2]))
        else:
            child_torch_loop(*rest)
        return
    if args.quick:
        args.tile_image, args.size, args.images, args.feat, args.convs = 160, 96, 3, 8, 3
        args.rounds = 1
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "benchmarks"))
    import onnxruntime
    import torch

    from tests.onnx_models import make_sr_model
    from uprez.runtime.metadata import ModelInfo

    work = Path(tempfile.mkdtemp(prefix="uprez-bench-"))
    try:
        model = make_sr_model(work / "bench.onnx", scale=args.scale, hidden=args.feat,
                              convs=args.convs, metadata=ModelInfo(
                                  scale=args.scale, receptive_field=args.convs,
                                  name=f"bench-{args.feat}f{args.convs}c").to_props())
        print(f"network: {args.convs} convs x {args.feat} channels, x{args.scale}, receptive "
              f"field {args.convs}; onnxruntime {onnxruntime.__version__}, torch "
              f"{torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} CPUs")
        if "1" in args.tables:
            tile_tables(args, model, work)
        if "2" in args.tables:
            comparison_table(args, model, work)
        if "3" in args.tables:
            growth_table(args, model, work)
        if "4" in args.tables:
            backend_table(args, work)
        if "5" in args.tables:
            end_to_end_table(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_same_output(torch_dir: Path, sr_dir: Path) -> None:
    """The two pipelines must compute the same picture, or the comparison means nothing."""
    import cv2
    import numpy as np

    worst = 0
    for path in sorted(torch_dir.iterdir()):
        a = cv2.imread(str(path)).astype(np.int16)
        b = cv2.imread(str(sr_dir / path.name)).astype(np.int16)
        worst = max(worst, int(np.abs(a - b).max()))
    print(f"largest difference between the two pipelines' outputs: {worst} grey levels "
          "(tile seams of the pad-10 loop vs exact tiling)")


if __name__ == "__main__":
    main()
