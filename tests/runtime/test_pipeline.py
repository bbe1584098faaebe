"""The threaded pipeline keeps a bounded number of images in memory."""

import threading
import time

import numpy as np

from tests.runtime.helpers import noise
from uprez.runtime import pipeline
from uprez.runtime.base.imageio import read_image, read_image_and_metadata, write_image
from uprez.runtime.base.report import BatchReport
from uprez.runtime.discover import find_inputs, plan_jobs
from uprez.runtime.upscaler import Upscaler


def test_images_in_flight_stay_bounded_however_long_the_folder(tmp_path, models, rng,
                                                               monkeypatch):
    for i in range(30):
        write_image(tmp_path / "in" / f"{i:02d}.png", noise(rng, (16, 16, 3)))
    jobs = plan_jobs(find_inputs([str(tmp_path / "in")]), tmp_path / "out")
    lock, in_flight, most = threading.Lock(), [0], [0]

    def counting_read(path):
        image = read_image(path)
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        return image

    def slow_write(path, image, **kwargs):
        time.sleep(0.01)  # a slow disk: the reader must wait instead of piling images up
        write_image(path, image, **kwargs)
        with lock:
            in_flight[0] -= 1

    monkeypatch.setattr(pipeline, "read_image", counting_read)
    monkeypatch.setattr(pipeline, "write_image", slow_write)
    options = pipeline.RunOptions(queue_size=2, writers=2)
    report = BatchReport()
    stats = pipeline.run_jobs(jobs, Upscaler(models["x2"], device="cpu"), options, report)
    assert stats.images == 30 and report.exit_code == 0
    # 2 decoded waiting + 1 upscaling + 2 encoded waiting + 2 being written (+1 read racing)
    assert most[0] <= 8
    assert stats.pixels_in == 30 * 16 * 16 and stats.pixels_out == 30 * 32 * 32


def test_unexpected_failures_are_reported_per_image_and_the_rest_goes_on(tmp_path, models, rng,
                                                                         monkeypatch):
    for name in ["a", "b", "c"]:
        write_image(tmp_path / "in" / f"{name}.png", noise(rng, (8, 8, 3)))
    jobs = plan_jobs(find_inputs([str(tmp_path / "in")]), tmp_path / "out")

    def flaky_read(path):
        if path.name == "a.png":
            raise MemoryError()  # not an ImageReadError: the reader thread must survive it
        return read_image_and_metadata(path)

    upscaler = Upscaler(models["x2"], device="cpu")
    real_upscale = upscaler.upscale

    def flaky_upscale(image, **kwargs):
        if np.array_equal(image, image_b):
            raise RuntimeError("device lost\nsecond line")
        return real_upscale(image, **kwargs)

    image_b = read_image(tmp_path / "in" / "b.png")
    monkeypatch.setattr(pipeline, "read_image_and_metadata", flaky_read)
    monkeypatch.setattr(upscaler, "upscale", flaky_upscale)
    report = BatchReport()
    stats = pipeline.run_jobs(jobs, upscaler, pipeline.RunOptions(), report)
    reasons = dict(report.failed)
    assert reasons[str(tmp_path / "in" / "a.png")] == "cannot read: MemoryError"
    assert reasons[str(tmp_path / "in" / "b.png")] == "upscaling failed: device lost"
    assert stats.images == 1 and report.done == [str(tmp_path / "in" / "c.png")]
