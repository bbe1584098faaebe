"""Cost of a model per input pixel, measured on a small forward pass: MACs and peak activation.

The exporter uses them to bound the receptive-field probe and to suggest a tile size.
"""

from __future__ import annotations

from dataclasses import dataclass

# Largest activation of one tile, in bytes (fp32), that the tile hint aims for.
TILE_ACTIVATION_BUDGET = 256 * 2**20
TILE_CHOICES = (64, 128, 192, 256, 384, 512, 768, 1024)
PROFILE_SIDE = 32


@dataclass(frozen=True)
class ModelProfile:
    parameters: int
    macs_per_pixel: float  # multiply-accumulates per input pixel
    peak_floats_per_pixel: float  # largest single activation tensor, floats per input pixel


def profile_model(model, *, size_multiple: int) -> ModelProfile:
    import torch
    from torch import nn

    # per-pixel figures hardly depend on the size: 32 px (rounded up to the multiple) is enough,
    # and keeps this pass short for the big transformers (HAT-L at 128 px took minutes)
    side = -(-PROFILE_SIDE // size_multiple) * size_multiple
    pixels = side * side
    macs, peak = [0.0], [0.0]

    def count(module, inputs, output):
        if isinstance(output, torch.Tensor):
            peak[0] = max(peak[0], output.numel() / pixels)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            kernel = module.weight[0].numel()  # in_channels(/groups * kh * kw)
            macs[0] += output.numel() * kernel / pixels

    handles = [m.register_forward_hook(count) for m in model.modules() if m is not model]
    try:
        with torch.no_grad():
            model(torch.rand(1, 3, side, side))
    finally:
        for handle in handles:
            handle.remove()
    parameters = sum(p.numel() for p in model.parameters())
    return ModelProfile(parameters, macs[0], peak[0])


def tile_hint(profile: ModelProfile) -> int:
    """The largest usual tile whose biggest activation fits the budget (64 at least)."""
    bytes_per_pixel = 4 * max(profile.peak_floats_per_pixel, 1.0)
    fitting = [t for t in TILE_CHOICES if t * t * bytes_per_pixel <= TILE_ACTIVATION_BUDGET]
    return max(fitting, default=TILE_CHOICES[0])
