"""`sr-run --cluster` speed: throughput with one and two worker nodes, and what the plan for N
machines rests on (what a frame costs to move, what the driver spends per item).

    nice -n 15 python benchmarks/cluster_bench.py            # ~3 min on 2 cores
    nice -n 15 python benchmarks/cluster_bench.py --quick    # a smoke run

Part 1, no Ray needed (the facts behind the plan):
  frame bytes   raw size of one input and one upscaled frame, and the upscaled frame as PNG,
                with the time to encode it: a worker writes its outputs to the shared
                filesystem itself, so this is what each frame puts on the network.
  item bytes    a pickled range task (what the driver sends for a range of video frames) and a
                pickled chunk of image jobs, per image: the driver moves no pixels.
  skip rate     frames/s ffmpeg decodes to reach a range's start (each range decodes from
                the start of the video: the price of frame-exact ranges).
Part 2, on a real Ray cluster on 127.0.0.1 (a head node with no worker slot, and one or two
worker nodes of one CPU slot each; tests/runtime/ray_cluster.py): images/s over a folder and
frames/s over a video for plain sr-run and for --cluster with 1 and 2 worker nodes, in one run,
side by side. On a 2-core machine two worker nodes share the same two cores with the driver,
ffmpeg and Ray, so the 2-node figure shows the overhead, not the scaling of separate machines.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.* helpers


def part1(work: Path, model: Path, size: tuple[int, int], frames: int) -> None:
    import cv2
    import numpy as np

    from tests.runtime.video_clips import make_clip
    from uprez.runtime.discover import Job
    from uprez.runtime.pipeline import RunOptions
    from uprez.runtime.upscaler import Upscaler
    from uprez.runtime.video.color import plan_colors
    from uprez.runtime.video.decode import FrameDecoder
    from uprez.runtime.video.ffmpeg import find_ffmpeg
    from uprez.runtime.video.probe import probe
    from uprez.runtime.video.ranges import RangeTask, split

    width, height = size
    upscaler = Upscaler(model, device="cpu")
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    frame = cv2.GaussianBlur(frame, (0, 0), 2)  # photo-like, so PNG compresses as it would
    out = upscaler.upscale(frame)
    start = time.perf_counter()
    ok, png = cv2.imencode(".png", out, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    png_s = time.perf_counter() - start
    print(f"\nframe bytes ({width}x{height} in, x{upscaler.scale})")
    print(f"  input raw     {frame.nbytes / 1e6:8.2f} MB")
    print(f"  output raw    {out.nbytes / 1e6:8.2f} MB")
    print(f"  output PNG    {len(png) / 1e6:8.2f} MB, encoded in {png_s * 1000:.0f} ms")

    clip = make_clip(work / "skip.mp4", size=f"{width}x{height}", frames=frames, audio=False)
    ffmpeg = find_ffmpeg()
    info = probe(ffmpeg, clip)
    task = RangeTask(clip.absolute(), info, plan_colors(info), split(frames, 500)[0],
                     (work / "segment_000000.mp4").absolute())
    chunk = [Job(work / f"photo{i}.jpg", work / "out" / f"photo{i}.jpg") for i in range(8)]
    print("\nitem bytes (pickled, driver to worker)")
    print(f"  range task    {len(pickle.dumps(task)):8d} B per range")
    print(f"  image chunk   {len(pickle.dumps((chunk, RunOptions()))) / 8:8.0f} B per image")
    decoder = FrameDecoder(ffmpeg, clip, info, plan_colors(info), start=frames - 1)
    start = time.perf_counter()
    got = sum(1 for _ in decoder.frames())
    skip_s = time.perf_counter() - start
    print(f"\nskip rate: {frames - 1} frames decoded to reach the last one "
          f"({got} read) in {skip_s:.2f} s: {(frames - 1) / skip_s:.0f} frames/s")


def part2(work: Path, model: Path, images: int, frames: int, size: tuple[int, int]) -> None:
    import numpy as np

    from tests.runtime.ray_cluster import RayCluster
    from tests.runtime.video_clips import make_clip
    from uprez.runtime.base import console
    from uprez.runtime.base.imageio import write_image

    folder = work / "photos"
    rng = np.random.default_rng(1)
    for index in range(images):
        write_image(folder / f"p{index:03d}.png", rng.integers(0, 256, (*size[::-1], 3),
                                                                np.uint8))
    clip = make_clip(work / "clip.mp4", size=f"{size[0]}x{size[1]}", frames=frames)
    console.set_quiet(True)
    rows = [("plain sr-run", *_measure(work / "plain", folder, clip, model, None))]
    cluster = RayCluster(head_cpus=0)  # the head is the driver's: workers only on worker nodes
    try:
        rows.append(("--cluster, 1 node", *_measure(work / "one", folder, clip, model,
                                                     cluster.address)))
        cluster.start_worker_node(extra=True)
        rows.append(("--cluster, 2 nodes", *_measure(work / "two", folder, clip, model,
                                                      cluster.address)))
    finally:
        cluster.stop()
    print(f"\nthroughput ({images} images and {frames} video frames of {size[0]}x{size[1]})")
    print(f"  {'run':20s} {'images/s':>9s} {'frames/s':>9s}")
    for name, image_rate, frame_rate in rows:
        print(f"  {name:20s} {image_rate:9.2f} {frame_rate:9.2f}")


def _measure(out: Path, folder: Path, clip: Path, model: Path, address: str | None):
    from uprez.runtime.animation_jobs import AnimationOptions
    from uprez.runtime.cluster.running import run_plan_on_cluster
    from uprez.runtime.pipeline import RunOptions
    from uprez.runtime.planning import ModelSettings, plan_run
    from uprez.runtime.running import run_plan
    from uprez.runtime.video_jobs import VideoOptions

    rates = []
    for inputs, count in (([folder], len(list(folder.iterdir()))), ([clip], None)):
        plan = plan_run([str(i) for i in inputs], output=out,
                        model=ModelSettings(path=model, device="cpu"),
                        image_options=RunOptions(), animation_options=AnimationOptions(),
                        video_options=VideoOptions(segment_frames=50))
        start = time.perf_counter()
        code = run_plan(plan) if address is None else run_plan_on_cluster(plan, address)
        seconds = time.perf_counter() - start
        assert code == 0, f"exit {code}"
        from uprez.runtime.video.probe import probe

        if count is None:
            from uprez.runtime.video.ffmpeg import find_ffmpeg

            count = probe(find_ffmpeg(), out / clip.name).frame_count
        rates.append(count / seconds)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--model", type=Path, help="ONNX model (default: shipped compact x4)")
    parser.add_argument("--no-ray", action="store_true", help="part 1 only")
    args = parser.parse_args()
    from uprez.runtime.models import default_model_path

    model = args.model or default_model_path(4)
    with tempfile.TemporaryDirectory(prefix="uprez-cluster-bench-") as folder:
        work = Path(folder)
        part1(work, model, (320, 240) if args.quick else (640, 360), 60 if args.quick else 600)
        if not args.no_ray:
            part2(work, model, images=8 if args.quick else 24, frames=20 if args.quick else 150,
                  size=(64, 48) if args.quick else (160, 120))


if __name__ == "__main__":
    main()
