"""The worker of `sr-run --cluster` without Ray around it: it loads the model from the bytes
sent to it (no shared filesystem for the model) and runs the runtime's own image code, with the
results a one-machine run gets. The Ray side is tests/runtime/test_cluster.py."""

from __future__ import annotations

import pytest

from tests.runtime.helpers import noise
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.cluster.model_parcel import SINGLE, ModelFile, ModelParcel, pack
from uprez.runtime.cluster.worker import UpscaleWorker, WorkerFacts, worker_options
from uprez.runtime.discover import Job
from uprez.runtime.models import AutoModel
from uprez.runtime.pipeline import RunOptions
from uprez.runtime.planning import ModelSettings
from uprez.runtime.upscaler import Upscaler


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("UPREZ_CACHE_DIR", str(folder))
    return folder


def test_a_worker_loads_the_model_from_its_bytes_under_the_files_own_name(models, cache,
                                                                          tmp_path):
    parcel, paths = pack(models["x2"], None)
    assert paths == {SINGLE: models["x2"]}
    worker = UpscaleWorker(parcel, ModelSettings(path=models["x2"], device="cpu"), 1)
    facts = worker.facts()
    assert isinstance(facts, WorkerFacts)
    assert facts.models[SINGLE].file_name == models["x2"].name
    assert facts.models[SINGLE].info.name == "test-x2"
    unpacked = list(cache.rglob("*.onnx"))
    assert [p.read_bytes() for p in unpacked] == [models["x2"].read_bytes()]


def test_a_worker_upscales_a_chunk_as_a_one_machine_run_and_names_a_bad_file(models, cache,
                                                                            tmp_path, rng):
    sources = []
    for index in range(3):
        write_image(tmp_path / f"in{index}.png", noise(rng, (12 + index, 10, 3)))
        sources.append(tmp_path / f"in{index}.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    jobs = [Job(path, tmp_path / "out" / path.name) for path in [*sources, tmp_path / "bad.png"]]
    parcel, _ = pack(models["x2"], None)
    worker = UpscaleWorker(parcel, ModelSettings(path=models["x2"], device="cpu"), 1)
    result = worker.images(jobs, worker_options(RunOptions()))
    assert sorted(result.done) == sorted(str(p) for p in sources)
    assert [path for path, _ in result.failed] == [str(tmp_path / "bad.png")]
    assert result.stats.images == 3
    here = Upscaler(models["x2"], device="cpu")
    for path in sources:
        expected = here.upscale(read_image(path))
        assert (read_image(tmp_path / "out" / path.name) == expected).all()


def test_an_auto_choice_travels_as_its_two_models_and_picks_per_image(models, cache, tmp_path,
                                                                       rng):
    choice = AutoModel("test-auto-x2", 2, clean="x2", real="x2_seams", real_below_quality=90)
    parcel = ModelParcel({variant: ModelFile(models[name].name, models[name].read_bytes())
                          for variant, name in (("clean", "x2"), ("real", "x2_seams"))}, choice)
    worker = UpscaleWorker(parcel, ModelSettings(device="cpu"), 1)
    facts = worker.facts()
    assert set(facts.models) == {"clean", "real"}
    assert facts.models["real"].file_name == "x2_seams.onnx"
    write_image(tmp_path / "a.png", noise(rng, (16, 16, 3)))
    result = worker.images([Job(tmp_path / "a.png", tmp_path / "out" / "a.png")],
                           worker_options(RunOptions()))
    assert result.done == [str(tmp_path / "a.png")] and sum(result.used.values()) == 1


def test_a_model_that_cannot_load_is_reported_not_raised(tmp_path, cache):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    parcel, _ = pack(bad, None)
    facts = UpscaleWorker(parcel, ModelSettings(path=bad, device="cpu"), 1).facts()
    assert isinstance(facts, str) and "not an ONNX model" in facts


def test_a_missing_model_is_found_on_the_driver_before_any_cluster(tmp_path):
    from uprez.runtime.backends import ModelError

    with pytest.raises(ModelError, match="model file not found"):
        pack(tmp_path / "missing.onnx", None)
