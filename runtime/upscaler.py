"""`Upscaler`: the library object behind `sr-run`. Thread-safe: engines, no per-call state."""

from __future__ import annotations

import os
import queue
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from uprez.runtime.alpha import bleed_colour
from uprez.runtime.backends import Engine, ModelError
from uprez.runtime.metadata import ModelInfo
from uprez.runtime.model import load_model
from uprez.runtime.models import DefaultModelMissing, default_model_path, resolve_model
from uprez.runtime.options import ALPHA_MODES
from uprez.runtime.resize import resize_to_outscale
from uprez.runtime.tiling import Assembler, plan_tiles

CPU_TILES = (512, 384, 256, 192, 128, 96, 64)
GPU_TILES = (1024, 768, 512, 384, 256, 192, 128, 64)
CPU_BATCH = 4  # --batch auto on the CPU; on a GPU the largest of GPU_BATCHES that fits
GPU_BATCHES = (16, 8, 4, 2, 1)
MAX_DEFAULT_PAD = 32  # context beyond this costs more than the blend ramp it saves
UNKNOWN_FIELD_PAD = 16  # pad when the metadata does not give a receptive field
MIN_TILE_PER_PAD = 2  # a smaller --tile is raised: its window would be mostly context

Progress = Callable[[int, int], None]  # (tiles done, tiles in total)


class OutputTooLarge(MemoryError):
    """The upscaled image itself does not fit in memory; a smaller tile cannot help."""


class NonFiniteOutput(ValueError):
    """The model returned NaN or infinity for an image: there is no result to write (clipping
    would turn it into black or white pixels that look like a finished output)."""


