"""One video to upscale, `VideoJob`: where from, where to, how to encode, and what shapes its
frames. The job states the resume keys (of a video's encoded segments and of a folder of PNG
frames) and keeps a frames folder's state, so a resumed run never mixes work made differently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from uprez.runtime.base import atomic
from uprez.runtime.video import frames_folder
from uprez.runtime.video.codecs import EncoderSettings, resolve_encoder
from uprez.runtime.video.decode import FRAME_READING
from uprez.runtime.video.ffmpeg import Ffmpeg
from uprez.runtime.video.probe import VideoInfo

DEFAULT_SEGMENT_FRAMES = 500


@dataclass(frozen=True)
class Encoding:
    """The encoder choices as given; None takes the codec's default (codecs.resolve_encoder)."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None

    def given(self) -> list[str]:
        """The options that were set, by their flags, e.g. ["--codec", "--crf"]."""
        flags = {"--codec": self.codec, "--crf": self.crf, "--preset": self.preset,
                 "--pix-fmt": self.pix_fmt}
        return [flag for flag, value in flags.items() if value is not None]

    def resolve(self, ffmpeg: Ffmpeg, container: str, *,
                high_bit_depth: bool) -> EncoderSettings:
        """The encoder arguments for `container` (".mp4", ...); VideoError when it cannot be."""
        return resolve_encoder(ffmpeg, codec=self.codec, crf=self.crf, preset=self.preset,
                               pix_fmt=self.pix_fmt, container=container,
                               high_bit_depth=high_bit_depth)


@dataclass(frozen=True)
class VideoJob:
    source: Path
    output: Path  # the video file, or with `to_frames` the folder of PNG frames
    to_frames: bool = False
    encoding: Encoding = field(default_factory=Encoding)
    frames_from: str = ""  # what shapes the frames (model, tiling, outscale): see the keys
    resume: bool = False  # keep finished work when the run stops, and go on from it
    deinterlace: bool = True  # interlaced sources are deinterlaced before upscaling
    segment_frames: int = DEFAULT_SEGMENT_FRAMES  # frames per encoded segment

    @property
    def container(self) -> str:
        return self.output.suffix.lower()

    def is_complete(self) -> bool:
        """Whether the output is already whole (a finished run made it)."""
        if self.to_frames:
            return frames_folder.is_complete(self.output)
        return atomic.is_complete(self.output)

    def source_key(self) -> dict:
        """Which source file and which frames: a frames folder's resume key, and the start of a
        video's."""
        stat = self.source.stat()
        return {"source": str(self.source.resolve()), "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns, "frames_from": self.frames_from}

    def segments_key(self, info: VideoInfo, settings: EncoderSettings) -> dict:
        """The resume key of a video's encoded segments: the source key, the encoder, how the
        frames were read from the source, and the segment length."""
        return {**self.source_key(), "encoder": asdict(settings),
                "frames": {"reading": FRAME_READING, "fps": str(info.fps),
                           "constant_from_variable": info.variable_rate,
                           "deinterlaced": info.field_order is not None},
                "segment_frames": self.segment_frames}

    def start_frames(self) -> bool:
        """Get the frames folder ready; True when the PNGs already there are kept (--resume)."""
        return frames_folder.start(self.output, self.source_key(), self.source.name,
                                   resume=self.resume)

    def finish_frames(self, frames: int) -> None:
        """Mark the frames folder whole, so a later run skips it."""
        frames_folder.finish(self.output, frames)
