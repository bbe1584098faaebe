"""Several GPUs: which devices a request names, and work spread over several engines. No GPU
here, so the engines are real onnxruntime CPU engines standing in for one GPU each."""

import threading
import time

import numpy as np
import pytest

from tests.runtime.helpers import noise
from uprez.runtime.backends import DeviceError, ort
from uprez.runtime.backends.devices import parse_device
from uprez.runtime.backends.gpu_plan import plan_gpus
from uprez.runtime.backends.nvidia import Gpu
from uprez.runtime.base.imageio import read_image, write_image
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import Job
from uprez.runtime.pipeline import RunOptions, run_jobs
from uprez.runtime.upscaler import Upscaler, _EnginePool

GPUS = tuple(Gpu(i, f"NVIDIA L4 #{i}", f"GPU-{i:08x}-0000-0000-0000-000000000000", 24 << 30,
                 (8, 9)) for i in range(3))


@pytest.mark.parametrize("device, chosen", [
    ("cuda", (0,)), ("cuda:2", (2,)), ("cuda:2,0", (2, 0)), ("cuda:all", (0, 1, 2)),
    ("tensorrt:1,2", (1, 2)),
])
def test_a_request_names_the_gpus_in_its_order(device, chosen):
    assert tuple(g.index for g in plan_gpus(parse_device(device), GPUS)) == chosen


def test_gpus_the_machine_lacks_are_refused_with_the_list():
    with pytest.raises(DeviceError, match=r"no GPU 5; this machine has 3 NVIDIA GPUs \(0: "):
        plan_gpus(parse_device("cuda:1,5"), GPUS)
    with pytest.raises(DeviceError, match="no NVIDIA GPU found"):
        plan_gpus(parse_device("cuda:all"), ())


class Recording(ort.OrtEngine):
    """A real CPU engine that notes which thread ran which batch, and holds each run a moment
    so that runs on different engines overlap when they can."""

    def __init__(self, model, name, log, lanes=1):
        super().__init__(ort.create_cpu_session(model, ort.API), "CPUExecutionProvider", "fp32")
        self.name, self.log, self.lanes = name, log, lanes

    def run(self, batch):
        start = time.perf_counter()
        threading.Event().wait(0.02)
        out = super().run(batch)
        self.log.append((self.name, start, time.perf_counter()))
        return out


def two_engine_upscaler(models, log, **options):
    upscaler = Upscaler(models["x2"], device="cpu", **options)
    engines = (Recording(models["x2"], "gpu0", log, lanes=2),
               Recording(models["x2"], "gpu1", log, lanes=2))
    upscaler._pool = _EnginePool(engines)
    upscaler.parallel_images = len(engines)
    return upscaler


def test_the_windows_of_one_image_spread_over_the_engines_with_the_same_result(models, rng):
    log: list = []
    image = noise(rng, (60, 70, 3))
    single = Upscaler(models["x2"], device="cpu", tile=16, batch=2).upscale(image)
    spread = two_engine_upscaler(models, log, tile=16, batch=2).upscale(image)
    assert np.array_equal(spread, single)
    assert {name for name, _, _ in log} == {"gpu0", "gpu1"}


def test_video_frame_batches_spread_over_the_engines(models, rng):
    log: list = []
    frames = [noise(rng, (40, 44, 3)) for _ in range(4)]
    upscaler = two_engine_upscaler(models, log, tile=24, batch=2)
    outputs = upscaler.upscale_batch(frames)
    reference = Upscaler(models["x2"], device="cpu", tile=24, batch=2).upscale_batch(frames)
    assert all(np.array_equal(a, b) for a, b in zip(outputs, reference, strict=True))
    assert {name for name, _, _ in log} == {"gpu0", "gpu1"}


def test_files_spread_over_the_engines_one_image_in_flight_per_engine(models, rng, tmp_path):
    log: list = []
    jobs = []
    for i in range(6):
        source = tmp_path / "in" / f"{i}.png"
        write_image(source, noise(rng, (20, 18, 3)))
        jobs.append(Job(source=source, target=tmp_path / "out" / f"{i}.png", kind="image"))
    upscaler = two_engine_upscaler(models, log, tile=0)
    report = BatchReport()
    stats = run_jobs(jobs, upscaler, RunOptions(), report)
    assert stats.images == 6 and not report.failed
    reference = Upscaler(models["x2"], device="cpu", tile=0)
    for job in jobs:
        assert np.array_equal(read_image(job.target), reference.upscale(read_image(job.source)))
    assert {name for name, _, _ in log} == {"gpu0", "gpu1"}
    overlapping = [(a, b) for a in log for b in log
                   if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]]
    assert overlapping  # two images were upscaled at once, one per engine