class Upscaler:
    """Upscale images (OpenCV layout, uint8/uint16) with an ONNX model, tile by tile."""

    def __init__(self, model: str | os.PathLike | None = None, *, scale: int | None = None,
                 device: str = "auto", precision: str = "auto", tile: int | str = "auto",
                 tile_pad: int | None = None, batch: int | str = "auto",
                 cpu_threads: int | None = None):
        if model is None:
            try:
                model = default_model_path(scale or 4)
            except DefaultModelMissing as exc:
                raise ModelError(str(exc)) from None
        self._model = load_model(resolve_model(model), device, precision, cpu_threads)
        self.info: ModelInfo = self._model.info
        self.scale: int = self.info.scale
        if scale is not None and scale != self.scale:
            raise ModelError(f"{self._model.path} is a x{self.scale} model, not x{scale}")
        engine = self._model.engine
        self.provider: str = engine.provider
        self.precision: str = engine.precision
        self._notices = [self._model.notice] if self._model.notice else []
        self._pool = _EnginePool(self._model.engines)
        self.parallel_images: int = len(self._model.engines)  # images worth running at once
        if batch != "auto" and int(batch) < 1:
            raise ValueError(f"batch must be auto or >= 1, not {batch}")
        self.batch: int = self._model.fixed_batch or (CPU_BATCH if batch == "auto" else int(batch))
        field = self.info.receptive_field
        if tile_pad is None:
            tile_pad = min(field, MAX_DEFAULT_PAD) if field is not None else UNKNOWN_FIELD_PAD
        if int(tile_pad) < 0:
            raise ValueError(f"tile_pad must be >= 0, not {tile_pad}")
        self.tile_pad: int = int(tile_pad)
        # Outputs closer than this to a window's inner edge get no weight, which makes tiling
        # exact when the pad covers the receptive field. A pad that may not cover it gets wider
        # overlaps to blend across instead, so that the tiles leave no seam.
        exact = field is not None and self.tile_pad >= field
        self._trusted = field if exact else self.tile_pad
        self._blend = 0 if exact else 2 * self.tile_pad  # ramps as wide as the pad (measured)
        self.tile: int = self._resolve_tile(tile)
        if 0 < self.tile < MIN_TILE_PER_PAD * self.tile_pad:
            # a window would be mostly context: many times the compute for the same pixels,
            # and blend ramps squeezed into the small overlaps shift the result a grey level
            raised = MIN_TILE_PER_PAD * self.tile_pad
            self._notices.append(f"--tile {self.tile} is less than twice its pad of "
                                 f"{self.tile_pad} context pixels on each side, which would "
                                 f"spend most of the work on context: raised to {raised}")
            self.tile = raised
        if batch == "auto" and engine.on_gpu and not self._model.fixed_batch:
            self.batch = self._batch_for_memory()
        # Models with whole-image context (global statistics) give exactly their whole-image
        # result only untiled: under `auto` an image runs whole when it is no larger than the
        # window the auto tile was sized for, so it never needs more memory than a tile.
        window = self.tile + 2 * self.tile_pad
        self._whole_up_to = window * window if (
            tile == "auto" and self.info.global_context and self.tile > 0 and
            not self._model.fixed_size) else 0
        if self.tile > 0:  # a small tile would otherwise be mostly overlap
            self._blend = min(self._blend, self.tile // 4)
        # one line for the user about the device choice and the tile, or None
        self.notice: str | None = "; ".join(self._notices) or None
        # Shrinking windows to fit each image saves compute, but TensorRT builds an engine per
        # input shape, so there every image keeps the full tile shape.
        self._balance = not engine.fixed_shapes and not self._model.fixed_size

    @property
    def model_path(self):
        return self._model.path

    def describe(self) -> str:
        name = self.info.name or self._model.path.name
        tile = "whole image" if self.tile == 0 else f"tile {self.tile}, pad {self.tile_pad}"
        if self._whole_up_to:
            tile = f"whole images up to {self._whole_up_to / 1e6:.2g} MP, else {tile}"
        engines = self._model.engines
        where = self.label()
        if len(engines) > 1:
            where += f" on {len(engines)} GPUs ({', '.join(str(e.device_id) for e in engines)})"
        return f"{name} x{self.scale} on {where} ({tile}, batch {self.batch})"

    def label(self) -> str:
        """Provider and precision, e.g. 'OpenVINO CPU bf16'."""
        return self._model.engine.label()

    def upscale(self, image: np.ndarray, *, outscale: float | None = None, alpha: str = "model",
                progress: Progress | None = None) -> np.ndarray:
        """HxW gray, HxWx2 gray+alpha, HxWx3 BGR or HxWx4 BGRA in; same layout and dtype out,
        scaled."""
        return self.upscale_images([image], outscale=outscale, alpha=alpha, progress=progress)[0]

    def upscale_images(self, images: list[np.ndarray], *, outscale: float | None = None,
                       alpha: str = "model", progress: Progress | None = None
                       ) -> list[np.ndarray]:
        """`upscale` for several images at once (an animation's frames): their tiles share
        inference calls, `batch` at a time."""
        if alpha not in ALPHA_MODES:
            raise ValueError(f"alpha must be one of {ALPHA_MODES}, not {alpha!r}")
        for image in images:
            _check_image(image)
        if not images:
            return []
        parts = [_ModelInput.of(image, alpha) for image in images]
        outs = iter(self._run_frames([frame for part in parts for frame in part.frames],
                                     progress))
        results = []
        for image, part in zip(images, parts, strict=True):
            out = part.assemble([next(outs) for _ in part.frames], alpha)
            if outscale is not None:
                out = resize_to_outscale(out, image.shape[:2], outscale)
            results.append(out)
        return results

    def upscale_batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Same-size HxWx3 BGR frames; their tiles share inference calls."""
        for frame in frames:
            _check_image(frame)
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError("upscale_batch takes HxWx3 BGR frames")
        return self._run_frames(list(frames), None)

    # -- tiling and inference --------------------------------------------------------------

    def _run_frames(self, frames: list[np.ndarray], progress: Progress | None) -> list[np.ndarray]:
        s = self.scale
        padded = [self._pad_for_model(f) for f in frames]
        plans = [plan_tiles(p.shape[0], p.shape[1], tile=self._tile_for(p), pad=self.tile_pad,
                            scale=s, trusted=self._trusted, blend=self._blend,
                            multiple=self.info.size_multiple, balance=self._balance)
                 for p in padded]
        outs = [_output_buffer(p, s) for p in padded]
        order, value_range = self.info.channel_order, self.info.value_range
        hint = ("" if self.precision == "fp32" else
                f" in {self.precision}; --precision fp32 may avoid it")
        assemblers = [Assembler(plan, out, s, _finisher(out.dtype, value_range, order, hint))
                      for plan, out in zip(plans, outs, strict=True)]
        groups = _group_windows(plans, self.batch)
        total, done = sum(len(g) for g in groups), 0

        def infer(group):
            return self._pool.run(self._gather(group, padded, plans,
                                               plans[group[0][0]].window_shape))

        # The next batches run while this one is stitched: the engines release the GIL, so the
        # devices (or the other cores) never wait for numpy. One batch in flight per engine
        # lane; with several GPUs the batches go to whichever engine is free.
        lanes = min(self._pool.lanes, len(groups))
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="uprez-infer") as pool:
            pending = deque(pool.submit(infer, group) for group in groups[:lanes])
            for i, group in enumerate(groups):
                batch_out = pending.popleft().result()
                if i + lanes < len(groups):
                    pending.append(pool.submit(infer, groups[i + lanes]))
                for b, (k, r, c) in enumerate(group):
                    assemblers[k].add(r, c, batch_out[b])
                done += len(group)
                if progress is not None:
                    progress(done, total)
        return [np.ascontiguousarray(out[:f.shape[0] * s, :f.shape[1] * s])
                for out, f in zip(outs, frames, strict=True)]

    def _gather(self, group, padded, plans, shape) -> np.ndarray:
        """The windows of a group as one NCHW batch in the model's order and value range."""
        height, width = shape
        size = len(group)
        if self._model.fixed_batch or self._model.engine.fixed_shapes:
            size = self.batch  # a fixed batch shape keeps TensorRT from building new engines
        batch = np.zeros((size, 3, height, width), np.float32)
        rgb = self.info.channel_order == "RGB"
        for b, (k, r, c) in enumerate(group):
            y, x = plans[k].rows.starts[r], plans[k].cols.starts[c]
            chw = padded[k][y:y + height, x:x + width].transpose(2, 0, 1)
            batch[b] = chw[::-1] if rgb else chw
        lo, hi = self.info.value_range
        maxval = np.iinfo(padded[group[0][0]].dtype).max
        batch *= (hi - lo) / maxval
        if lo:
            batch += lo
        return batch.astype(self._model.engine.signature.input_dtype, copy=False)

    def _pad_for_model(self, frame: np.ndarray) -> np.ndarray:
        """Reflect-pad bottom/right to the model's size multiple (and static size, if any)."""
        m = self.info.size_multiple
        need_h, need_w = -(-frame.shape[0] // m) * m, -(-frame.shape[1] // m) * m
        if self._model.fixed_size:
            fixed_h, fixed_w = self._model.fixed_size
            need_h, need_w = max(need_h, fixed_h), max(need_w, fixed_w)
        if (need_h, need_w) == frame.shape[:2]:
            return frame
        extra = ((0, need_h - frame.shape[0]), (0, need_w - frame.shape[1]), (0, 0))
        # reflect cannot pad by more than the image's own size; tiny images repeat their edge
        fits = need_h < 2 * frame.shape[0] and need_w < 2 * frame.shape[1]
        return np.pad(frame, extra, mode="reflect" if fits else "edge")

    def _tile_for(self, padded: np.ndarray) -> int | tuple[int, int]:
        if padded.shape[0] * padded.shape[1] <= self._whole_up_to:
            return 0
        if self._model.fixed_size:
            height, width = self._model.fixed_size
            return max(1, height - 2 * self.tile_pad), max(1, width - 2 * self.tile_pad)
        return self.tile

    def _resolve_tile(self, tile: int | str) -> int:
        if tile != "auto":
            tile = int(tile)
            if tile < 0:
                raise ValueError(f"tile must be auto or >= 0, not {tile}")
            return tile
        on_gpu = self._model.engine.on_gpu
        candidates = GPU_TILES if on_gpu else CPU_TILES
        if self.info.tile_hint > 0:
            candidates = (self.info.tile_hint, *(t for t in candidates if t < self.info.tile_hint))
        budget = self._memory_budget()
        if budget is None:
            return candidates[len(candidates) // 2]
        batch = 1 if on_gpu else self.batch  # a GPU's batch is sized after its tile
        for tile_size in candidates:
            if batch * self._window_bytes(tile_size) <= budget:
                return tile_size
        return candidates[-1]

    def _batch_for_memory(self) -> int:
        """--batch auto on a GPU: the most windows per call that fit half its free memory."""
        budget = self._memory_budget()
        if budget is None:
            return CPU_BATCH
        window = self._window_bytes(self.tile or 1024)
        return next((b for b in GPU_BATCHES if b * window <= budget), 1)

    def _memory_budget(self) -> float | None:
        # the smallest free memory of the devices: every engine must hold a batch
        frees = [engine.free_memory() for engine in self._model.engines]
        if any(free is None for free in frees):
            return None
        return min(frees) * (0.5 if self._model.engine.on_gpu else 0.25)

    def _window_bytes(self, tile: int) -> int:
        return (tile + 2 * self.tile_pad) ** 2 * self._bytes_per_input_pixel()

    def _bytes_per_input_pixel(self) -> int:
        # A rough bound for conv SR nets: a few live feature maps of the widest layer plus the
        # upscaled output; the metadata's hparams name the width for our own architectures.
        hparams = self.info.hparams or {}
        width = int(hparams.get("num_feat") or hparams.get("nf") or 64)
        return 4 * (3 * width + 2 * 3 * self.scale * self.scale)


class _EnginePool:
    """The engines as `lanes` interchangeable slots each; a run takes whichever slot is free."""

    def __init__(self, engines: tuple[Engine, ...]):
        self._free: queue.Queue = queue.Queue()
        for lane in range(max(e.lanes for e in engines)):  # engine 0, 1, ..., then again
            for engine in engines:
                if lane < engine.lanes:
                    self._free.put(engine)
        self.lanes = self._free.qsize()

    def run(self, batch: np.ndarray) -> np.ndarray:
        engine = self._free.get()
        try:
            return engine.run(batch)
        finally:
            self._free.put(engine)


@dataclass(frozen=True)
class _ModelInput:
    """An image as the BGR frames the model sees: its colour, and its alpha when it has any
    transparency and the model upscales alpha too."""

    image: np.ndarray
    frames: list[np.ndarray]
    alpha_in: np.ndarray | None  # the image's alpha plane, if it has one
    opaque: bool

    @classmethod
    def of(cls, image: np.ndarray, alpha: str) -> _ModelInput:
        import cv2

        maxval = np.iinfo(image.dtype).max
        channels = 1 if image.ndim == 2 else image.shape[2]
        alpha_in = image[:, :, channels - 1] if channels in (2, 4) else None
        if channels <= 2:
            gray = image if channels == 1 else np.ascontiguousarray(image[:, :, 0])
            colour = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
            if alpha_in is not None:
                colour = bleed_colour(colour, alpha_in)
        elif alpha_in is not None:
            colour = bleed_colour(np.ascontiguousarray(image[:, :, :3]), alpha_in)
        else:
            colour = image
        opaque = alpha_in is None or bool((alpha_in == maxval).all())
        frames = [colour]
        if not opaque and alpha == "model":
            frames.append(cv2.cvtColor(alpha_in, cv2.COLOR_GRAY2BGR))
        return cls(image, frames, alpha_in, opaque)

    def assemble(self, outs: list[np.ndarray], alpha: str) -> np.ndarray:
        """The upscaled image in the input's layout, from the model's outputs for `frames`."""
        import cv2

        image, out = self.image, outs[0]
        if image.ndim == 2 or image.shape[2] == 2:
            out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        if self.alpha_in is not None:
            if self.opaque:
                alpha_out = np.full(out.shape[:2], np.iinfo(image.dtype).max, image.dtype)
            elif alpha == "model":
                alpha_out = cv2.cvtColor(outs[1], cv2.COLOR_BGR2GRAY)
            else:
                alpha_out = cv2.resize(self.alpha_in, (out.shape[1], out.shape[0]),
                                       interpolation=cv2.INTER_CUBIC)
            out = np.dstack([out, alpha_out])
        return out


def _group_windows(plans, batch: int) -> list[list[tuple[int, int, int]]]:
    """(frame, row, col) windows in stitching order, cut into batches of one window shape."""
    groups: list[list[tuple[int, int, int]]] = []
    for k, plan in enumerate(plans):
        for r, c in plan.windows():
            last = groups[-1] if groups else None
            if (last and len(last) < batch
                    and plans[last[0][0]].window_shape == plan.window_shape):
                last.append((k, r, c))
            else:
                groups.append([(k, r, c)])
    return groups


def _check_image(image) -> None:
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16):
        raise ValueError("image must be a uint8 or uint16 numpy array")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (2, 3, 4))):
        raise ValueError(f"image must be HxW, HxWx2, HxWx3 or HxWx4, not shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty (shape {image.shape})")


