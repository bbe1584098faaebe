"""The last step: finished segments joined, with the source's audio and subtitles copied in.

Audio is always copied bit for bit. Subtitles are copied where the container can hold them;
text subtitles are rewritten to the container's own text format where it cannot (MP4 only holds
mov_text, WebM only WebVTT), and picture subtitles that a container cannot hold are left out,
with a warning either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from uprez.runtime import console
from uprez.runtime.video.codecs import CONTAINER_FORMATS, EncoderSettings
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg, clean_message
from uprez.runtime.video.probe import VideoInfo

TEXT_SUBTITLES = ("subrip", "ass", "ssa", "webvtt", "mov_text", "text")
# container -> (subtitle codecs it holds as they are, the text format it rewrites others to);
# Matroska holds every subtitle codec except MP4's mov_text
_MKV_HOLDS = ("subrip", "ass", "ssa", "webvtt", "text", "dvd_subtitle", "hdmv_pgs_subtitle",
              "dvb_subtitle", "dvb_teletext", "arib_caption")
_SUBTITLE_RULES: dict[str, tuple[tuple[str, ...], str | None]] = {
    ".mkv": (_MKV_HOLDS, "srt"),
    ".mp4": (("mov_text",), "mov_text"),
    ".m4v": (("mov_text",), "mov_text"),
    ".mov": (("mov_text",), "mov_text"),
    ".webm": (("webvtt",), "webvtt"),
    ".avi": ((), None),
}


@dataclass(frozen=True)
class StreamPlan:
    """ffmpeg arguments that map and code the source's (input #1) audio and subtitles."""

    audio_args: tuple[str, ...]
    subtitle_args: tuple[str, ...]

    @property
    def args(self) -> tuple[str, ...]:
        return self.audio_args + self.subtitle_args


def plan_streams(info: VideoInfo, container: str) -> StreamPlan:
    audio: list[str] = []
    for stream in info.audio:
        audio += ["-map", f"1:{stream.index}"]
    audio += ["-c:a", "copy"]
    args: list[str] = []
    holds, text_format = _SUBTITLE_RULES[container]
    kept = 0
    for stream in info.subtitles:
        if stream.codec in holds:
            codec = "copy"
        elif text_format and stream.codec in TEXT_SUBTITLES:
            codec = text_format
            console.warn(f"subtitle stream #{stream.index} ({stream.codec}) is rewritten as "
                         f"{text_format}: a {container} file cannot hold {stream.codec}")
        else:
            console.warn(f"subtitle stream #{stream.index} ({stream.codec}) is left out: a "
                         f"{container} file cannot hold it (write .mkv to keep it)")
            continue
        args += ["-map", f"1:{stream.index}", f"-c:s:{kept}", codec]
        kept += 1
    if container == ".mkv" and any(s.kind == "attachment" for s in info.streams):
        args += ["-map", "1:t"]  # fonts that ASS subtitles need
    return StreamPlan(tuple(audio), tuple(args))


def _container_args(container: str, settings: EncoderSettings) -> list[str]:
    args = ["-f", CONTAINER_FORMATS[container]]
    if container in (".mp4", ".m4v", ".mov"):
        args += ["-movflags", "+faststart"]
        if settings.codec == "h265":
            args += ["-tag:v", "hvc1"]  # what Apple players look for
    return args


def preflight(ffmpeg: Ffmpeg, src: Path, info: VideoInfo, streams: StreamPlan,
              settings: EncoderSettings, container: str, scratch: Path) -> None:
    """Make half a second of the output before hours of upscaling: a codec option or an audio
    stream the container refuses fails here, with ffmpeg's reason. (Subtitles follow fixed
    rules, and a short cut may hold none of their packets, which ffmpeg counts as a failure.)"""
    rate = f"{info.fps.numerator}/{info.fps.denominator}"
    done = ffmpeg.run([
        "-v", "error", "-f", "lavfi", "-i", f"color=c=gray:s=64x64:r={rate}:d=0.5",
        "-i", str(src), "-map", "0:v", *streams.audio_args, *settings.ffmpeg_args(),
        "-t", "0.5", *_container_args(container, settings), "-y", str(scratch),
    ], timeout=300)
    scratch.unlink(missing_ok=True)
    if done.returncode != 0:
        raise VideoError(f"cannot write {settings.codec} ({settings.encoder}) with this "
                         f"source's audio into a {container} file: {first_line(done.stderr)} "
                         f"(an .mkv output holds any audio as it is)")


def mux(ffmpeg: Ffmpeg, segments: list[Path], src: Path, streams: StreamPlan,
        settings: EncoderSettings, container: str, out: Path, *, video_delay: float = 0.0) -> None:
    """Join `segments` (concat demuxer: timestamps carried over exactly) and the source's
    streams into `out`; the video starts `video_delay` seconds after the source's start."""
    listing = out.with_name(out.name + ".ffconcat")
    lines = ["ffconcat version 1.0"]
    for segment in segments:
        quoted = str(segment.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    listing.write_text("\n".join(lines) + "\n")
    done = ffmpeg.run([
        "-v", "error", *(["-itsoffset", f"{video_delay:.6f}"] if video_delay else []),
        "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(src),
        "-map", "0:v:0", "-c:v", "copy", *streams.args, "-map_metadata", "1",
        "-map_chapters", "1", *_container_args(container, settings), "-y", str(out),
    ], timeout=None)
    listing.unlink(missing_ok=True)
    if done.returncode != 0:
        raise VideoError(f"joining the encoded video with the source's audio failed: "
                         f"{first_line(done.stderr)}")


def first_line(stderr: str) -> str:
    """The cause, without ffmpeg's '[muxer @ 0x...]' prefix; later lines are consequences."""
    lines = stderr.strip().splitlines()
    return clean_message(lines[0]) if lines else "no reason given"
