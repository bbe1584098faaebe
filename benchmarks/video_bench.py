"""Video speed: how much the decode -> upscale -> encode pipeline adds to inference alone.

    python benchmarks/video_bench.py                 # 320x240, 60 frames, x4: ~1 min on 2 cores
    python benchmarks/video_bench.py --quick         # a smoke run
    python benchmarks/video_bench.py --model m.onnx --device cuda --batches 1,4,8

For each --batch (frames handed to the Upscaler at a time; also its tiles per inference call)
it prints frames/s for:
  inference   Upscaler.upscale_batch over frames already decoded into memory: the model and
              the tiling alone.
  pipeline    upscale_video with a nearly free frame function (nearest-neighbour resize to the
              same output size): probe, decode, encode and mux alone, the ceiling the video
              layer puts on any model.
  end to end  upscale_video with the real Upscaler, as `sr-run clip.mp4` runs it.
  overhead    end-to-end time over inference time, minus 1. Decode, inference and encode
              overlap, so this stays well under pipeline time / inference time when there are
              spare cores; on a 2-core CPU the encoder and the model share them.

The clip is ffmpeg's testsrc2 pattern with a sine-tone track (tests/runtime/video_clips.py).
The model is the shipped default x4 model when it is installed, else the tests' ONNX SR network
(convs + depth-to-space + nearest skip), built compact-like with --feat/--convs.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.* helpers


def pick_model(args, work: Path) -> Path:
    from uprez.runtime.models import DefaultModelMissing, default_model_path

    if args.model is not None:
        return args.model
    try:
        return default_model_path(4)
    except DefaultModelMissing:
        from tests.onnx_models import make_sr_model
        from uprez.runtime.metadata import ModelInfo

        return make_sr_model(work / "bench-x4.onnx", scale=4, hidden=args.feat, convs=args.convs,
                             metadata=ModelInfo(scale=4, receptive_field=args.convs,
                                                name=f"bench-{args.feat}f{args.convs}c").to_props())


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def inference_alone(upscaler, frames, batch: int) -> float:
    """Seconds to upscale all `frames`, `batch` at a time, after a warm-up batch."""
    upscaler.upscale_batch(frames[:batch])

    def run():
        for i in range(0, len(frames), batch):
            upscaler.upscale_batch(frames[i:i + batch])

    return timed(run)


def through_video(clip: Path, out: Path, frame_fn, batch: int, args) -> float:
    from uprez.runtime.video.pipeline import upscale_video

    out.unlink(missing_ok=True)
    seconds = timed(lambda: upscale_video(clip, out, frame_fn, batch=batch, codec=args.codec,
                                          crf=args.crf, preset=args.preset, progress=False))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="320x240", help="clip size WxH")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--batches", default="1,4", help="comma-separated --batch values")
    parser.add_argument("--model", type=Path, help="ONNX x4 model (default: shipped or built)")
    parser.add_argument("--feat", type=int, default=16, help="hidden channels of a built model")
    parser.add_argument("--convs", type=int, default=6, help="conv layers of a built model")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda[:N], tensorrt")
    parser.add_argument("--tile", default="auto")
    parser.add_argument("--codec", default=None, help="sr-run's --codec (default h264)")
    parser.add_argument("--crf", type=int, default=None)
    parser.add_argument("--preset", default=None, help="default: sr-run's (medium)")
    parser.add_argument("--quick", action="store_true", help="tiny clip and model: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.size, args.frames, args.batches, args.feat, args.convs = "96x64", 12, "2", 8, 3
    batches = [int(b) for b in args.batches.split(",")]

    import cv2
    import onnxruntime

    from tests.runtime.video_clips import decode_frames, make_clip
    from uprez.runtime.upscaler import Upscaler
    from uprez.runtime.video.ffmpeg import find_ffmpeg

    with tempfile.TemporaryDirectory(prefix="uprez-video-bench-") as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", size=args.size, rate="30000/1001",
                         frames=args.frames)
        frames = list(decode_frames(clip))
        model = pick_model(args, work)
        tile = args.tile if args.tile == "auto" else int(args.tile)
        upscalers = {b: Upscaler(model, device=args.device, tile=tile, batch=b) for b in batches}
        first = upscalers[batches[0]]
        scale = first.scale
        ffmpeg = find_ffmpeg()
        height, width = frames[0].shape[:2]
        print(f"clip: {width}x{height}, {len(frames)} frames at 30000/1001 fps, with audio -> "
              f"{width * scale}x{height * scale}; encoder: {args.codec or 'h264'} "
              f"crf {args.crf if args.crf is not None else 'default'} "
              f"preset {args.preset or 'medium'}")
        which = f"ffmpeg {ffmpeg.version} ({ffmpeg.origin})" if ffmpeg else "OpenCV (no ffmpeg)"
        print(f"model: {first.describe()}; onnxruntime {onnxruntime.__version__}; {which}")

        def nearest(batch):
            return [cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
                    for f in batch]

        # first run pays one-off costs (ffmpeg's encoder lists, page cache); not measured
        through_video(clip, work / "warm-up.mp4", nearest, batches[0], args)
        rows = []
        for batch in batches:
            upscaler = upscalers[batch]
            infer_s = inference_alone(upscaler, frames, batch)
            pipe_s = through_video(clip, work / "pipeline.mp4", nearest, batch, args)
            e2e_s = through_video(clip, work / "e2e.mp4", upscaler.upscale_batch, batch, args)
            rows.append((batch, len(frames) / infer_s, len(frames) / pipe_s,
                         len(frames) / e2e_s, 100 * (e2e_s / infer_s - 1)))

    header = ("batch", "inference fps", "pipeline fps", "end-to-end fps", "overhead")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in header) + "|")
    for batch, infer_fps, pipe_fps, e2e_fps, overhead in rows:
        cells = (str(batch), f"{infer_fps:.1f}", f"{pipe_fps:.1f}", f"{e2e_fps:.1f}",
                 f"{overhead:+.0f} %" if math.isfinite(overhead) else "n/a")
        print("| " + " | ".join(c.rjust(len(h)) for c, h in zip(cells, header, strict=True))
              + " |")


if __name__ == "__main__":
    main()
