"""Small real ONNX models and image files for the runtime tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.onnx_models import make_sr_model
from uprez.runtime.metadata import ModelInfo

FIELD = 3  # receptive field of the tiling model: 3 stacked 3x3 convs


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Paths of the test models, built once per test session."""
    folder = tmp_path_factory.mktemp("models")
    # gain 1.0 makes the detail branch react strongly to neighbours, so any tile that misses
    # context shows up as large errors (a weak model would hide tiling bugs inside rounding)
    return {
        "x2": make_sr_model(folder / "x2.onnx", scale=2, convs=FIELD, gain=1.0,
                            metadata=ModelInfo(scale=2, receptive_field=FIELD,
                                               name="test-x2").to_props()),
        "x4": make_sr_model(folder / "x4.onnx", scale=4, convs=2, seed=1,
                            metadata=ModelInfo(scale=4, receptive_field=2).to_props()),
        "bare_x3": make_sr_model(folder / "bare_x3.onnx", scale=3, convs=2, seed=2),
        "bgr_x2": make_sr_model(folder / "bgr_x2.onnx", scale=2, convs=FIELD, gain=1.0,
                                metadata=ModelInfo(scale=2, receptive_field=FIELD,
                                                   channel_order="BGR").to_props()),
        "x2_seams": make_sr_model(folder / "x2_seams.onnx", scale=2, convs=4, gain=0.7,
                                  metadata=ModelInfo(scale=2, receptive_field=4).to_props()),
    }


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, started once per test session (skipped, with the reason, if absent)."""
    from tests.browser import start_browser

    started = start_browser()
    yield started
    started.close()
