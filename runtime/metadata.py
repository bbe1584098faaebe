"""The metadata contract between `sr-export` and the runtime.

An exported ONNX file carries everything the runtime needs in its custom metadata map (string
keys, string values), so the runtime never needs architecture code. The keys are defined here,
once; `uprez.export` imports them from this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field

# Custom metadata map keys. Values are strings; JSON where structured.
SCALE = "uprez.scale"  # int: output size = input size * scale
CHANNEL_ORDER = "uprez.channel_order"  # "RGB" or "BGR"
VALUE_RANGE = "uprez.value_range"  # JSON [lo, hi], e.g. [0.0, 1.0]
RECEPTIVE_FIELD = "uprez.receptive_field"  # int: input pixels on each side that affect a pixel
SIZE_MULTIPLE = "uprez.size_multiple"  # int: input H and W must be multiples of this
# "true"/"false": the output depends on statistics of the whole input (global pooling, channel
# attention over all pixels), so tiles differ slightly from a whole-image run however padded
GLOBAL_CONTEXT = "uprez.global_context"
FP16_SAFE = "uprez.fp16_safe"  # "true"/"false": outputs stay finite and close in fp16
PRECISION = "uprez.precision"  # "fp32" or "fp16" (weights; I/O is always float32)
ARCH = "uprez.arch"  # registry name, e.g. "compact", "rrdbnet"
HPARAMS = "uprez.hparams"  # JSON object of the architecture's hyperparameters
TILE_HINT = "uprez.tile_hint"  # int: a tile size that runs well, 0 = no opinion
SOURCE_SHA256 = "uprez.source_sha256"  # hash of the checkpoint the model came from
NAME = "uprez.name"  # human-readable model name
FORMAT_VERSION = "uprez.format_version"  # version of this contract

CURRENT_FORMAT_VERSION = 1

ALL_KEYS = (
    SCALE,
    CHANNEL_ORDER,
    VALUE_RANGE,
    RECEPTIVE_FIELD,
    SIZE_MULTIPLE,
    GLOBAL_CONTEXT,
    FP16_SAFE,
    PRECISION,
    ARCH,
    HPARAMS,
    TILE_HINT,
    SOURCE_SHA256,
    NAME,
    FORMAT_VERSION,
)


class MetadataError(ValueError):
    """A metadata value that is present but cannot be understood."""


@dataclass(frozen=True)
class ModelInfo:
    """What the runtime knows about a model. `None` means the metadata did not say."""

    scale: int | None = None
    channel_order: str = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)
    receptive_field: int | None = None
    size_multiple: int = 1
    global_context: bool = False
    fp16_safe: bool = False
    precision: str = "fp32"
    arch: str | None = None
    hparams: dict = field(default_factory=dict)
    tile_hint: int = 0
    source_sha256: str | None = None
    name: str | None = None

    def to_props(self) -> dict[str, str]:
        """The custom metadata map to write into an ONNX file."""
        props = {
            CHANNEL_ORDER: self.channel_order,
            VALUE_RANGE: json.dumps(list(self.value_range)),
            SIZE_MULTIPLE: str(self.size_multiple),
            GLOBAL_CONTEXT: "true" if self.global_context else "false",
            FP16_SAFE: "true" if self.fp16_safe else "false",
            PRECISION: self.precision,
            HPARAMS: json.dumps(self.hparams, sort_keys=True),
            TILE_HINT: str(self.tile_hint),
            FORMAT_VERSION: str(CURRENT_FORMAT_VERSION),
        }
        optional = {
            SCALE: self.scale,
            RECEPTIVE_FIELD: self.receptive_field,
            ARCH: self.arch,
            SOURCE_SHA256: self.source_sha256,
            NAME: self.name,
        }
        props.update({k: str(v) for k, v in optional.items() if v is not None})
        return props

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelInfo:
        """Parse a custom metadata map; keys that are absent keep their defaults. Every value
        is checked: MetadataError names the first key whose value cannot be used."""
        kwargs: dict = {}
        for key, (name, parse) in _PARSERS.items():
            if key in props:
                try:
                    value = parse(props[key])
                except (ValueError, TypeError) as exc:
                    raise MetadataError(f"metadata {key}={_shown(props[key])} is invalid: "
                                        f"{exc}") from None
                if name is not None:
                    kwargs[name] = value
        return cls(**kwargs)


# The limits are far beyond any real model, and low enough that a value inside them cannot make
# the runtime allocate absurd buffers (images are padded to the size multiple, tiles get the
# receptive field as context).
MAX_SCALE = 16
MAX_RECEPTIVE_FIELD = 4096
MAX_SIZE_MULTIPLE = 1024
MAX_TILE_HINT = 16384
MAX_FEATURES = 4096  # hparams the runtime reads (num_feat, nf) to size its tiles
_RUNTIME_HPARAMS = ("num_feat", "nf")


def _integer(low: int, high: int):
    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
            raise ValueError(f"must be a whole number from {low} to {high}")
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return parse


def _choice(*choices: str, upper: bool = False):
    def parse(text: str) -> str:
        value = text.strip().upper() if upper else text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be {' or '.join(choices)}")
        return value

    return parse


def _boolean(text: str) -> bool:
    return _choice("true", "false")(text) == "true"


def _value_range(text: str) -> tuple[float, float]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise ValueError("must be a JSON list of two numbers [low, high], e.g. [0, 1]")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError("must be two finite numbers with low < high, e.g. [0, 1]")
    return low, high


def _hparams(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object of hyperparameters, e.g. {\"num_feat\": 64}")
    for key in _RUNTIME_HPARAMS:
        if key in value:
            number = value[key]
            if (not isinstance(number, int) or isinstance(number, bool)
                    or not 1 <= number <= MAX_FEATURES):
                raise ValueError(f"its {key} must be a whole number from 1 to {MAX_FEATURES}, "
                                 f"not {number!r}")
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _sha256(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text.strip()):
        raise ValueError("must be 64 hexadecimal digits")
    return text.strip().lower()


def _format_version(text: str) -> int:
    version = _integer(1, 1_000_000)(text)
    if version > CURRENT_FORMAT_VERSION:
        raise ValueError(f"the model was made by a newer uprez (format {version}; this one reads "
                         f"up to {CURRENT_FORMAT_VERSION}): update uprez")
    return version


# metadata key -> (ModelInfo field, parser); FORMAT_VERSION is checked and not kept
_PARSERS = {
    SCALE: ("scale", _integer(1, MAX_SCALE)),
    CHANNEL_ORDER: ("channel_order", _choice("RGB", "BGR", upper=True)),
    VALUE_RANGE: ("value_range", _value_range),
    RECEPTIVE_FIELD: ("receptive_field", _integer(0, MAX_RECEPTIVE_FIELD)),
    SIZE_MULTIPLE: ("size_multiple", _integer(1, MAX_SIZE_MULTIPLE)),
    GLOBAL_CONTEXT: ("global_context", _boolean),
    FP16_SAFE: ("fp16_safe", _boolean),
    PRECISION: ("precision", _choice("fp32", "fp16")),
    ARCH: ("arch", _text),
    HPARAMS: ("hparams", _hparams),
    TILE_HINT: ("tile_hint", _integer(0, MAX_TILE_HINT)),
    SOURCE_SHA256: ("source_sha256", _sha256),
    NAME: ("name", _text),
    FORMAT_VERSION: (None, _format_version),
}


def _shown(value: str) -> str:
    """A metadata value as the error shows it: quoted, and cut short when long."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes (the source checkpoint's SOURCE_SHA256, a model's identity)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
