"""The metadata contract between `sr-export` and the runtime.

An exported ONNX file carries everything the runtime needs in its custom metadata map (string
keys, string values), so the runtime never needs architecture code. The keys are defined here,
once; `uprez.export` imports them from this module.
"""

from __future__ import annotations

import hashlib
import json
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
        """Parse a custom metadata map; keys that are absent keep their defaults."""
        kwargs: dict = {}
        try:
            if SCALE in props:
                kwargs["scale"] = int(props[SCALE])
            if CHANNEL_ORDER in props:
                order = props[CHANNEL_ORDER].upper()
                if order not in ("RGB", "BGR"):
                    raise MetadataError(f"{CHANNEL_ORDER} must be RGB or BGR, not {order!r}")
                kwargs["channel_order"] = order
            if VALUE_RANGE in props:
                lo, hi = json.loads(props[VALUE_RANGE])
                kwargs["value_range"] = (float(lo), float(hi))
            if RECEPTIVE_FIELD in props:
                kwargs["receptive_field"] = int(props[RECEPTIVE_FIELD])
            if SIZE_MULTIPLE in props:
                kwargs["size_multiple"] = max(1, int(props[SIZE_MULTIPLE]))
            if GLOBAL_CONTEXT in props:
                kwargs["global_context"] = props[GLOBAL_CONTEXT].lower() == "true"
            if FP16_SAFE in props:
                kwargs["fp16_safe"] = props[FP16_SAFE].lower() == "true"
            if PRECISION in props:
                kwargs["precision"] = props[PRECISION]
            if ARCH in props:
                kwargs["arch"] = props[ARCH]
            if HPARAMS in props:
                kwargs["hparams"] = json.loads(props[HPARAMS])
            if TILE_HINT in props:
                kwargs["tile_hint"] = int(props[TILE_HINT])
            if SOURCE_SHA256 in props:
                kwargs["source_sha256"] = props[SOURCE_SHA256]
            if NAME in props:
                kwargs["name"] = props[NAME]
        except (ValueError, TypeError) as exc:
            if isinstance(exc, MetadataError):
                raise
            raise MetadataError(f"unreadable model metadata: {exc}") from exc
        if kwargs.get("scale") is not None and kwargs["scale"] < 1:
            raise MetadataError(f"{SCALE} must be a positive integer, not {kwargs['scale']}")
        return cls(**kwargs)


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes (the source checkpoint's SOURCE_SHA256, a model's identity)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
