"""Frames that repeat the one before them, upscaled once: a variable-rate source read at a
constant rate repeats frames (probe.py), and a repeat must not cost a model run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FrameFn = Callable[[list[np.ndarray]], list[np.ndarray]]


def reuse_repeats(frame_fn: FrameFn) -> FrameFn:
    """`frame_fn` that upscales a frame equal to the one before it only once: a variable-rate
    source read at a constant rate repeats frames, and a repeat must not cost a model run."""
    previous: list = [None, None]  # the last input frame and its output, across batches

    def upscale(frames: list[np.ndarray]) -> list[np.ndarray]:
        if not frames:
            return []
        fresh, last = [], previous[0]  # indexes of frames that differ from the one before
        for index, frame in enumerate(frames):
            if last is None or not np.array_equal(frame, last):
                fresh.append(index)
            last = frame
        upscaled = frame_fn([frames[i] for i in fresh]) if fresh else []
        if len(upscaled) != len(fresh):
            return upscaled  # the caller reports the count mismatch
        by_index, results, output = dict(zip(fresh, upscaled, strict=True)), [], previous[1]
        for index in range(len(frames)):
            output = by_index.get(index, output)
            results.append(output)
        previous[:] = [frames[-1], results[-1]]
        return results

    return upscale
