"""Short real video clips made with ffmpeg for the video tests, and independent ways to read
them back (ffmpeg's own framecrc/md5 muxers, not uprez's probe), plus a real ONNX frame_fn."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from uprez.runtime.video.ffmpeg import find_ffmpeg

SUBTITLES_SRT = (
    "1\n00:00:00,000 --> 00:00:00,400\nhello there\n\n"
    "2\n00:00:00,400 --> 00:00:00,600\nsecond line\n"
)


def ffmpeg_exe() -> str:
    tool = find_ffmpeg()
    assert tool is not None, "the tests need ffmpeg (imageio-ffmpeg ships one)"
    return tool.exe


def ffmpeg(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args],
                          capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done


def make_clip(path: Path, *, size: str = "64x48", rate: str = "30000/1001", frames: int = 20,
              audio: bool = True, subtitles: bool = False, codec: str = "libx264",
              pix_fmt: str = "yuv420p", audio_codec: str = "aac", moving: bool = False) -> Path:
    """ffmpeg's testsrc2 pattern (or, with `moving`, colour ramps that shift every frame, so no
    two frames are alike) with a 440 Hz sine track and optional subtitles."""
    pattern = f"testsrc2=size={size}:rate={rate}"
    if moving:
        pattern = (f"nullsrc=size={size}:rate={rate},format=gbrp,geq=r='mod(4*X+9*N,256)':"
                   f"g='mod(5*Y+13*N,256)':b='mod(3*(X+Y)+7*N,256)'")
    args = ["-f", "lavfi", "-i", pattern]
    maps = ["-map", "0:v"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        maps += ["-map", "1:a"]
    if subtitles:
        srt = path.with_suffix(".srt")
        srt.write_text(SUBTITLES_SRT)
        args += ["-i", str(srt)]
        maps += ["-map", f"{2 if audio else 1}:s"]
    duration = float(frames / Fraction(rate))
    codec_args = ["-c:v", codec, "-pix_fmt", pix_fmt, "-frames:v", str(frames)]
    if codec == "libvpx-vp9":
        codec_args += ["-deadline", "realtime", "-cpu-used", "8"]
    if codec == "libx265":
        codec_args += ["-x265-params", "log-level=error"]
    if audio:
        codec_args += ["-c:a", audio_codec, "-t", f"{duration:.4f}"]
    if subtitles:
        codec_args += ["-c:s", "mov_text" if path.suffix in (".mp4", ".mov") else "srt"]
    ffmpeg(*args, *maps, *codec_args, "-y", str(path))
    return path


def packet_times(path: Path) -> tuple[str, list[int], int]:
    """Video timebase, the frames' presentation times in order, and when the last one ends,
    read by ffmpeg's framecrc muxer (decode times may differ: they depend on B-frames)."""
    out = ffmpeg("-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-").stdout
    text = out.decode()
    timebase = re.search(r"#tb 0: (\S+)", text).group(1)
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    times = sorted((int(r[2]), int(r[3])) for r in rows)
    return timebase, [pts for pts, _ in times], times[-1][0] + times[-1][1]


def stream_md5(path: Path, selector: str) -> str:
    """MD5 of a stream's packets, copied as they are (e.g. selector '0:a:0')."""
    return ffmpeg("-i", str(path), "-map", selector, "-c", "copy", "-f", "md5", "-").stdout.decode()


def decoded_audio(path: Path) -> np.ndarray:
    raw = ffmpeg("-i", str(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-").stdout
    return np.frombuffer(raw, np.int16)


def describe(path: Path) -> str:
    """ffmpeg's own description of a file's streams."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True)
    return done.stderr


def decode_frames(path: Path, pix_fmt: str = "bgr24") -> np.ndarray:
    """All frames as an N x H x W x 3 array, read by ffmpeg directly."""
    size = re.search(r"Video: .*?, (\d+)x(\d+)", describe(path))
    width, height = int(size.group(1)), int(size.group(2))
    dtype = np.uint16 if pix_fmt == "bgr48le" else np.uint8
    raw = ffmpeg("-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", pix_fmt,
                 "-fps_mode", "passthrough", "-").stdout
    return np.frombuffer(raw, dtype).reshape(-1, height, width, 3)


def subtitle_text(path: Path) -> str:
    return ffmpeg("-i", str(path), "-map", "0:s:0", "-f", "srt", "-").stdout.decode()


class OnnxFrameFn:
    """Upscales BGR batches with a real onnxruntime session (RGB float in 0..1 inside)."""

    def __init__(self, model_path: Path):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        self.calls: list[tuple[int, np.dtype]] = []

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        peak = 65535.0 if frames[0].dtype == np.uint16 else 255.0
        self.calls.append((len(frames), frames[0].dtype))
        batch = np.stack(frames)[..., ::-1].astype(np.float32) / peak
        nchw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        out = self.session.run(None, {"input": nchw})[0]
        out = np.clip(out.transpose(0, 2, 3, 1)[..., ::-1] * peak + 0.5, 0, peak)
        return list(out.astype(frames[0].dtype))

    @property
    def frames_seen(self) -> int:
        return sum(count for count, _ in self.calls)
