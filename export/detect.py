"""Which architecture and hyperparameters a state dict belongs to, read from keys and shapes.

Every detector looks for its layout's signature keys and returns None when they are absent; once
its signature matches it either returns a `Detected` or raises a DetectionError that says what
does not fit. Only shapes are read, so detection works on meta tensors too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from uprez.trainer.archs import ARCHS, SCALES, build_generator

from . import esrgan
from .errors import DetectionError

RGB = 3
COMPACT_KEY = re.compile(r"^body\.\d+\.(weight|bias)$")


@dataclass(frozen=True)
class Detected:
    arch: str  # key of uprez.trainer.archs.ARCHS
    hparams: dict
    layout: str  # where the weights came from, for messages
    state_dict: dict = field(repr=False)  # in the names of our architecture


def _indices(state_dict: dict, pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state_dict if (m := regex.match(k))})


def _shape(state_dict: dict, key: str) -> tuple[int, ...]:
    if key not in state_dict:
        raise DetectionError(f"expected weight {key!r} is missing")
    return tuple(state_dict[key].shape)


def _rrdbnet(state_dict: dict, layout: str) -> Detected | None:
    if "conv_first.weight" not in state_dict or "body.0.rdb1.conv1.weight" not in state_dict:
        return None
    num_feat, in_channels = _shape(state_dict, "conv_first.weight")[:2]
    num_out_ch = _shape(state_dict, "conv_last.weight")[0]
    stages = 1 + ("conv_up2.weight" in state_dict) + ("conv_up3.weight" in state_dict)
    if stages == 2:
        # x2 and x1 pixel-unshuffle the input first (Real-ESRGAN x2plus): 4x / 16x the channels
        by_ratio = {1: 4, 4: 2, 16: 1}
        ratio = in_channels / num_out_ch
        if ratio not in by_ratio:
            raise DetectionError(
                f"{layout}: conv_first takes {in_channels} channels, which fits no RRDBNet scale "
                f"for {num_out_ch} output channels (expected 1x, 4x or 16x)"
            )
        scale, num_in_ch = by_ratio[ratio], num_out_ch
    else:
        scale, num_in_ch = {1: 3, 3: 8}[stages], in_channels
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                   num_block=len(_indices(state_dict, r"^body\.(\d+)\.rdb1\.conv1\.weight$")),
                   num_grow_ch=_shape(state_dict, "body.0.rdb1.conv1.weight")[0], scale=scale)
    return Detected("rrdbnet", hparams, layout, state_dict)


def _basicsr_rrdbnet(state_dict: dict) -> Detected | None:
    return _rrdbnet(state_dict, "RRDBNet (BasicSR/Real-ESRGAN names)")


def _esrgan_old(state_dict: dict) -> Detected | None:
    if not esrgan.is_old_layout(state_dict):
        return None
    return _rrdbnet(esrgan.rename_old_layout(state_dict), "ESRGAN (old model.N layout)")


def _esrgan_new(state_dict: dict) -> Detected | None:
    if not esrgan.is_new_layout(state_dict):
        return None
    return _rrdbnet(esrgan.rename_new_layout(state_dict), "ESRGAN (RRDB_trunk layout)")


def _compact(state_dict: dict) -> Detected | None:
    layout = "SRVGGNetCompact (Real-ESRGAN compact)"
    first = state_dict.get("body.0.weight")
    if first is None or len(first.shape) != 4 or any(not COMPACT_KEY.match(k) for k in state_dict):
        return None
    convs = [i for i in _indices(state_dict, r"^body\.(\d+)\.weight$")
             if len(state_dict[f"body.{i}.weight"].shape) == 4]
    if convs != list(range(0, 2 * len(convs), 2)) or len(convs) < 2:
        raise DetectionError(f"{layout}: convs at body.{convs}, expected body.0, body.2, ...")
    num_feat, num_in_ch = _shape(state_dict, "body.0.weight")[:2]
    if "body.1.weight" not in state_dict:
        raise DetectionError(
            f"{layout} without PReLU weights: its activation (relu or leakyrelu) cannot be read "
            "from the weights; export the uprez checkpoint (it records the activation) instead"
        )
    last_out = _shape(state_dict, f"body.{convs[-1]}.weight")[0]
    scale = math.isqrt(last_out // num_in_ch)
    if scale * scale * num_in_ch != last_out or scale not in SCALES["compact"]:
        raise DetectionError(
            f"{layout}: the last conv has {last_out} output channels, which is not "
            f"{num_in_ch} x scale^2 for a supported scale {SCALES['compact']}"
        )
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_in_ch, num_feat=num_feat,
                   num_conv=len(convs) - 2, scale=scale, act_type="prelu")
    return Detected("compact", hparams, layout, state_dict)


def _srresnet(state_dict: dict) -> Detected | None:
    layout = "SRResNet (uprez names)"
    if not {"conv_first.weight", "act_first.weight", "upsample.0.weight"} <= state_dict.keys():
        return None
    num_feat, num_in_ch = _shape(state_dict, "conv_first.weight")[:2]
    scale = 1
    for index in _indices(state_dict, r"^upsample\.(\d+)\.weight$"):
        shape = _shape(state_dict, f"upsample.{index}.weight")
        if len(shape) == 4:  # the PReLUs between them are 1-D
            factor = math.isqrt(shape[0] // num_feat)
            if factor not in (2, 3) or factor * factor * num_feat != shape[0]:
                raise DetectionError(f"{layout}: upsample.{index} has {shape[0]} output channels, "
                                     f"not {num_feat} x 4 or x 9")
            scale *= factor
    if scale not in SCALES["srresnet"]:
        raise DetectionError(f"{layout}: upsampling stages multiply to x{scale}, not one of "
                             f"{SCALES['srresnet']}")
    hparams = dict(num_in_ch=num_in_ch, num_out_ch=_shape(state_dict, "conv_last.weight")[0],
                   num_feat=num_feat,
                   num_block=len(_indices(state_dict, r"^body\.(\d+)\.conv1\.weight$")),
                   scale=scale, batch_norm="body.0.bn1.weight" in state_dict)
    return Detected("srresnet", hparams, layout, state_dict)


DETECTORS: dict[str, Callable[[dict], Detected | None]] = {
    "RRDBNet (BasicSR/Real-ESRGAN)": _basicsr_rrdbnet,
    "ESRGAN old layout (model.N)": _esrgan_old,
    "ESRGAN RRDB_trunk layout": _esrgan_new,
    "SRVGGNetCompact (Real-ESRGAN)": _compact,
    "SRResNet (uprez)": _srresnet,
}


def detect(state_dict: dict) -> Detected:
    """The architecture of a bare state dict, or a DetectionError naming what was tried."""
    for detector in DETECTORS.values():
        try:
            found = detector(state_dict)
        except (KeyError, IndexError, ValueError) as exc:
            if isinstance(exc, DetectionError):
                raise
            raise DetectionError(f"incomplete weights ({type(exc).__name__}: {exc})") from None
        if found is not None:
            _check_rgb(found)
            return found
    sample = ", ".join(list(state_dict)[:4])
    raise DetectionError(
        f"unrecognised weights: tried {'; '.join(DETECTORS)} and none matched (first of "
        f"{len(state_dict)} keys: {sample})"
    )


def from_uprez(arch: str, hparams: dict, state_dict: dict) -> Detected:
    """A self-describing uprez checkpoint: trust its arch and hparams, check them on build."""
    if arch not in ARCHS:
        raise DetectionError(f"uprez checkpoint names unknown architecture {arch!r}; "
                             f"this sr-export knows {', '.join(ARCHS)}")
    found = Detected(arch, dict(hparams), "uprez checkpoint", state_dict)
    _check_rgb(found)
    return found


def _check_rgb(found: Detected) -> None:
    channels = (found.hparams.get("num_in_ch", RGB), found.hparams.get("num_out_ch", RGB))
    if channels != (RGB, RGB):
        raise DetectionError(f"{found.layout} model maps {channels[0]} to {channels[1]} channels; "
                             "sr-export makes RGB models (3 to 3)")


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
