"""What uprez knows about a generator architecture, stated once: `ArchSpec`.

The trainer builds generators from it, config validation checks `model.*` against it, and
detect.py reads checkpoints with it for sr-export and sr-train --init (which layouts exist, how
to recognise each one, which input sizes the model takes). The specs are listed in
`uprez.trainer.archs.GENERATORS`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import nn

from ..typecheck import ConfigError, check_fields

# (hyperparameters, state dict in our parameter names), or None: not this layout
LayoutMatch = tuple[dict, dict] | None


class LayoutError(ValueError):
    """Weights whose signature keys match a layout but whose shapes fit no model of it; the
    message says what does not fit."""


@dataclass(frozen=True)
class Layout:
    """One key layout a generator's weights are published in (ours, BasicSR, original ESRGAN).

    `detect(state_dict)` returns None when the layout's signature keys are absent; once they are
    present it returns (hparams, state dict renamed to our names) or raises LayoutError. It reads
    only shapes, so it works on meta tensors too.
    """

    name: str  # for messages, e.g. "RRDBNet (BasicSR/Real-ESRGAN)"
    detect: Callable[[dict], LayoutMatch]


@dataclass(frozen=True)
class ArchSpec:
    """A generator architecture: its module, hyperparameters, scales, layouts, input sizes.

    `params` is a frozen dataclass of the hyperparameters (scale included) with their types and
    defaults; `module(params)` builds the network and keeps `module.hparams` (a plain dict of
    them) for checkpoints and ONNX metadata.
    """

    name: str  # the registry key, stored in checkpoints and ONNX metadata
    module: type[nn.Module]
    params: type
    scales: tuple[int, ...]  # x1 is "restore at the same size"
    layouts: tuple[Layout, ...] = ()  # detect.py tries them in this order
    # input height and width must be multiples of this, by scale (missing: 1)
    size_multiples: Mapping[int, int] = field(default_factory=dict)
    # window-attention models: the window grid of a model with these hparams. The graph pads
    # any input to it, but tiles must start on it to see the windows a whole-image run sees.
    window_grid: Callable[[dict], int] | None = None
    # the output depends on statistics of the whole input (global pooling, channel attention
    # over all pixels, grid attention): tiles only approximate a whole-image run
    global_context: bool = False

    def size_multiple(self, scale: int) -> int:
        return self.size_multiples.get(scale, 1)

    def tile_multiple(self, hparams: dict) -> int:
        """What tiles must be multiples of: the required size multiple and the window grid."""
        grid = self.window_grid(hparams) if self.window_grid else 1
        return math.lcm(self.size_multiple(int(hparams["scale"])), grid)

    def check_scale(self, scale: int, *, key: str = "") -> None:
        if scale not in self.scales:
            raise ConfigError(f"{key}{self.name} supports scales "
                              f"{', '.join(map(str, self.scales))}, not {scale}")

    def make_params(self, hparams: dict, *, prefix: str | None = None) -> object:
        """The typed hyperparameters, defaults filled in; ConfigError (a ValueError) names an
        unknown key (with a did-you-mean), a wrong type or an unsupported scale."""
        where = f" of {self.name}" if prefix is None else f" in {prefix[:-1]} ({self.name})"
        prefix = f"{self.name}." if prefix is None else prefix
        checked = check_fields(self.params, hparams, prefix=prefix, where=where)
        params = self.params(**checked)
        self.check_scale(params.scale)
        return params

    def build(self, **hparams) -> nn.Module:
        return self.module(self.make_params(hparams))


@dataclass(frozen=True)
class DiscriminatorSpec:
    """A discriminator of the gan phase: its module and typed hyperparameters (`gan.disc_arch`
    and `gan.disc_hparams`), checked as a generator's are."""

    name: str  # the registry key, stored in training-state checkpoints
    module: type[nn.Module]
    params: type

    def make_params(self, hparams: dict, *, prefix: str | None = None) -> object:
        """The typed hyperparameters, defaults filled in; ConfigError names an unknown key (with
        a did-you-mean) or a wrong type."""
        where = f" of {self.name}" if prefix is None else f" in {prefix[:-1]} ({self.name})"
        prefix = f"{self.name}." if prefix is None else prefix
        return self.params(**check_fields(self.params, hparams, prefix=prefix, where=where))

    def build(self, **hparams) -> nn.Module:
        return self.module(self.make_params(hparams))


def hparams_of(params: object) -> dict:
    """The plain dict a module keeps as `module.hparams` (checkpoints store it)."""
    return dataclasses.asdict(params)


def indices(state_dict: dict, pattern: str) -> list[int]:
    """The sorted numbers that group 1 of `pattern` captures in the keys, e.g. block indices."""
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state_dict if (m := regex.match(k))})


def shape(state_dict: dict, key: str) -> tuple[int, ...]:
    if key not in state_dict:
        raise LayoutError(f"expected weight {key!r} is missing")
    return tuple(state_dict[key].shape)


def square_side(count: int, what: str, layout: str) -> int:
    """n for count == n * n, else a LayoutError naming the tensor."""
    side = math.isqrt(count)
    if side * side != count:
        raise LayoutError(f"{layout}: {what} has {count} entries, not a square")
    return side


def pixelshuffle_scale(state_dict: dict, prefix: str, num_feat: int, layout: str) -> int:
    """The scale of conv + PixelShuffle stages at `prefix`.0, .2, ... (x2 each, or one x3)."""
    scale = 1
    for index in indices(state_dict, rf"^{re.escape(prefix)}\.(\d+)\.weight$"):
        out = shape(state_dict, f"{prefix}.{index}.weight")[0]
        if out not in (4 * num_feat, 9 * num_feat):
            raise LayoutError(f"{layout}: {prefix}.{index} has {out} output channels, not "
                              f"{num_feat} x 4 or x 9")
        scale *= 2 if out == 4 * num_feat else 3
    return scale


def direct_scale(out_channels: int, num_out_ch: int, layout: str, key: str) -> int:
    """The scale of a single conv + PixelShuffle to the image: out = num_out_ch * scale^2."""
    scale = math.isqrt(out_channels // num_out_ch)
    if scale * scale * num_out_ch != out_channels:
        raise LayoutError(f"{layout}: {key} has {out_channels} output channels, not "
                          f"{num_out_ch} x scale^2")
    return scale
