"""Rename the original ESRGAN repository's RRDBNet keys to the BasicSR names our RRDBNet uses.

Two historical layouts exist:
- old (`RRDB_ESRGAN_x4.pth` and most community models): one `nn.Sequential` named `model`:
  `model.0` conv_first, `model.1.sub.N.RDBk.convM.0` the RRDB trunk with `model.1.sub.<nb>` its
  closing conv, then per x2 upsampling stage (upsample, conv, lrelu), then HR conv, lrelu, last
  conv. So x4 has convs at 3, 6, 8, 10 and x8 at 3, 6, 9, 11, 13.
- new (after the ESRGAN repository's 2019 refactor): `RRDB_trunk`, `trunk_conv`, `upconvN`,
  `HRconv`, `conv_last`.
"""

from __future__ import annotations

import re

from .spec import LayoutError

OLD_RDB_KEY = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
OLD_CONV_KEY = re.compile(r"^model\.(\d+)\.(weight|bias)$")
NEW_RENAMES = (
    (re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\."), r"body.\1.rdb\2."),
    (re.compile(r"^trunk_conv\."), "conv_body."),
    (re.compile(r"^upconv(\d)\."), r"conv_up\1."),
    (re.compile(r"^HRconv\."), "conv_hr."),
)


def is_old_layout(state_dict: dict) -> bool:
    return "model.0.weight" in state_dict and any(OLD_RDB_KEY.match(k) for k in state_dict)


def is_new_layout(state_dict: dict) -> bool:
    return "RRDB_trunk.0.RDB1.conv1.weight" in state_dict and "trunk_conv.weight" in state_dict


def rename_new_layout(state_dict: dict) -> dict:
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in NEW_RENAMES:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    return renamed


def rename_old_layout(state_dict: dict) -> dict:
    renamed, top_convs = {}, set()
    trunk_ids = set()
    for key, value in state_dict.items():
        if match := OLD_RDB_KEY.match(key):
            block, rdb, conv, kind = match.groups()
            renamed[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
            trunk_ids.add(int(block))
        elif match := OLD_CONV_KEY.match(key):
            top_convs.add(int(match.group(1)))
        elif not key.startswith("model.1.sub."):
            raise LayoutError(f"ESRGAN (old layout) checkpoint with an unexpected key {key!r}")
    num_block = max(trunk_ids) + 1
    trunk_conv = f"model.1.sub.{num_block}"
    if f"{trunk_conv}.weight" not in state_dict:
        raise LayoutError(f"ESRGAN (old layout) checkpoint without its trunk conv {trunk_conv}")
    renamed["conv_body.weight"] = state_dict[f"{trunk_conv}.weight"]
    renamed["conv_body.bias"] = state_dict[f"{trunk_conv}.bias"]

    after_trunk = sorted(i for i in top_convs if i >= 2)
    upconvs, tail = after_trunk[:-2], after_trunk[-2:]
    stages = len(upconvs)
    # (upsample, conv, lrelu) per stage puts the stage convs at 3, 6, 9; then HR conv and last
    if upconvs != [3 * (i + 1) for i in range(stages)] or stages not in (2, 3) or \
            tail != [3 * stages + 2, 3 * stages + 4]:
        raise LayoutError(
            f"ESRGAN (old layout) checkpoint with convs at model.{after_trunk}; only the x4 and "
            "x8 upconv layouts (convs at 3,6,8,10 / 3,6,9,11,13) are supported"
        )
    names = [f"conv_up{i + 1}" for i in range(stages)] + ["conv_hr", "conv_last"]
    for index, name in zip([0, *after_trunk], ["conv_first", *names], strict=True):
        renamed[f"{name}.weight"] = state_dict[f"model.{index}.weight"]
        renamed[f"{name}.bias"] = state_dict[f"model.{index}.bias"]
    return renamed
