"""The progress charts: series where their values say, in their colours, on nice axes."""

from __future__ import annotations

import numpy as np
import pytest

from uprez.trainer.plot import _COLOURS, _ticks, line_chart

WIDTH, HEIGHT = 900, 320


def drawn_in(image: np.ndarray, colour) -> np.ndarray:
    """Pixels of `colour`, give or take the anti-aliasing."""
    return np.abs(image.astype(int) - np.array(colour)).sum(axis=-1) < 60


def rows_of(image: np.ndarray, colour, columns: slice) -> np.ndarray:
    """Row indices of the pixels drawn in `colour` within `columns`, leaving out the title and
    the legend (top left)."""
    mask = drawn_in(image, colour)
    mask[:60, :430] = False
    return np.nonzero(mask[:, columns])[0]


def test_a_rising_series_goes_from_bottom_left_to_top_right_in_its_colour():
    image = line_chart({"a": ([0, 100], [1.0, 3.0])}, title="loss", size=(WIDTH, HEIGHT))
    assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
    left, right = rows_of(image, _COLOURS[0], slice(80, 200)), rows_of(image, _COLOURS[0],
                                                                       slice(750, 870))
    assert left.size and right.size
    assert left.mean() > right.mean() + 100  # image rows grow downwards


def test_two_series_get_two_colours():
    image = line_chart({"a": ([0, 9], [1.0, 2.0]), "b": ([0, 9], [2.0, 1.0])}, title="t")
    for colour in _COLOURS[:2]:
        assert rows_of(image, colour, slice(80, 880)).size > 100


def test_log_scale_draws_a_geometric_series_as_a_straight_line():
    series = {"a": ([0, 1, 2], [1.0, 10.0, 100.0])}
    for log_y, straight in ((True, True), (False, False)):
        image = line_chart(series, title="t", log_y=log_y, size=(WIDTH, HEIGHT))
        first = rows_of(image, _COLOURS[0], slice(72, 76)).mean()
        middle = rows_of(image, _COLOURS[0], slice(473, 478)).mean()  # x = 1 of 0..2
        last = rows_of(image, _COLOURS[0], slice(874, 878)).mean()
        off_line = abs(middle - (first + last) / 2)
        assert (off_line < 4) == straight, (log_y, first, middle, last)


def test_a_reference_is_a_dashed_horizontal_line_at_its_value():
    image = line_chart({"a": ([0, 10], [20.0, 30.0])}, title="val", references={"bicubic": 25.0},
                       size=(WIDTH, HEIGHT))
    rows = rows_of(image, _COLOURS[1], slice(70, 880))
    assert rows.size and rows.max() - rows.min() <= 2  # one horizontal line
    series_rows = rows_of(image, _COLOURS[0], slice(72, 76)), rows_of(image, _COLOURS[0],
                                                                      slice(874, 878))
    halfway = (series_rows[0].mean() + series_rows[1].mean()) / 2
    assert abs(rows.mean() - halfway) < 4
    dashes = drawn_in(image[int(round(rows.mean())), 70:880], _COLOURS[1])
    assert 0.3 < dashes.mean() < 0.8  # dashes and gaps


def test_values_a_chart_cannot_show_are_left_out():
    nothing = line_chart({"a": ([0, 1, 2], [float("nan"), 0.0, -1.0])}, title="t", log_y=True)
    assert not rows_of(nothing, _COLOURS[0], slice(0, WIDTH)).size  # "no data yet" instead
    some = line_chart({"a": ([0, 1, 2, 3], [1.0, float("inf"), 0.0, 4.0])}, title="t",
                      log_y=True)
    assert rows_of(some, _COLOURS[0], slice(80, 880)).size > 100


def test_ticks_are_round_numbers_inside_the_range():
    assert _ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert _ticks(3.0, 97.0) == [20.0, 40.0, 60.0, 80.0]
    assert _ticks(5.0, 5.0) == [5.0]
