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

Models with whole-image context (global pooling, channel attention over all pixels: HAT, DAT,
OmniSR) spread a little influence over every input pixel, so the tail never falls below the
tolerance however far out. For them the radius is where the local part ends: the smallest R
beyond which the mean influence per pixel of every ring stays within EVEN_FACTOR of the far
level (the median ring mean over the outer half of the probe). The far level's share of the
total is reported as `global_share`; tiles cannot cover it, whatever their pad. Rings that stand
out far away (OmniSR's grid attention) keep the radius growing until the probe budget ends.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

# Total influence allowed beyond the reported radius: 1/40 of an 8-bit level.
TAIL_TOLERANCE = 1e-4
FIRST_PROBE_RADIUS = 8
MAX_PROBE_SIDE = 257
PROBE_MAC_BUDGET = 1e11  # multiply-accumulates for the largest probe's forward pass
EVEN_FACTOR = 2.0  # whole-image context: rings within this factor of the far level are "far"


@dataclass(frozen=True)
class ReceptiveField:
    radius: int  # what the metadata records: input pixels on each side that matter
    extent: int | None  # pixels with any influence at all; None when beyond the largest probe
    converged: bool  # False: the probe budget ran out first, radius is a lower bound
    probe_side: int
    global_share: float = 0.0  # fraction of the influence spread evenly over the whole input


def measure_receptive_field(model, *, scale: int, size_multiple: int,
                            macs_per_pixel: float = 0.0, seed: int = 0,
                            global_context: bool = False) -> ReceptiveField:
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
        effective, share = _effective_radius(mass_by_distance), 0.0
        if global_context:
            effective, share = _local_radius(mass_by_distance, border)
            if effective > border // 4:  # the far level must be read well beyond the local part
                effective = max(effective, radius)
        next_side = _probe_side(radius * 2, size_multiple)
        if extent < border:  # everything that influences the pixel is inside the probe
            return ReceptiveField(min(extent, effective), extent, True, side, share)
        if effective <= radius // 2:
            return ReceptiveField(effective, None, True, side, share)
        if next_side * next_side > max_pixels:
            return ReceptiveField(effective, None, False, side, share)
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


def _distances(side: int, centre: int):
    import torch

    offsets = (torch.arange(side) - centre).abs()
    return torch.maximum(offsets[:, None], offsets[None, :])


def _local_radius(mass_by_distance: list[float], border: int) -> tuple[int, float]:
    """Where the local part of the influence ends, and the far level's share (module docstring)."""
    rings = mass_by_distance[:border + 1]
    ring_means = [mass / (8 * d if d else 1) for d, mass in enumerate(rings)]
    far_level = statistics.median(ring_means[border // 2:])
    radius = border
    while radius > 0 and ring_means[radius] <= EVEN_FACTOR * far_level:
        radius -= 1
    total = sum(mass_by_distance)
    pixels = (2 * border + 1) ** 2
    return radius, far_level * pixels / total if total > 0 else 0.0


def _mass_by_distance(influence, centre: int) -> list[float]:
    import torch

    distance = _distances(influence.shape[-1], centre)
    return torch.bincount(distance.flatten(), weights=influence.flatten()).tolist()


def _effective_radius(mass_by_distance: list[float]) -> int:
    # the smallest R with sum(mass beyond R) <= tolerance, accumulated from the far end
    tail = 0.0
    for distance in range(len(mass_by_distance) - 1, -1, -1):
        tail += mass_by_distance[distance]
        if tail > TAIL_TOLERANCE:
            return distance
    return 0
