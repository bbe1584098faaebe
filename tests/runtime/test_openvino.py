"""`--device openvino`: real OpenVINO runs, compared with onnxruntime on real photos.

Skipped where the uprez[openvino] extra is not installed (the runtime-only CI venv); the
refusal without the extra is tested in test_cli_devices.py in both venvs."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ov = pytest.importorskip("openvino", reason="OpenVINO is the uprez[openvino] extra, not "
                         "installed in this venv")

from tests.onnx_models import make_sr_model  # noqa: E402
from tests.runtime.helpers import noise  # noqa: E402
from uprez.runtime.backends import DeviceError  # noqa: E402
from uprez.runtime.backends.openvino import _core, cpu_threads  # noqa: E402
from uprez.runtime.base.imageio import read_image  # noqa: E402
from uprez.runtime.metadata import ModelInfo  # noqa: E402
from uprez.runtime.upscaler import Upscaler  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAPABILITIES = _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
HAS_BF16 = "BF16" in CAPABILITIES
NO_BF16 = f"this CPU has no bf16 (OpenVINO reports {', '.join(CAPABILITIES)})"


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UPREZ_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def photos():
    """The example photos, cropped to 160x192 to keep the test fast."""
    return [read_image(path)[:160, :192] for path in sorted(EXAMPLES.glob("*.png"))]


@pytest.fixture(scope="module")
def reference(photos):
    """onnxruntime's CPU provider in fp32 with the shipped x4 model: the baseline."""
    upscaler = Upscaler(device="cpu", tile=128)
    return [upscaler.upscale(photo) for photo in photos]


def grey_levels(a, b) -> int:
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


def compiled_hint(upscaler) -> str:
    engine = upscaler._model.engine
    compiled = next(iter(engine._compiled.values()))._compiled
    return str(compiled.get_property("INFERENCE_PRECISION_HINT"))


def test_fp32_is_within_one_grey_level_of_onnxruntime_on_real_photos(photos, reference):
    upscaler = Upscaler(device="openvino", precision="fp32", tile=128)
    assert (upscaler.provider, upscaler.precision) == ("OpenVINO CPU", "fp32")
    outputs = [upscaler.upscale(photo) for photo in photos]
    assert compiled_hint(upscaler) == "<Type: 'float32'>"
    assert max(grey_levels(a, b) for a, b in zip(outputs, reference, strict=True)) <= 1


@pytest.mark.skipif(not HAS_BF16, reason=NO_BF16)
def test_bf16_is_within_two_grey_levels_of_onnxruntime_fp32_on_real_photos(photos, reference):
    upscaler = Upscaler(device="openvino", tile=128)  # the shipped model allows reduced precision
    assert upscaler.precision == "bf16"
    outputs = [upscaler.upscale(photo) for photo in photos]
    assert compiled_hint(upscaler) == "<Type: 'bfloat16'>"
    assert max(grey_levels(a, b) for a, b in zip(outputs, reference, strict=True)) <= 2


def test_auto_precision_is_bf16_only_where_the_cpu_has_it():
    assert Upscaler(device="openvino").precision == ("bf16" if HAS_BF16 else "fp32")


@pytest.mark.skipif(HAS_BF16, reason="this CPU has bf16, so asking for it is no error")
def test_asking_for_bf16_on_a_cpu_without_it_names_what_the_cpu_runs():
    with pytest.raises(DeviceError, match=r"--precision bf16: OpenVINO on this CPU \(.*\) runs "
                                          r"fp32 only"):
        Upscaler(device="openvino", precision="bf16")


def test_a_model_without_reduced_precision_metadata_stays_fp32(models):
    assert Upscaler(models["x2"], device="openvino").precision == "fp32"


