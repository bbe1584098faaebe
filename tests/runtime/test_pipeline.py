"""The threaded pipeline keeps a bounded number of images in memory."""

import threading
import time

from tests.runtime.helpers import noise
from uprez.runtime import pipeline
from uprez.runtime.discover import find_inputs, plan_jobs
from uprez.runtime.imageio import read_image, write_image
from uprez.runtime.report import BatchReport
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
