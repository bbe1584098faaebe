"""Device choice: auto falls back to CPU with one clear reason and a clean terminal."""

import pytest

from uprez.runtime.session import CPU, CUDA, DeviceError, load_session, parse_device


@pytest.mark.parametrize("text, parsed", [
    ("auto", ("auto", 0)), ("cpu", ("cpu", 0)), ("cuda", ("cuda", 0)), ("CUDA:1", ("cuda", 1)),
    ("tensorrt", ("tensorrt", 0)),
])
def test_device_names_parse(text, parsed):
    assert parse_device(text) == parsed


@pytest.mark.parametrize("text", ["gpu", "cuda:x", "cpu:1", ""])
def test_unknown_devices_are_refused(text):
    with pytest.raises(ValueError, match="device must be"):
        parse_device(text)


def test_auto_runs_on_cuda_or_says_in_one_line_why_not_and_keeps_the_terminal_clean(models, capfd):
    loaded = load_session(models["x2"], "auto")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # onnxruntime's own log lines are caught
    if loaded.provider == CUDA:
        assert loaded.fallback_reason is None
    else:
        assert loaded.provider == CPU
        assert loaded.fallback_reason and "\n" not in loaded.fallback_reason


def test_an_explicit_gpu_that_cannot_run_is_an_error_not_a_silent_fallback(models, capfd):
    try:
        loaded = load_session(models["x2"], "cuda")
    except DeviceError as exc:
        assert str(exc).startswith("--device cuda: ") and "\n" not in str(exc)
    else:
        assert loaded.provider == CUDA
    assert capfd.readouterr().err == ""


def test_cpu_is_cpu(models):
    assert load_session(models["x2"], "cpu").provider == CPU