def test_tiles_batches_and_threads_give_the_whole_image_result(models, rng):
    whole = Upscaler(models["x2"], device="openvino", tile=0)
    tiled = Upscaler(models["x2"], device="openvino", tile=16, batch=3)
    image = noise(rng, (45, 52, 3))
    expected = whole.upscale(image)
    assert grey_levels(tiled.upscale(image), expected) <= 1
    frames = [image, image[::-1].copy()]
    batch = tiled.upscale_batch(frames)
    assert grey_levels(batch[1], whole.upscale(frames[1])) <= 1

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:  # one compiled shape, several requests at once
        results = list(pool.map(tiled.upscale, [image] * 6))
    assert all(np.array_equal(r, results[0]) for r in results)


def test_threads_fill_the_cores_this_process_may_use_without_pinning():
    engine = Upscaler(device="openvino", tile=64)._model.engine
    compiled = next(iter(engine._compiled.values()))._compiled
    assert compiled.get_property("INFERENCE_NUM_THREADS") == cpu_threads()
    assert compiled.get_property("ENABLE_CPU_PINNING") is False


def test_the_compiled_cache_is_keyed_by_model_bytes_and_input_shape(tmp_path, own_cache, rng):
    """A changed model at the same path, or a new tile shape, never loads an old blob."""
    path = tmp_path / "model.onnx"
    info = ModelInfo(scale=2, receptive_field=2).to_props()
    make_sr_model(path, scale=2, convs=2, seed=1, metadata=info)
    image = noise(rng, (40, 40, 3))
    first = Upscaler(path, device="openvino", tile=16).upscale(image)
    shapes = _shape_folders(own_cache)
    assert len({folder.parent.parent for folder in shapes}) == 1  # one model
    assert all(any(folder.iterdir()) for folder in shapes)  # each holds its compiled blob

    again = Upscaler(path, device="openvino", tile=16).upscale(image)  # from the cache
    assert np.array_equal(again, first) and _shape_folders(own_cache) == shapes

    make_sr_model(path, scale=2, convs=2, seed=2, metadata=info)  # new weights, same name
    changed = Upscaler(path, device="openvino", tile=16).upscale(image)
    fresh = Upscaler(path, device="cpu", tile=16).upscale(image)
    assert grey_levels(changed, fresh) <= 1 and grey_levels(changed, first) > 10
    assert len({folder.parent.parent for folder in _shape_folders(own_cache)}) == 2

    before = set(_shape_folders(own_cache))
    Upscaler(path, device="openvino", tile=24).upscale(image)  # another tile shape
    added = set(_shape_folders(own_cache)) - before
    assert added and all(folder.name.startswith("4x3x") for folder in added)


def _shape_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("openvino/*/*/*") if p.is_dir())


def test_an_unwritable_cache_only_costs_speed(tmp_path, monkeypatch, rng):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("UPREZ_CACHE_DIR", str(blocked))
    out = Upscaler(device="openvino", tile=32).upscale(noise(rng, (20, 20, 3)))
    assert out.shape == (80, 80, 3)


def test_the_cache_keeps_to_its_size_by_dropping_the_least_recently_used(tmp_path, own_cache):
    from uprez.runtime.backends import cache

    old, new = own_cache / "openvino" / "a" / "old", own_cache / "openvino" / "b" / "new"
    for folder, when in ((old, 1_000_000), (new, 2_000_000)):
        folder.mkdir(parents=True)
        (folder / "blob").write_bytes(bytes(1000))
        os.utime(folder, (when, when))
    cache.prune("openvino", keep=new, limit=1500)
    assert not old.exists() and new.exists()
    shutil.rmtree(own_cache)


def test_engines_come_and_go_and_ctrl_c_still_works(models, rng):
    """Two OpenVINO Cores in one process, one of them released, made the next SIGINT crash
    the process (segfault); engines now share one Core."""
    import signal

    for _ in range(2):
        Upscaler(models["x2"], device="openvino", tile=0).upscale(noise(rng, (8, 8, 3)))
    import gc

    gc.collect()
    caught = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught == [signal.SIGINT]