def _output_buffer(padded: np.ndarray, scale: int) -> np.ndarray:
    """The whole output image, which must fit in memory at once (the tiles are stitched into
    it); OutputTooLarge names its size when it does not."""
    height, width = padded.shape[0] * scale, padded.shape[1] * scale
    try:
        return np.empty((height, width, 3), padded.dtype)
    except MemoryError:
        size = height * width * 3 * padded.dtype.itemsize
        raise OutputTooLarge(f"the upscaled image is {width}x{height} pixels ({size / 2**30:.1f} "
                             "GiB), more than the free memory holds; a smaller --tile cannot "
                             "help (a smaller input can, or more free memory)") from None


def _finisher(dtype, value_range: tuple[float, float], channel_order: str, hint: str = ""
              ) -> Callable[[np.ndarray], np.ndarray]:
    """Model output (C x rows x W float, model order and range) -> rows x W x 3 BGR uint.
    NaN or infinity anywhere raises NonFiniteOutput (`hint` ends its message)."""
    import cv2

    maxval = float(np.iinfo(dtype).max)
    lo, hi = value_range
    gain = maxval / (hi - lo)
    offset = 0.5 - lo * gain  # +0.5 so that the cast below rounds to nearest

    def finish(band: np.ndarray) -> np.ndarray:
        # min and max carry any NaN or infinity through, without a mask the size of the band
        if not (np.isfinite(band.min()) and np.isfinite(band.max())):
            raise NonFiniteOutput("the model's output holds NaN or infinite values (a broken "
                                  f"model, or one that overflows{hint}); nothing written")
        band *= gain
        band += offset
        np.clip(band, 0.0, maxval, out=band)
        planes = [plane.astype(dtype) for plane in band]
        return cv2.merge(planes[::-1] if channel_order == "RGB" else planes)

    return finish
