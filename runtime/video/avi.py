"""When the streams of an AVI file start, which ffmpeg's AVI writer cannot say.

AVI gives the n-th chunk of a stream the time `start + n` in the stream's units (scale/rate
seconds: a frame for video), where `start` is the `dwStart` field of the stream's header. So a
stream that begins later than the others says so there. ffmpeg reads it, but its AVI writer
always leaves it at 0 and puts each stream's first chunk at 0 whatever its timestamp, and
`ffmpeg -i` does not show it (every AVI stream is described as starting at 0).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# the start of a stream header: fccType, fccHandler, dwFlags, wPriority, wLanguage,
# dwInitialFrames, dwScale, dwRate, dwStart
_STREAM_HEADER = struct.Struct("<4s4sIHHIIII")
_START_AT = 28  # offset of dwStart
_MAX_HEADERS = 1 << 24


@dataclass(frozen=True)
class StreamHeader:
    kind: str  # "vids", "auds", "txts", ...
    unit: Fraction  # seconds per chunk of video, per sample (or block) of audio
    start: int  # in units
    offset: int  # of the header in the file

    @property
    def start_seconds(self) -> float:
        return float(self.start * self.unit)


def stream_headers(path: str | Path) -> list[StreamHeader]:
    """The stream headers in stream order (ffmpeg's stream numbers); [] if the file has none."""
    with open(path, "rb") as file:
        head = file.read(24)
        if head[:4] != b"RIFF" or head[8:12] != b"AVI " or head[12:16] != b"LIST" or \
                head[20:24] != b"hdrl":
            return []
        (size,) = struct.unpack_from("<I", head, 16)
        # the header list's body, which starts at byte 24 (a damaged size reads what is there)
        hdrl = file.read(max(0, min(size - 4, _MAX_HEADERS)))
    headers, pos = [], 0
    while pos + 8 <= len(hdrl):
        chunk, size = struct.unpack_from("<4sI", hdrl, pos)
        inner = pos + 12  # a stream's list starts with its header
        if chunk == b"LIST" and hdrl[pos + 8:inner] == b"strl" and \
                hdrl[inner:inner + 4] == b"strh" and inner + 8 + _STREAM_HEADER.size <= len(hdrl):
            kind, *_, scale, rate, start = _STREAM_HEADER.unpack_from(hdrl, inner + 8)
            headers.append(StreamHeader(kind.decode("latin-1"),
                                        Fraction(scale, rate) if scale and rate else Fraction(0),
                                        start, 24 + inner + 8))
        pos += 8 + size + (size & 1)
    return headers


def place_picture(path: str | Path, after_sound: float) -> None:
    """Start the video `after_sound` seconds after the audio (before it when negative) by the
    streams' start fields. Video starts on a whole frame, so the audio takes up the rest."""
    headers = stream_headers(path)
    video = next((h for h in headers if h.kind == "vids" and h.unit), None)
    frames = math.ceil(after_sound / video.unit - 1e-9) if video and after_sound > 0 else 0
    sound_start = (frames * video.unit if frames else 0) - Fraction(after_sound)
    with open(path, "r+b") as file:
        for header in headers:
            if header.kind == "vids":
                units = frames
            elif header.kind == "auds" and header.unit:
                units = round(sound_start / header.unit)
            else:
                continue
            file.seek(header.offset + _START_AT)
            file.write(struct.pack("<I", max(0, units)))
