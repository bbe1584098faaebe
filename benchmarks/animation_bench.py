"""Animations and metadata: what the animation path and keeping metadata cost beside inference.

    python benchmarks/animation_bench.py            # 160x120, 24 frames, x4: ~1 min on 2 cores
    python benchmarks/animation_bench.py --quick    # a smoke run

Table 1, per animation format and --batch (frames handed to the Upscaler at a time):
  inference   Upscaler.upscale_images over the decoded frames: the model and the tiling alone.
  end to end  the whole animation path as `sr-run anim.gif` runs it: read (Pillow), upscale,
              palette (GIF: ffmpeg palettegen + paletteuse), encode (Pillow), atomic write.
  overhead    end-to-end time over inference time, minus 1.

Table 2, one upscaled photo (--photo-mp megapixels out) written with and without a colour
profile and EXIF: OpenCV encodes it without (as before); with them Pillow encodes JPEG, WebP and
TIFF (uncompressed, for EXIF's sub-directories), and OpenCV's own metadata writer PNG.

The animation is a smooth gradient with a disc moving over it and a transparent corner. The
model is the shipped default x4 model when installed, else the tests' ONNX SR network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.* helpers


def pick_model(work: Path) -> Path:
    from uprez.runtime.models import DefaultModelMissing, default_model_path

    try:
        return default_model_path(4)
    except DefaultModelMissing:
        from tests.onnx_models import make_sr_model
        from uprez.runtime.metadata import ModelInfo

        return make_sr_model(work / "bench-x4.onnx", scale=4, hidden=32, convs=8,
                             metadata=ModelInfo(scale=4, receptive_field=8).to_props())


def animation_frames(count: int, height: int, width: int) -> list[np.ndarray]:
    """RGBA frames: a gradient, a disc crossing it, a transparent top-left corner."""
    import cv2

    from tests.runtime.helpers import smooth

    frames = []
    for number in range(count):
        frame = cv2.cvtColor(smooth(height, width), cv2.COLOR_BGR2RGBA)
        centre = (int(width * (0.2 + 0.6 * number / max(1, count - 1))), height // 2)
        cv2.circle(frame, centre, height // 5, (230, 60, 40, 255), -1)
        frame[:height // 4, :width // 4, 3] = 0
        frames.append(frame)
    return frames


def write_animation(path: Path, frames: list[np.ndarray], fmt: str) -> None:
    from PIL import Image

    images = [Image.fromarray(frame, "RGBA") for frame in frames]
    save = {"lossless": True} if fmt == "WEBP" else {}
    images[0].save(path, fmt, save_all=True, append_images=images[1:], duration=80, loop=0,
                   **save)


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def animation_table(args, work: Path, model: Path) -> None:
    from uprez.runtime.animation import AnimationFile
    from uprez.runtime.animation_jobs import AnimationOptions, upscale_animation
    from uprez.runtime.discover import ANIMATION, Job
    from uprez.runtime.upscaler import Upscaler

    frames = animation_frames(args.frames, args.height, args.width)
    print(f"\n{args.frames} frames of {args.width}x{args.height} -> "
          f"{args.width * 4}x{args.height * 4}, {model.name}, CPU")
    print(f"{'format':<7} {'batch':>5} {'inference':>14} {'end to end':>14} {'overhead':>9}")
    for suffix, fmt in ((".gif", "GIF"), (".png", "PNG"), (".webp", "WEBP")):
        source = work / f"anim{suffix}"
        write_animation(source, frames, fmt)
        with AnimationFile(source) as opened:
            decoded = opened.read().frames
        for batch in args.batches:
            upscaler = Upscaler(model, device="cpu", batch=batch)
            upscaler.upscale_images(decoded[:batch])  # warm-up

            def inference(upscaler=upscaler, batch=batch, decoded=decoded):
                for start in range(0, len(decoded), batch):
                    upscaler.upscale_images(decoded[start:start + batch])

            alone = timed(inference)
            job = Job(source, work / "out" / f"anim-{batch}{suffix}", ANIMATION)
            whole = timed(lambda job=job, upscaler=upscaler: upscale_animation(
                job, upscaler, AnimationOptions(), set()))
            print(f"{fmt:<7} {batch:>5} {len(decoded) / alone:>8.2f} fr/s "
                  f"{len(decoded) / whole:>8.2f} fr/s {whole / alone - 1:>8.0%}")


def metadata_table(args, work: Path) -> None:
    import cv2

    from tests.runtime.helpers import smooth
    from tests.runtime.photo_files import camera_exif, display_p3_profile
    from uprez.runtime.base.image_metadata import ImageMetadata
    from uprez.runtime.base.imageio import write_image

    side = int((args.photo_mp * 1e6) ** 0.5)
    image = cv2.resize(smooth(64, 64), (side, side), interpolation=cv2.INTER_CUBIC)
    image = cv2.add(image, np.random.default_rng(0).integers(0, 8, image.shape, np.uint8))
    metadata = ImageMetadata(icc_profile=display_p3_profile(),
                             exif=camera_exif(1, width=side, height=side).tobytes()[6:])
    print(f"\nwriting a {side}x{side} photo ({side * side / 1e6:.1f} MP), best of 3")
    print(f"{'format':<7} {'no metadata':>20} {'profile + EXIF':>18} {'ratio':>7}  sizes")
    for suffix in (".png", ".jpg", ".webp", ".tif"):
        plain_path, tagged_path = work / f"plain{suffix}", work / f"tagged{suffix}"
        plain = min(timed(lambda p=plain_path: write_image(p, image)) for _ in range(3))
        tagged = min(timed(lambda p=tagged_path: write_image(p, image, metadata=metadata))
                     for _ in range(3))
        sizes = f"{(work / f'plain{suffix}').stat().st_size / 1e6:.1f}/" \
                f"{(work / f'tagged{suffix}').stat().st_size / 1e6:.1f} MB"
        print(f"{suffix[1:]:<7} {plain:>18.2f} s {tagged:>16.2f} s {tagged / plain:>6.2f}x  "
              f"{sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--batches", type=lambda text: [int(b) for b in text.split(",")],
                        default=[1, 4])
    parser.add_argument("--photo-mp", type=float, default=16.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.width, args.height, args.photo_mp = 6, 64, 48, 1.0
    with tempfile.TemporaryDirectory(prefix="uprez-bench-") as folder:
        work = Path(folder)
        animation_table(args, work, pick_model(work))
        metadata_table(args, work)


if __name__ == "__main__":
    main()
