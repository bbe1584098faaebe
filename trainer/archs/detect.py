"""Which architecture and hyperparameters a state dict belongs to, read from keys and shapes.

The layouts and how to recognise each one belong to the architectures (their `ArchSpec` in
`uprez.trainer.archs`); this module tries them in the registry's order and turns what they find
into a `Detected` or a DetectionError that says what does not fit. `sr-export` and
`sr-train --init` both read checkpoints through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uprez.runtime.base.weights import CheckpointError

from . import GENERATORS, build_generator
from .spec import Layout, LayoutError

RGB = 3


class DetectionError(CheckpointError):
    """The weights match no supported architecture, or match one but do not fit it."""


@dataclass(frozen=True)
class Detected:
    arch: str  # key of GENERATORS
    hparams: dict
    layout: str  # where the weights came from, for messages
    state_dict: dict = field(repr=False)  # in the names of our architecture


def layouts() -> list[tuple[str, Layout]]:
    """(architecture, layout) in the order they are tried."""
    return [(spec.name, layout) for spec in GENERATORS.values() for layout in spec.layouts]


def detect(state_dict: dict) -> Detected:
    """The architecture of a bare state dict, or a DetectionError naming what was tried."""
    tried = layouts()
    for arch, layout in tried:
        try:
            match = layout.detect(state_dict)
        except LayoutError as exc:
            raise DetectionError(str(exc)) from None
        except (KeyError, IndexError, ValueError) as exc:
            raise DetectionError(f"incomplete weights ({type(exc).__name__}: {exc})") from None
        if match is not None:
            hparams, renamed = match
            found = Detected(arch, hparams, layout.name, renamed)
            _check_rgb(found)
            return found
    sample = ", ".join(list(state_dict)[:4])
    raise DetectionError(
        f"unrecognised weights: tried {'; '.join(layout.name for _, layout in tried)} and none "
        f"matched (first of {len(state_dict)} keys: {sample})"
    )


def from_uprez(arch: str, hparams: dict, state_dict: dict) -> Detected:
    """A self-describing uprez checkpoint: trust its arch and hparams, check them on build."""
    if arch not in GENERATORS:
        raise DetectionError(f"uprez checkpoint names unknown architecture {arch!r}; "
                             f"this uprez knows {', '.join(GENERATORS)}")
    found = Detected(arch, dict(hparams), "uprez checkpoint", state_dict)
    _check_rgb(found)
    return found


def _check_rgb(found: Detected) -> None:
    channels = (found.hparams.get("num_in_ch", RGB), found.hparams.get("num_out_ch", RGB))
    if channels != (RGB, RGB):
        raise DetectionError(f"{found.layout} model maps {channels[0]} to {channels[1]} channels; "
                             "uprez makes RGB models (3 to 3)")


def build_model(found: Detected):
    """The float32 eval-mode module, with the weights loaded strictly."""
    import torch

    try:
        with torch.device("meta"):  # no time spent on a random init that is overwritten anyway
            model = build_generator(found.arch, **found.hparams)
    except (TypeError, ValueError) as exc:
        raise DetectionError(f"{found.layout}: cannot build {found.arch} with {found.hparams} "
                             f"({exc})") from None
    try:
        model.load_state_dict(found.state_dict, strict=True, assign=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split("\n\t")[1:3])[:300]
        raise DetectionError(f"{found.layout}: weights do not fit {found.arch} "
                             f"{found.hparams}: {detail}") from None
    left_out = [k for k, v in model.state_dict().items() if v.is_meta]
    if left_out:  # only possible for non-persistent buffers, which strict loading skips
        raise DetectionError(f"{found.layout}: no values for {', '.join(left_out[:3])}")
    return model.float().eval().requires_grad_(False)
