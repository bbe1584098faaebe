"""What a video file holds, read with ffmpeg alone (imageio-ffmpeg ships no ffprobe).

`ffmpeg -i` describes the streams in words; the exact frame rate and the size of the decoded
frames (after rotation) come from the header of a one-frame YUV4MPEG stream, and the frame count
from copying the video packets to nowhere, which reads the file but decodes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # "video", "audio", "subtitle", "data", "attachment"
    codec: str


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float | None  # of the container, seconds; None when it does not say
    pix_fmt: str
    bit_depth: int
    color_range: str  # "tv" (limited) or "pc" (full)
    colorspace: str | None  # ffmpeg names: bt709, smpte170m, bt470bg, bt2020nc, ...
    color_primaries: str | None
    color_trc: str | None
    sample_aspect: Fraction | None
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)

    @property
    def audio(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.kind == "audio")

    @property
    def subtitles(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.kind == "subtitle")

    @property
    def expected_frames(self) -> int | None:
        """Frames the container's duration promises (it spans all streams, so an upper bound)."""
        return None if self.duration is None else round(self.duration * self.fps)


_STREAM = re.compile(r"Stream #0:(\d+)\S*: (Video|Audio|Subtitle|Data|Attachment): (\w+)")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_Y4M = re.compile(rb"YUV4MPEG2 W(\d+) H(\d+) F(\d+):(\d+) \S+ A(\d+):(\d+)")
_COLORSPACES = ("bt709", "smpte170m", "bt470bg", "bt2020nc", "bt2020c", "fcc", "smpte240m",
                "ycgco", "gbr", "bt470m", "smpte2085", "chroma-derived-nc", "ictcp")


def probe(ffmpeg: Ffmpeg, path: str | Path) -> VideoInfo:
    path = str(path)
    described = ffmpeg.run(["-i", path], timeout=120).stderr
    streams = tuple(StreamInfo(int(m.group(1)), m.group(2).lower(), m.group(3))
                    for m in _STREAM.finditer(described))
    video_lines = [line for line in described.splitlines()
                   if re.search(r"Stream #0:\d+.*: Video:", line)]
    if not video_lines:
        if streams:
            raise VideoError(f"{path}: has no video stream")
        last = described.strip().splitlines()[-1:] or ["ffmpeg said nothing"]
        raise VideoError(f"{path}: not a readable video ({last[0]})")
    pix_fmt, details = _pix_fmt_and_details(video_lines[0])

    header = ffmpeg.run(["-v", "error", "-i", path, "-map", "0:v:0", "-frames:v", "1",
                         "-pix_fmt", "gray", "-f", "yuv4mpegpipe", "-"], timeout=120)
    match = _Y4M.match(header.stdout.encode("latin-1", "replace"))
    if match is None:
        reason = header.stderr.strip().splitlines()[-1:] or ["no frame decoded"]
        raise VideoError(f"{path}: cannot decode its first video frame ({reason[0]})")
    width, height, rate_num, rate_den, sar_num, sar_den = (int(g) for g in match.groups())
    if rate_num == 0 or rate_den == 0:
        raise VideoError(f"{path}: the video stream has no frame rate")

    counted = ffmpeg.run(["-v", "error", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null",
                          "-", "-progress", "pipe:1", "-nostats"], timeout=3600)
    frames = re.findall(r"^frame=(\d+)", counted.stdout, flags=re.M)

    duration = _DURATION.search(described)
    space, primaries, trc = _colors(details)
    return VideoInfo(
        width=width, height=height, fps=Fraction(rate_num, rate_den),
        frame_count=int(frames[-1]) if frames else 0,
        duration=(int(duration.group(1)) * 3600 + int(duration.group(2)) * 60
                  + float(duration.group(3))) if duration else None,
        pix_fmt=pix_fmt, bit_depth=bit_depth(pix_fmt),
        color_range="pc" if ("pc" in details or pix_fmt.startswith("yuvj")) else "tv",
        colorspace=space, color_primaries=primaries, color_trc=trc,
        sample_aspect=Fraction(sar_num, sar_den) if sar_num and sar_den else None,
        streams=streams,
    )


def _pix_fmt_and_details(line: str) -> tuple[str, list[str]]:
    """'Video: h264 (High) (avc1 / 0x31637661), yuv420p10le(tv, bt709, progressive), 64x48'."""
    after_codec = line.split(": Video: ", 1)[1]
    # the codec part may hold commas inside parentheses; the pixel format follows the first
    # comma at parenthesis depth 0
    depth, start = 0, None
    for i, char in enumerate(after_codec):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            start = i + 1
            break
    rest = after_codec[start:].strip() if start is not None else ""
    match = re.match(r"([a-z0-9_]+)(?:\(([^)]*)\))?", rest)
    if match is None:
        return "unknown", []
    details = [part.strip() for part in (match.group(2) or "").split(",")]
    return match.group(1), details


def _colors(details: list[str]) -> tuple[str | None, str | None, str | None]:
    for part in details:
        names = part.split("/")
        if names[0] in _COLORSPACES or names[0] == "unknown":
            names = [None if n in ("unknown", "reserved") else n for n in names]
            if len(names) == 3:
                return names[0], names[1], names[2]
            return names[0], names[0], names[0]
    return None, None, None


def bit_depth(pix_fmt: str) -> int:
    """Bits per component of an ffmpeg pixel format name: yuv420p10le -> 10, rgb48le -> 16."""
    match = re.search(r"[a-z](\d{1,2})(?:le|be)$", pix_fmt)
    if match:
        bits = int(match.group(1))
        return {48: 16, 64: 16, 20: 10}.get(bits, bits)  # rgb48/rgba64 totals, nv20 = 10-bit
    match = re.match(r"p0(1[026])", pix_fmt)  # p010le, p016le: semi-planar 10/12/16-bit
    return int(match.group(1)) if match else 8
