"""A GIF's 256 colours, chosen from the upscaled frames and mapped onto them.

ffmpeg does this best of the tools at hand: palettegen gathers the colours of every frame into
one palette, paletteuse maps each frame onto it with error-diffusion dithering, re-dithering
only the rectangle that changed from the frame before, so still parts of an animation stay
still instead of crawling. Without ffmpeg (UPREZ_FFMPEG=none) Pillow's median cut and
Floyd-Steinberg dithering stand in.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uprez.runtime.animation.frames import AnimationError
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg, find_ffmpeg
from uprez.runtime.video.procs import FfmpegProcess

ALPHA_THRESHOLD = 128  # GIF transparency is all or nothing: below this a pixel is transparent
DITHER = "sierra2_4a"


@dataclass(frozen=True)
class PalettedFrames:
    indices: list[np.ndarray]  # HxW uint8 per frame
    palette: bytes  # 256 RGB entries
    transparent: int | None  # the index of the transparent entry, if the frames have one


def quantize(frames: list[np.ndarray]) -> PalettedFrames:
    """Same-size BGR or BGRA uint8 frames onto one palette made from all of them."""
    try:
        ffmpeg = find_ffmpeg()
    except VideoError as exc:  # UPREZ_FFMPEG names no binary
        raise AnimationError(str(exc)) from None
    if ffmpeg is None:
        return _quantize_with_pillow(frames)
    return _quantize_with_ffmpeg(ffmpeg, frames)


def _quantize_with_ffmpeg(ffmpeg: Ffmpeg, frames: list[np.ndarray]) -> PalettedFrames:
    height, width = frames[0].shape[:2]
    alpha = frames[0].shape[2] == 4
    source = ["-f", "rawvideo", "-pix_fmt", "bgra" if alpha else "bgr24",
              "-s", f"{width}x{height}", "-framerate", "25", "-i", "pipe:0"]
    outputs: list[np.ndarray] = []

    def read_paletted(stdout) -> None:
        for _ in frames:  # pal8 frames: the indices, then the 256 entries as BGRA
            indices = np.empty((height, width), np.uint8)
            entries = np.empty((256, 4), np.uint8)
            if not (_read_into(stdout, indices) and _read_into(stdout, entries)):
                return
            outputs.append(indices)
        outputs.append(entries)

    with tempfile.TemporaryDirectory(prefix="uprez-gif-") as folder:
        palette_file = Path(folder) / "palette.rgba"
        generate = f"palettegen=max_colors=256:reserve_transparent={int(alpha)}:stats_mode=full"
        _pipe(ffmpeg, [*source, "-vf", generate, "-f", "rawvideo", "-pix_fmt", "rgba", "-y",
                       str(palette_file)], frames, None)
        mapping = (f"[0:v][1:v]paletteuse=dither={DITHER}:diff_mode=rectangle:"
                   f"alpha_threshold={ALPHA_THRESHOLD}")
        _pipe(ffmpeg, [*source, "-f", "rawvideo", "-pix_fmt", "rgba", "-s", "16x16",
                       "-i", str(palette_file), "-lavfi", mapping,
                       "-f", "rawvideo", "-pix_fmt", "pal8", "pipe:1"], frames, read_paletted)
    if len(outputs) != len(frames) + 1:
        raise AnimationError(f"ffmpeg mapped {max(0, len(outputs) - 1)} of {len(frames)} frames "
                             "onto the GIF palette")
    entries = outputs.pop()
    clear = np.flatnonzero(entries[:, 3] == 0)
    transparent = int(clear[0]) if alpha and clear.size else None
    return PalettedFrames(outputs, entries[:, [2, 1, 0]].tobytes(), transparent)


def _pipe(ffmpeg: Ffmpeg, args: list[str], frames: list[np.ndarray], read) -> None:
    """Run ffmpeg with the frames on its stdin and `read` (if given) taking its stdout."""
    process = FfmpegProcess(ffmpeg, args, stdin=True, stdout=read is not None)
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            for frame in frames:
                process.process.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError, ValueError) as exc:  # ffmpeg stopped; it says why
            failure.append(exc)
        finally:
            try:
                process.process.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, name="uprez-gif-palette", daemon=True)
    feeder.start()
    try:
        if read is not None:
            read(process.process.stdout)
        code = process.wait()
    except BaseException:
        process.kill()
        raise
    finally:
        feeder.join(timeout=10)
    if code != 0 or failure:
        raise AnimationError(f"ffmpeg could not make the GIF palette: {process.first_message()}")


def _read_into(stream, array: np.ndarray) -> bool:
    """Fill `array` from the stream; False when the stream ends first."""
    view, filled = memoryview(array.reshape(-1)), 0
    while filled < array.nbytes:
        got = stream.readinto(view[filled:])
        if not got:
            return False
        filled += got
    return True


def _quantize_with_pillow(frames: list[np.ndarray]) -> PalettedFrames:
    from PIL import Image

    alpha = frames[0].shape[2] == 4
    colours = 255 if alpha else 256  # one entry stays free for transparency
    # one palette for all frames: median cut over an evenly thinned sample of their (visible)
    # pixels, about a megapixel in all
    step = max(1, len(frames) * frames[0].shape[0] * frames[0].shape[1] // (1 << 20))
    samples = [frame.reshape(-1, frame.shape[2])[::step] for frame in frames]
    pixels = np.concatenate(samples)
    if alpha and (pixels[:, 3] >= ALPHA_THRESHOLD).any():
        pixels = pixels[pixels[:, 3] >= ALPHA_THRESHOLD]
    sample = np.ascontiguousarray(pixels[None, :, 2::-1])
    palette_image = Image.fromarray(sample, "RGB").quantize(colours, Image.Quantize.MEDIANCUT)
    entries = (palette_image.getpalette() or [])[:3 * colours]
    entries += entries[:3] * (256 - len(entries) // 3)  # unused entries repeat the first colour
    palette_image.putpalette(entries)
    indices = []
    for frame in frames:
        rgb = Image.fromarray(np.ascontiguousarray(frame[:, :, 2::-1]), "RGB")
        mapped = np.array(rgb.quantize(palette=palette_image, dither=Image.Dither.FLOYDSTEINBERG))
        if alpha:
            mapped[mapped == 255] = 0  # the same colour as entry 0, which opaque pixels keep
            mapped[frame[:, :, 3] < ALPHA_THRESHOLD] = 255
        indices.append(mapped)
    return PalettedFrames(indices, bytes(entries), 255 if alpha else None)
