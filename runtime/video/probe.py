"""What a video file holds, read with ffmpeg alone (imageio-ffmpeg ships no ffprobe).

`ffmpeg -i` describes the streams in words; the exact frame rate and the size of the decoded
frames (after rotation) come from the header of a one-frame YUV4MPEG stream, and the frame count
and timestamps from copying the video packets into a frame-checksum listing, which reads the file
but decodes nothing.

A variable-frame-rate source (phones, screen recordings) cannot keep its timing through a raw
frame pipe, so it is read at a constant rate instead (frames repeated or dropped by ffmpeg's fps
filter): then `fps` is that rate, `frame_count` what it yields, and the sound stays in sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

from uprez.runtime.video import avi
from uprez.runtime.video.errors import VideoError
from uprez.runtime.video.ffmpeg import Ffmpeg


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # "video", "audio", "subtitle", "data", "attachment"
    codec: str
    start: float | None = None  # seconds, as ffmpeg's description says


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
    variable_rate: bool = False  # then read at the constant `fps` (see the module's docstring)
    video_delay: float = 0.0  # seconds from the copied streams' start to the first frame (+/-)
    field_order: str | None = None  # "tff" or "bff" for interlaced video, else None
    average_fps: Fraction | None = None  # the source's own average, for messages

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
_FILE_START = re.compile(r"Duration: .*?, start: (-?\d+(?:\.\d+)?)")
_STREAM_START = re.compile(r", start (-?\d+(?:\.\d+)?)")
_Y4M = re.compile(rb"YUV4MPEG2 W(\d+) H(\d+) F(\d+):(\d+) \S+ A(\d+):(\d+)")
_COLORSPACES = ("bt709", "smpte170m", "bt470bg", "bt2020nc", "bt2020c", "fcc", "smpte240m",
                "ycgco", "gbr", "bt470m", "smpte2085", "chroma-derived-nc", "ictcp")


def probe(ffmpeg: Ffmpeg, path: str | Path) -> VideoInfo:
    path = str(path)
    described = ffmpeg.run(["-i", path], timeout=120).stderr
    streams = with_avi_starts(path, streams_of(described))
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

    listed = ffmpeg.run(["-v", "error", "-i", path, "-map", "0:v:0", "-c", "copy",
                         "-f", "framecrc", "-"], timeout=3600)
    timing = packet_timing(listed.stdout)
    fps, frame_count = Fraction(rate_num, rate_den), timing.packets
    variable = timing.is_variable()
    if variable:
        fps = constant_rate_for(fps, timing.average_fps())
        frame_count = max(1, round(timing.span * fps))

    duration = _DURATION.search(described)
    space, primaries, trc = _colors(details)
    return VideoInfo(
        width=width, height=height, fps=fps, frame_count=frame_count,
        variable_rate=variable, average_fps=timing.average_fps() if variable else None,
        video_delay=picture_after_sound(streams), field_order=parse_field_order(details),
        duration=(int(duration.group(1)) * 3600 + int(duration.group(2)) * 60
                  + float(duration.group(3))) if duration else None,
        pix_fmt=pix_fmt, bit_depth=bit_depth(pix_fmt),
        color_range="pc" if ("pc" in details or pix_fmt.startswith("yuvj")) else "tv",
        colorspace=space, color_primaries=primaries, color_trc=trc,
        sample_aspect=Fraction(sar_num, sar_den) if sar_num and sar_den else None,
        streams=streams,
    )


def video_codec(ffmpeg: Ffmpeg, path: str | Path) -> str | None:
    """The codec of the first video stream (ffmpeg's name: h264, ffv1, ...), from one quick
    look at the container; None when there is no video stream."""
    described = ffmpeg.run(["-i", str(path)], timeout=120).stderr
    return next((s.codec for s in streams_of(described) if s.kind == "video"), None)


def streams_of(described: str) -> tuple[StreamInfo, ...]:
    """Each stream once (a transport stream lists a stream under every program that uses it);
    a stream whose start is not given starts with the file."""
    file_start = _FILE_START.search(described)
    default_start = float(file_start.group(1)) if file_start else None
    found: dict[int, StreamInfo] = {}
    for line in described.splitlines():
        match = _STREAM.search(line)
        if match is None or int(match.group(1)) in found:
            continue
        start = _STREAM_START.search(line)
        found[int(match.group(1))] = StreamInfo(int(match.group(1)), match.group(2).lower(),
                                                match.group(3),
                                                float(start.group(1)) if start else default_start)
    return tuple(found.values())


def with_avi_starts(path: str | Path, streams: tuple[StreamInfo, ...]) -> tuple[StreamInfo, ...]:
    """`streams` with the start offsets an AVI file keeps in its stream headers, which ffmpeg's
    description leaves out; other files' streams as they are."""
    headers = avi.stream_headers(path)
    if len(headers) != len(streams):
        return streams
    return tuple(replace(stream, start=(stream.start or 0.0) + header.start_seconds)
                 for stream, header in zip(streams, headers, strict=True))


def parse_field_order(details: list[str]) -> str | None:
    """The field shown first: ffmpeg says 'top first' or 'bottom first', or 'top coded first
    (swapped)' when the bottom field is shown first; 'progressive' or nothing otherwise."""
    for part in details:
        if "first" in part and part.startswith(("top", "bottom")):
            top = part.startswith("top") != ("swapped" in part)
            return "tff" if top else "bff"
    return None


def picture_after_sound(streams: tuple[StreamInfo, ...]) -> float:
    """How much later than the sound (and subtitles) the picture starts, negative when it
    starts first; the output keeps that gap, or they would drift apart. Only the streams that
    are copied count: ffmpeg starts those at 0, whatever else the file holds."""
    video = next((s.start for s in streams if s.kind == "video"), None)
    copied = [s.start for s in streams if s.kind in ("audio", "subtitle") and s.start is not None]
    if video is None or not copied:
        return 0.0
    delay = video - min(copied)
    return delay if abs(delay) > 0.001 else 0.0


@dataclass(frozen=True)
class PacketTiming:
    packets: int
    pts: tuple[int, ...]  # presentation order; empty when some packet has none
    time_base: Fraction

    @property
    def span(self) -> Fraction:
        """Seconds from the first frame's start to the last frame's end (one typical step)."""
        if len(self.pts) < 2:
            return Fraction(0)
        return (self.pts[-1] - self.pts[0] + self._typical_step()) * self.time_base

    def average_fps(self) -> Fraction:
        return Fraction(len(self.pts)) / self.span if self.span else Fraction(0)

    def is_variable(self) -> bool:
        """Steps between frames that differ by more than half the typical one: a rate change or
        a gap. Rounding jitter (33/34 ms steps of 29.97 fps in a 1 ms time base) is not."""
        if len(self.pts) < 3:
            return False
        typical = self._typical_step()
        steps = (b - a for a, b in pairwise(self.pts))
        return typical > 0 and any(abs(step - typical) * 2 > typical for step in steps)

    def _typical_step(self) -> int:
        steps = sorted(b - a for a, b in pairwise(self.pts))
        return steps[len(steps) // 2] if steps else 0


_NO_PTS = -(2 ** 63)


def packet_timing(framecrc: str) -> PacketTiming:
    """Parse `ffmpeg -f framecrc` ('#tb 0: 1/15360', then '0, dts, pts, duration, size, crc')."""
    time_base, pts, packets = Fraction(1, 1), [], 0
    for line in framecrc.splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            packets += 1
            fields = line.split(",")
            if len(fields) > 2 and fields[2].strip().lstrip("-").isdigit():
                pts.append(int(fields[2]))
    known = len(pts) == packets and _NO_PTS not in pts
    return PacketTiming(packets, tuple(sorted(pts)) if known else (), time_base)


def constant_rate_for(nominal: Fraction, average: Fraction) -> Fraction:
    """The rate a variable-rate source is read at: its nominal rate, which keeps every frame
    even when the source idles most of the time (a screen recording; repeats cost no model
    run, see `reuse_repeats`), unless that is no real frame rate (a container's 1000 fps time
    base); then the average, as a clean fraction."""
    if average <= 0 or nominal <= 120:
        return nominal
    return average.limit_denominator(1001)


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
