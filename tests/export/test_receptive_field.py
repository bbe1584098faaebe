"""The measured receptive field is what tile padding needs: padding a tile by it reproduces the
whole-image output, and where influence ends exactly the measurement finds that end."""

import math

import pytest
import torch

from uprez.export.receptive_field import TAIL_TOLERANCE, measure_receptive_field
from uprez.trainer.archs import size_multiple_for

from .helpers import tiny_model


def _tile_error(model, scale: int, multiple: int, pad: int) -> float:
    """Max difference between the whole-image output and one tile's padded run, inside the tile."""
    x = torch.rand(1, 3, 40 * multiple, 40 * multiple, generator=torch.Generator().manual_seed(0))
    y0, y1 = 12 * multiple, 28 * multiple
    with torch.no_grad():
        whole = model(x)[..., y0 * scale:y1 * scale, y0 * scale:y1 * scale]
        tile = model(x[..., y0 - pad:y1 + pad, y0 - pad:y1 + pad])
    inner = tile[..., pad * scale:(pad + y1 - y0) * scale, pad * scale:(pad + y1 - y0) * scale]
    return (inner - whole).abs().max().item()


@pytest.mark.parametrize("arch, scale", [("compact", 2), ("srresnet", 3), ("rrdbnet", 4),
                                         ("rrdbnet", 1)])
def test_tiles_padded_by_the_receptive_field_match_the_whole_image(arch, scale):
    model = tiny_model(arch, scale).requires_grad_(False)
    multiple = size_multiple_for(arch, scale)
    field = measure_receptive_field(model, scale=scale, size_multiple=multiple)
    assert field.converged
    pad = math.ceil(field.radius / multiple) * multiple
    assert _tile_error(model, scale, multiple, pad) <= 5 * TAIL_TOLERANCE
    half_pad = pad // 2 // multiple * multiple
    assert _tile_error(model, scale, multiple, half_pad) > 20 * TAIL_TOLERANCE


@pytest.mark.parametrize("num_conv", [2, 5])
def test_compact_influence_ends_exactly_one_pixel_per_conv(num_conv):
    model = tiny_model("compact", 2, num_conv=num_conv).requires_grad_(False)
    field = measure_receptive_field(model, scale=2, size_multiple=1)
    assert field.extent == num_conv + 2  # every conv, the first and last included, is 3x3
    assert field.radius <= field.extent
    assert _tile_error(model, 2, 1, field.extent) < 1e-5
    assert _tile_error(model, 2, 1, field.extent - 1) > 0


def test_deep_rrdbnet_reports_an_effective_radius_far_below_its_reach():
    # 6 blocks of 15 convs: influence reaches ~92 px, but fades within a few dozen
    model = tiny_model("rrdbnet", 4, num_block=6).requires_grad_(False)
    field = measure_receptive_field(model, scale=4, size_multiple=1)
    assert field.extent is None or field.extent > 90
    assert field.radius < 40
