"""The last step: finished segments joined, with the source's audio and subtitles copied in.

Audio is always copied bit for bit. Subtitles are copied where the container can hold them;
text subtitles are rewritten to the container's own text format where it cannot (MP4 only holds
mov_text, WebM only WebVTT), and picture subtitles that a container cannot hold are left out,
with a warning either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from uprez.runtime.base import console
from uprez.runtime.video import avi
from uprez.runtime.video.codecs import CONTAINER_FORMATS, FRAME_INDEXED, EncoderSettings
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg, first_error
from uprez.runtime.video.probe import VideoInfo, picture_after_sound, streams_of

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


def _container_args(container: str, settings: EncoderSettings, fps: Fraction) -> list[str]:
    args = ["-f", CONTAINER_FORMATS[container]]
    if container in FRAME_INDEXED:
        # The clock is the frame rate: a copy would keep a finer one (AVI gets 1/600 from the
        # segments' MP4), and players would say 600 fps. Chunks are placed by count, so
        # shifting every timestamp past a negative one (AAC's priming) would only move the
        # frames after the first.
        args += ["-time_base:v", f"{fps.denominator}/{fps.numerator}",
                 "-avoid_negative_ts", "disabled"]
    if container in (".mp4", ".m4v", ".mov"):
        args += ["-movflags", "+faststart"]
        if settings.codec == "h265":
            args += ["-tag:v", "hvc1"]  # what Apple players look for
    return args


def preflight(ffmpeg: Ffmpeg, src: Path, info: VideoInfo, streams: StreamPlan,
              settings: EncoderSettings, container: str, scratch: Path) -> StreamPlan:
    """Make half a second of the output before hours of upscaling: a codec option or an audio
    stream the container refuses fails here, with ffmpeg's reason. (Subtitles follow fixed
    rules, and a short cut may hold none of their packets, which ffmpeg counts as a failure.)

    Returns the plan to join with: audio that even Matroska cannot hold as it is (an old
    Flash codec) is re-encoded losslessly as FLAC, with a warning."""
    failure = _try_output(ffmpeg, src, info, streams, settings, container, scratch)
    if failure is None:
        return streams
    if container == ".mkv" and info.audio:
        as_flac = replace(streams, audio_args=streams.audio_args[:-1] + ("flac",))
        if _try_output(ffmpeg, src, info, as_flac, settings, container, scratch) is None:
            codecs = ", ".join(sorted({s.codec for s in info.audio}))
            console.warn(f"{src.name}: its audio ({codecs}) cannot be copied into .mkv as it "
                         "is; it is re-encoded losslessly as FLAC")
            return as_flac
        hint = ""
    else:
        hint = " (an .mkv output holds any audio as it is)"
    raise VideoError(f"cannot write {settings.codec} ({settings.encoder}) with this "
                     f"source's audio into a {container} file: {failure}{hint}")


def _try_output(ffmpeg: Ffmpeg, src: Path, info: VideoInfo, streams: StreamPlan,
                settings: EncoderSettings, container: str, scratch: Path) -> str | None:
    """None when half a second of this output can be written, else ffmpeg's reason."""
    rate = f"{info.fps.numerator}/{info.fps.denominator}"
    done = ffmpeg.run([
        "-v", "error", "-f", "lavfi", "-i", f"color=c=gray:s=64x64:r={rate}:d=0.5",
        "-i", str(src), "-map", "0:v", *streams.audio_args, *settings.ffmpeg_args(),
        "-t", "0.5", *_container_args(container, settings, info.fps), "-y", str(scratch),
    ], timeout=300)
    scratch.unlink(missing_ok=True)
    return None if done.returncode == 0 else first_error(done.stderr)


def mux(ffmpeg: Ffmpeg, segments: list[Path], src: Path, streams: StreamPlan,
        settings: EncoderSettings, container: str, out: Path, *, fps: Fraction,
        video_delay: float = 0.0) -> None:
    """Join `segments` (concat demuxer: timestamps carried over exactly) and the source's
    streams into `out` (video at `fps`); the video starts `video_delay` seconds after the
    source's audio and subtitles (before them when negative).

    How ffmpeg places the source's streams depends on the input format (a transport stream's
    copied streams are moved to 0, an MP4's keep their offset), so the join is checked and, when
    the picture is off, done again with the difference as an input offset: a copy, so cheap."""
    listing = out.with_name(out.name + ".ffconcat")
    lines = ["ffconcat version 1.0"]
    for segment in segments:
        quoted = str(segment.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    listing.write_text("\n".join(lines) + "\n")
    try:
        correction = 0.0
        for _ in range(2):
            done = ffmpeg.run([
                "-v", "error", *(["-itsoffset", f"{correction:.6f}"] if correction > 0 else []),
                "-f", "concat", "-safe", "0", "-i", str(listing),
                *(["-itsoffset", f"{-correction:.6f}"] if correction < 0 else []), "-i", str(src),
                "-map", "0:v:0", "-c:v", "copy", *streams.args, "-map_metadata", "1",
                "-map_chapters", "1", *_container_args(container, settings, fps), "-y",
                str(out),
            ], timeout=None)
            if done.returncode != 0:
                raise VideoError(f"joining the encoded video with the source's audio failed: "
                                 f"{first_error(done.stderr)}")
            if CONTAINER_FORMATS[container] == "avi":
                # ffmpeg starts every AVI stream at 0, whatever the offsets: its stream headers
                # hold them, to the nearest frame or audio block
                avi.place_picture(out, video_delay)
                return
            joined = streams_of(ffmpeg.run(["-i", str(out)], timeout=120).stderr)
            off = video_delay - picture_after_sound(joined)
            if abs(off) <= 0.001:
                return
            correction += off
        console.warn(f"{src.name}: the picture could not be placed exactly; it is {-off:+.3f} s "
                     "off the sound")
    finally:
        listing.unlink(missing_ok=True)
