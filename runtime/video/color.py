"""Keeping colours: the same YUV<->RGB matrix on the way in and out, and the source's tags.

swscale assumes BT.601 for untagged video, while players guess BT.709 for HD sizes. An upscale
turns SD into HD, so an untagged output would shift colours in players; we pick the matrix the
player would have used for the source, convert with it both ways and tag the output with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from uprez.runtime.video.probe import VideoInfo

# ffmpeg colorspace names -> swscale matrix names
_SWS_MATRIX = {"bt709": "bt709", "smpte170m": "smpte170m", "bt470bg": "bt470",
               "bt2020nc": "bt2020", "bt2020c": "bt2020", "fcc": "fcc", "smpte240m": "smpte240m"}
_PRIMARIES = {"bt709": "bt709", "smpte170m": "smpte170m", "bt470bg": "bt470bg",
              "bt2020nc": "bt2020", "bt2020c": "bt2020", "fcc": "bt470m",
              "smpte240m": "smpte240m"}


@dataclass(frozen=True)
class ColorPlan:
    matrix: str  # swscale name
    color_range: str  # "tv" or "pc"
    colorspace: str  # ffmpeg names, for output tags
    primaries: str
    trc: str

    def decode_filter(self) -> str:
        """swscale options for the YUV -> BGR conversion on decode."""
        return f"in_color_matrix={self.matrix}:in_range={self.color_range}"

    def encode_filter(self) -> str:
        return f"out_color_matrix={self.matrix}:out_range={self.color_range}"

    def setparams_filter(self) -> str:
        """Tag the frames themselves: encoders take colour tags from the frames they get."""
        return (f"setparams=range={self.color_range}:color_primaries={self.primaries}:"
                f"color_trc={self.trc}:colorspace={self.colorspace}")

    def tag_args(self) -> list[str]:
        return ["-colorspace", self.colorspace, "-color_primaries", self.primaries,
                "-color_trc", self.trc, "-color_range", self.color_range]


def plan_colors(info: VideoInfo) -> ColorPlan:
    if info.colorspace in _SWS_MATRIX:
        space = info.colorspace
    else:  # untagged: what players assume for the source's size
        space = "smpte170m" if info.height < 720 else "bt709"
    trc = info.color_trc or ("smpte240m" if space == "smpte240m" else "bt709")
    return ColorPlan(matrix=_SWS_MATRIX[space], color_range=info.color_range, colorspace=space,
                     primaries=info.color_primaries or _PRIMARIES[space], trc=trc)
