"""Tile placement and stitching, checked on the plans themselves."""

import itertools

import numpy as np
import pytest

from uprez.runtime.tiling import Assembler, plan_axis, plan_tiles

CASES = list(itertools.product([1, 5, 16, 17, 63, 100, 257],  # lengths
                               [1, 4, 16, 64],  # tiles
                               [0, 2, 5],  # pads
                               [1, 3]))  # scales


def coverage(plan, length, scale):
    total = np.zeros(length * scale, np.float64)
    for (lo, hi), weight in zip(plan.spans, plan.weights, strict=True):
        total[lo:hi] += 1.0 if weight is None else weight
    return total


@pytest.mark.parametrize("balance", [False, True])
@pytest.mark.parametrize("length, tile, pad, scale", CASES)
def test_windows_have_one_size_lie_inside_the_image_and_cover_it(length, tile, pad, scale,
                                                                 balance):
    plan = plan_axis(length, tile=tile, pad=pad, scale=scale, trusted=pad, balance=balance)
    if balance:
        assert plan.window <= min(tile + 2 * pad, length)
    else:
        assert plan.window == min(tile + 2 * pad, length)
    assert plan.starts[0] == 0 and plan.starts[-1] + plan.window == length
    assert all(0 <= s and s + plan.window <= length for s in plan.starts)
    assert list(plan.starts) == sorted(set(plan.starts))
    # blend weights add up to exactly one on every output pixel
    np.testing.assert_allclose(coverage(plan, length, scale), 1.0, atol=1e-6)


@pytest.mark.parametrize("balance", [False, True])
@pytest.mark.parametrize("length, tile, pad, scale", CASES)
def test_each_window_only_contributes_where_it_had_full_context(length, tile, pad, scale,
                                                                balance):
    plan = plan_axis(length, tile=tile, pad=pad, scale=scale, trusted=pad, balance=balance)
    for i, (start, (lo, hi)) in enumerate(zip(plan.starts, plan.spans, strict=True)):
        first_input, last_input = lo // scale, (hi - 1) // scale
        if i > 0:  # inner left edge: `pad` pixels of context before the first used pixel
            assert first_input - start >= pad
        if i < len(plan.starts) - 1:
            assert start + plan.window - 1 - last_input >= pad


def test_a_blend_widens_overlaps_into_ramps():
    # 208 = one 48-pixel window + 4 steps of 40: overlaps are exactly 2*pad without a blend
    hard = plan_axis(208, tile=40, pad=4, scale=2, trusted=4)
    soft = plan_axis(208, tile=40, pad=4, scale=2, trusted=4, blend=4)
    assert all(w is None for w in hard.weights)
    ramps = [w for w in soft.weights if w is not None]
    assert ramps and all(((w > 0) & (w < 1)).sum() >= 8 for w in ramps[1:-1])
    assert len(soft.starts) > len(hard.starts)


def test_balanced_windows_shrink_to_what_the_same_count_needs():
    plain = plan_axis(640, tile=512, pad=8, scale=1, trusted=8)
    balanced = plan_axis(640, tile=512, pad=8, scale=1, trusted=8, balance=True)
    assert len(plain.starts) == len(balanced.starts) == 2
    assert plain.window == 528 and balanced.window == 328  # (640 + 16) / 2


def test_an_image_smaller_than_a_tile_is_one_window_of_its_own_size():
    plan = plan_tiles(30, 7, tile=64, pad=8, scale=4, trusted=8)
    assert plan.window_shape == (30, 7)
    assert plan.windows() == [(0, 0)]


def test_window_sizes_and_starts_respect_the_size_multiple():
    plan = plan_axis(96, tile=20, pad=3, scale=2, trusted=3, multiple=8)
    assert plan.window % 8 == 0
    assert all(s % 8 == 0 for s in plan.starts)


def stitch(plan, tiles, scale, height, width):
    out = np.zeros((height * scale, width * scale, 1), np.float32)
    assembler = Assembler(plan, out, scale, lambda band: band.transpose(1, 2, 0))
    for (r, c), tile in zip(plan.windows(), tiles, strict=True):
        assembler.add(r, c, tile)
    assert assembler.complete
    return out[:, :, 0]


def test_stitching_windows_of_a_known_image_rebuilds_it_exactly():
    height, width, scale = 50, 70, 2
    truth = np.random.default_rng(0).random((1, height * scale, width * scale), np.float32)
    plan = plan_tiles(height, width, tile=16, pad=3, scale=scale, trusted=1, blend=3)
    tiles = []
    for r, c in plan.windows():
        y, x = plan.rows.starts[r] * scale, plan.cols.starts[c] * scale
        h, w = plan.rows.window * scale, plan.cols.window * scale
        tiles.append(truth[:, y:y + h, x:x + w])
    np.testing.assert_allclose(stitch(plan, tiles, scale, height, width), truth[0],
                               atol=1e-5)


def test_blending_spreads_a_per_tile_offset_instead_of_cutting_it():
    # Each window's output is off by its own constant, like a tile that lacked context. A hard
    # cut turns that into a step between two output rows; the blend ramps it.
    height, width, scale = 24, 24 + 4 * 16, 2  # without a blend, overlaps are exactly 2*pad
    offsets = [0.0, 0.3, -0.2, 0.25, 0.0, 0.1, -0.3, 0.2]

    def largest_step(blend):
        plan = plan_tiles(height, width, tile=16, pad=4, scale=scale, trusted=4, blend=blend)
        tiles = [np.full((1, plan.rows.window * scale, plan.cols.window * scale),
                         offsets[c % len(offsets)], np.float32) for _, c in plan.windows()]
        stitched = stitch(plan, tiles, scale, height, width)
        return np.abs(np.diff(stitched, axis=1)).max()

    biggest_offset_change = 0.5
    assert largest_step(0) == pytest.approx(biggest_offset_change)
    assert largest_step(4) <= biggest_offset_change / 8 + 1e-6  # ramps of >= 8 output pixels
