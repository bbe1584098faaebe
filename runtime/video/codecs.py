"""`--codec/--crf/--preset/--pix-fmt` turned into the ffmpeg encoder arguments this build allows."""

from __future__ import annotations

from dataclasses import dataclass

from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow")


@dataclass(frozen=True)
class CodecSpec:
    """One `--codec` choice: the encoders that can make it (first available wins) and its knobs."""

    name: str
    encoders: tuple[str, ...]
    crf_range: tuple[int, int]
    default_crf: int
    default_preset: str
    # how x264-style preset names read for encoders whose presets are numbers (speed levels)
    preset_numbers: dict[str, int] | None = None


# Default CRFs aim at "looks like the upscale": upscaled detail is what the user paid for.
CODECS: dict[str, CodecSpec] = {
    "h264": CodecSpec("h264", ("libx264",), (0, 51), 18, "medium"),
    "h265": CodecSpec("h265", ("libx265",), (0, 51), 20, "medium"),
    "vp9": CodecSpec("vp9", ("libvpx-vp9",), (0, 63), 30, "medium",
                     dict(zip(X264_PRESETS, (8, 7, 6, 5, 4, 2, 1, 1, 0), strict=True))),
    "av1": CodecSpec("av1", ("libsvtav1", "libaom-av1"), (0, 63), 30, "medium"),
}
_SVT_PRESETS = dict(zip(X264_PRESETS, (12, 11, 10, 9, 8, 6, 5, 4, 3), strict=True))
_AOM_PRESETS = dict(zip(X264_PRESETS, (8, 8, 7, 7, 6, 5, 4, 3, 2), strict=True))

# Which video codecs each output container can hold (by file extension).
CONTAINER_CODECS: dict[str, tuple[str, ...]] = {
    ".mp4": ("h264", "h265", "vp9", "av1"),
    ".m4v": ("h264", "h265", "vp9", "av1"),
    ".mov": ("h264", "h265", "vp9", "av1"),
    ".mkv": ("h264", "h265", "vp9", "av1"),
    ".webm": ("vp9", "av1"),
    ".avi": ("h264", "h265", "vp9"),
}
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
                     ".webm": "webm", ".avi": "avi"}
# Containers that keep no presentation times: AVI's index gives the n-th video frame the time
# n / (its stream rate). So their stream rate must be the frame rate, and their frames must be
# stored in display order: B-frames (decoded before the frames they precede) would put every
# frame late by the reorder depth, two frames with x264's defaults.
FRAME_INDEXED = frozenset({".avi"})


@dataclass(frozen=True)
class EncoderSettings:
    codec: str
    encoder: str
    crf: int
    preset: str
    pix_fmt: str
    # False for FRAME_INDEXED containers; only x264/x265 make B-frames (VP9's hidden reference
    # frames travel inside the packet of a shown frame, and AV1 does not go into AVI)
    b_frames: bool = True

    @property
    def high_bit_depth(self) -> bool:
        return "10" in self.pix_fmt or "12" in self.pix_fmt

    def ffmpeg_args(self) -> list[str]:
        """Encoder arguments for ffmpeg (after the inputs, before the output)."""
        args = ["-c:v", self.encoder, "-pix_fmt", self.pix_fmt]
        if self.encoder in ("libx264", "libx265"):
            args += ["-crf", str(self.crf), "-preset", self.preset]
            if self.encoder == "libx265":
                args += ["-x265-params", "log-level=error"]
            if not self.b_frames:
                args += ["-bf", "0"]
        elif self.encoder == "libvpx-vp9":
            args += ["-crf", str(self.crf), "-b:v", "0", "-deadline", "good",
                     "-cpu-used", self.preset, "-row-mt", "1"]
        elif self.encoder == "libsvtav1":
            args += ["-crf", str(max(1, self.crf)), "-preset", self.preset,
                     "-svtav1-params", "report=0"]
        elif self.encoder == "libaom-av1":
            args += ["-crf", str(self.crf), "-b:v", "0", "-cpu-used", self.preset,
                     "-row-mt", "1"]
        return args


def default_codec(container: str) -> str:
    """h264 plays everywhere; WebM only holds VP9/AV1."""
    return "vp9" if container == ".webm" else "h264"


def resolve_encoder(ffmpeg: Ffmpeg, *, codec: str | None, crf: int | None, preset: str | None,
                    pix_fmt: str | None, container: str, high_bit_depth: bool) -> EncoderSettings:
    """Check the request against this ffmpeg build and the output container; fill in defaults."""
    container = container.lower()
    if container not in CONTAINER_CODECS:
        raise VideoError(f"cannot write video files ending in {container!r}; use one of "
                         f"{', '.join(sorted(CONTAINER_CODECS))}")
    codec = (codec or default_codec(container)).lower()
    if codec not in CODECS:
        raise VideoError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    if codec not in CONTAINER_CODECS[container]:
        raise VideoError(f"a {container} file cannot hold {codec} video; use --codec "
                         f"{' or '.join(CONTAINER_CODECS[container])}, or another output type")
    spec = CODECS[codec]
    available = ffmpeg.encoders()
    encoder = next((e for e in spec.encoders if e in available), None)
    if encoder is None:
        usable = [name for name, s in CODECS.items() if any(e in available for e in s.encoders)]
        raise VideoError(f"this ffmpeg ({ffmpeg.exe}) has no {codec} encoder "
                         f"({' or '.join(spec.encoders)}); it can write: {', '.join(usable)}")
    crf = spec.default_crf if crf is None else crf
    low, high = spec.crf_range
    if not low <= crf <= high:
        raise VideoError(f"--crf {crf} is out of range for {codec}: {low}..{high}")
    return EncoderSettings(codec, encoder, crf, _preset(spec, encoder, preset),
                           _pix_fmt(ffmpeg, encoder, pix_fmt, high_bit_depth),
                           b_frames=container not in FRAME_INDEXED)


def _preset(spec: CodecSpec, encoder: str, preset: str | None) -> str:
    preset = (preset or spec.default_preset).lower()
    numbers = {"libsvtav1": _SVT_PRESETS, "libaom-av1": _AOM_PRESETS}.get(encoder,
                                                                        spec.preset_numbers)
    if numbers is None:
        if preset not in (*X264_PRESETS, "placebo"):
            raise VideoError(f"--preset {preset!r} is not an {encoder} preset; use one of "
                             f"{', '.join(X264_PRESETS)}")
        return preset
    if preset.lstrip("-").isdigit():
        return preset  # a speed level given directly, e.g. --preset 8 for SVT-AV1
    if preset not in numbers:
        raise VideoError(f"--preset {preset!r} is not understood for {spec.name}; use one of "
                         f"{', '.join(X264_PRESETS)} or an {encoder} speed number")
    return str(numbers[preset])


def _pix_fmt(ffmpeg: Ffmpeg, encoder: str, pix_fmt: str | None, high_bit_depth: bool) -> str:
    supported = ffmpeg.encoder_pix_fmts(encoder)
    if pix_fmt is not None:
        if supported and pix_fmt not in supported:
            raise VideoError(f"--pix-fmt {pix_fmt} is not supported by {encoder}; it takes: "
                             f"{' '.join(supported)}")
        return pix_fmt
    if high_bit_depth and (not supported or "yuv420p10le" in supported):
        return "yuv420p10le"
    return "yuv420p"
