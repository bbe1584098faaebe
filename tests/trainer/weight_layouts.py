"""Tiny generators saved in every checkpoint layout uprez reads (ours, BasicSR/Real-ESRGAN,
bare, `module.`-prefixed, safetensors, the original ESRGAN's two), for the tests of reading
and detecting weight files (sr-train --init, sr-export).

The ESRGAN layouts are written here independently of uprez.trainer.archs.esrgan_keys, from the
layout of the original ESRGAN code, so a renaming mistake there cannot be mirrored here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from uprez.trainer.archs import ARCHS, build_generator

SMALL = {
    "srresnet": dict(num_feat=8, num_block=2),
    "rrdbnet": dict(num_feat=8, num_block=2, num_grow_ch=4),
    "compact": dict(num_feat=8, num_conv=2),
    # the community's architectures in their published layouts, shrunk: few, narrow blocks
    # and small windows (x1 needs an upsampler that makes it)
    "span": dict(feature_channels=8),
    "swinir": dict(embed_dim=12, depths=[2], num_heads=[2], window_size=4, img_size=8,
                   upsampler="pixelshuffledirect"),
    "hat": dict(embed_dim=12, depths=[2], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8),
    "dat": dict(embed_dim=32, split_size=[2, 4], depth=[3], num_heads=[2],
                expansion_factor=1.0, img_size=8, upsampler="pixelshuffledirect"),
    "omnisr": dict(num_feat=8, res_num=1, window_size=8),
}


def arch_of(model: torch.nn.Module) -> str:
    return next(name for name, cls in ARCHS.items() if type(model) is cls)


def tiny_model(arch: str, scale: int, seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_generator(arch, scale=scale, **{**SMALL[arch], **overrides}).eval()
    # random init leaves residual branches nearly silent; make every weight matter
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model


def perturbed(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """A copy with different weights, standing in for EMA weights."""
    other = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in other.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    return other


def to_esrgan_old(state_dict: dict, stages: int) -> dict:
    num_block = 1 + max(int(k.split(".")[1]) for k in state_dict if k.startswith("body."))
    tops = {"conv_first": 0, "conv_body": None, "conv_hr": 3 * stages + 2,
            "conv_last": 3 * stages + 4}
    tops.update({f"conv_up{i + 1}": 3 * (i + 1) for i in range(stages)})
    old = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        if parts[0] == "body":  # body.i.rdbK.convM.weight
            old[f"model.1.sub.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.0.{parts[4]}"] = value
        elif parts[0] == "conv_body":
            old[f"model.1.sub.{num_block}.{parts[1]}"] = value
        else:
            old[f"model.{tops[parts[0]]}.{parts[1]}"] = value
    return old


def to_esrgan_new(state_dict: dict) -> dict:
    renames = {"conv_body": "trunk_conv", "conv_hr": "HRconv", "conv_up1": "upconv1",
               "conv_up2": "upconv2", "conv_up3": "upconv3"}
    new = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        if parts[0] == "body":
            new[f"RRDB_trunk.{parts[1]}.RDB{parts[2][3:]}.{parts[3]}.{parts[4]}"] = value
        else:
            new[".".join([renames.get(parts[0], parts[0]), *parts[1:]])] = value
    return new


def save_layout(layout: str, path: Path, model: torch.nn.Module, ema: torch.nn.Module) -> None:
    """Write `model` (and `ema` where the layout has EMA weights) as `layout` to `path`."""
    plain = model.state_dict()
    averaged = (ema or model).state_dict()
    stages = {8: 3}.get(model.scale, 2)
    if layout == "uprez":
        torch.save({"format": "uprez-checkpoint", "format_version": 1,
                    "arch": arch_of(model), "hparams": model.hparams,
                    "params": plain, "params_ema": averaged, "step": 10, "phase": "psnr",
                    "config": {"lr": 1e-4}}, path)
    elif layout == "basicsr":
        torch.save({"params": plain, "params_ema": averaged}, path)
    elif layout == "raw":
        torch.save(plain, path)
    elif layout == "module-prefix":
        torch.save({"state_dict": {f"module.{k}": v for k, v in plain.items()}}, path)
    elif layout == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in plain.items()}, str(path))
    elif layout == "esrgan-old":
        torch.save(to_esrgan_old(plain, stages), path)
    elif layout == "esrgan-new":
        torch.save(to_esrgan_new(plain), path)
    else:
        raise ValueError(layout)
