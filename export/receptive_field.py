"""Measure how many input pixels on each side of a pixel shape its output, for tile padding.

Method: on a random input, take the gradient of the centre output pixel (the mean of its
scale x scale block over all channels) with respect to the input, absolute values summed over
input channels. Two numbers come
out of it:
- the extent: the farthest input pixel (Chebyshev distance) with any influence at all. It is
  exact when the probe input is larger than it, which it is for compact models and SRResNet.
- the effective radius: the smallest R such that all input pixels farther than R together carry
  at most TAIL_TOLERANCE of influence. Padding tiles by R bounds the seam error by that amount
  for inputs in 0..1 (to first order). A deep RRDBNet reaches ~350 px in theory but its influence
  dies out within tens of pixels, so the extent would make tiles mostly padding.
The metadata records min(extent, effective radius). The probe grows (8, 16, 32, ... px) until the
effective radius sits well inside it, within a compute budget from the model's MACs per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Total influence allowed beyond the reported radius: 1/40 of an 8-bit level.
TAIL_TOLERANCE = 1e-4
FIRST_PROBE_RADIUS = 8
MAX_PROBE_SIDE = 257
PROBE_MAC_BUDGET = 1e11  # multiply-accumulates for the largest probe's forward pass


@dataclass(frozen=True)
class ReceptiveField:
    radius: int  # what the metadata records: input pixels on each side that matter
    extent: int | None  # pixels with any influence at all; None when beyond the largest probe
    converged: bool  # False: the probe budget ran out first, radius is a lower bound
    probe_side: int


def measure_receptive_field(model, *, scale: int, size_multiple: int,
                            macs_per_pixel: float = 0.0, seed: int = 0) -> ReceptiveField:
    max_pixels = MAX_PROBE_SIDE**2
    if macs_per_pixel > 0:
        max_pixels = min(max_pixels, int(PROBE_MAC_BUDGET / macs_per_pixel))
    radius = FIRST_PROBE_RADIUS
    while True:
        side = _probe_side(radius, size_multiple)
        influence, centre = _influence(model, side, scale, seed)
        border = min(centre, side - 1 - centre)
        mass_by_distance = _mass_by_distance(influence, centre)
        reached = [d for d, mass in enumerate(mass_by_distance) if mass > 0]
        extent = max(reached, default=0)
        effective = _effective_radius(mass_by_distance)
        next_side = _probe_side(radius * 2, size_multiple)
        if extent < border:  # everything that influences the pixel is inside the probe
            return ReceptiveField(min(extent, effective), extent, True, side)
        if effective <= radius // 2:
            return ReceptiveField(effective, None, True, side)
        if next_side * next_side > max_pixels:
            return ReceptiveField(effective, None, False, side)
        radius *= 2


def _probe_side(radius: int, size_multiple: int) -> int:
    return math.ceil((2 * radius + 1) / size_multiple) * size_multiple


def _influence(model, side: int, scale: int, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, side, side, generator=generator).requires_grad_(True)
    centre = side // 2
    with torch.enable_grad():
        out = model(x)
        block = out[0, :, centre * scale:(centre + 1) * scale, centre * scale:(centre + 1) * scale]
        block.mean().backward()
    return x.grad[0].abs().sum(0).double(), centre


def _mass_by_distance(influence, centre: int) -> list[float]:
    import torch

    side = influence.shape[-1]
    offsets = (torch.arange(side) - centre).abs()
    distance = torch.maximum(offsets[:, None], offsets[None, :])
    return torch.bincount(distance.flatten(), weights=influence.flatten()).tolist()


def _effective_radius(mass_by_distance: list[float]) -> int:
    # the smallest R with sum(mass beyond R) <= tolerance, accumulated from the far end
    tail = 0.0
    for distance in range(len(mass_by_distance) - 1, -1, -1):
        tail += mass_by_distance[distance]
        if tail > TAIL_TOLERANCE:
            return distance
    return 0
