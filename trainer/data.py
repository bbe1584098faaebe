"""Training patches: random HR crops with LR made on the fly (or read from a paired LR folder).

Every sample is a pure function of (seed, global sample index): the index picks the image (a
fresh permutation of the images per epoch) and seeds the crop and augmentation. The loader asks
for the indices of steps `start..end`, so resuming at step k gives exactly the batches an
uninterrupted run would have seen, whatever the number of loader workers.

With [degradation] on, a degraded sample's chain is drawn here either way; it runs here too
(numpy/OpenCV, in the loader's processes), or, when `degradation.device` puts it on the training
device, the sample is a `Planned` patch that `step.training_pair` makes with degrade_torch.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from uprez.runtime.base.imageio import list_images
from uprez.runtime.resize import imresize

from . import degrade, degrade_torch
from .config import DegradationConfig
from .images import ImageStore, Rejected
from .setup import TrainingError

# LR pixels of context kept around a crop before downscaling, so that the bicubic kernel
# (4 LR pixels wide) sees real neighbours and the patch equals a crop of the whole image's LR.
_MARGIN = 3
# The same for degraded patches: blur kernels reach 10 HR pixels, and the JPEG grid then falls
# anywhere on the patch instead of on its corner.
_DEGRADE_MARGIN = 6


@dataclass(frozen=True)
class DataSpec:
    hr_dir: str
    lr_dir: str  # empty: LR made from HR
    scale: int
    patch_size: int  # HR pixels
    augment: bool
    seed: int
    cache_bytes: int
    degradation: DegradationConfig | None = None  # None or disabled: MATLAB bicubic
    degrade_on_device: bool = False  # chains run in step.training_pair, not in the loader


class Planned(NamedTuple):
    """A degraded LR patch still to be made on the training device: the HR region (CHW uint8),
    its chain, where the patch lies in the region's LR (top, left, size in LR pixels), and the
    flips and transpose of the augmentation."""

    region: torch.Tensor
    plan: list[degrade.Step]
    top: int
    left: int
    size: int
    flips: tuple[int, int, int] = (0, 0, 0)


class PatchDataset(Dataset):
    def __init__(self, spec: DataSpec):
        self.spec = spec
        lr_patch = spec.patch_size // spec.scale

        def big_enough(image: np.ndarray) -> str | None:
            h, w = image.shape[:2]
            if min(h, w) < spec.patch_size:
                return f"{w}x{h} is smaller than the {spec.patch_size} px patch"
            return None

        def lr_big_enough(image: np.ndarray) -> str | None:
            h, w = image.shape[:2]
            if min(h, w) < lr_patch:
                return f"{w}x{h} is smaller than the {lr_patch} px LR patch"
            return None

        hr_paths = list_images(spec.hr_dir)
        if not spec.lr_dir:
            self.hr = ImageStore(hr_paths, spec.cache_bytes, big_enough)
            self.lr = None
            self.rejected = list(self.hr.rejected)
            self.pairs = [(i, -1) for i in range(len(self.hr))]
            return
        lr_by_name = {p.name: p for p in list_images(spec.lr_dir)}
        missing = [Rejected(p, f"no {p.name} in {spec.lr_dir}") for p in hr_paths
                   if p.name not in lr_by_name]
        hr_paths = [p for p in hr_paths if p.name in lr_by_name]
        half = spec.cache_bytes * spec.scale**2 // (spec.scale**2 + 1)
        self.hr = ImageStore(hr_paths, half, big_enough)
        self.lr = ImageStore([lr_by_name[p.name] for p in self.hr.paths],
                             spec.cache_bytes - half, lr_big_enough)
        self.rejected = missing + self.hr.rejected + self.lr.rejected
        lr_index = {p.name: i for i, p in enumerate(self.lr.paths)}
        self.pairs = []
        for i, path in enumerate(self.hr.paths):
            if path.name not in lr_index:
                continue
            j = lr_index[path.name]
            (h, w), (lh, lw) = self.hr.shapes[i], self.lr.shapes[j]
            if (h // spec.scale, w // spec.scale) != (lh, lw):  # HR may be un-mod-cropped
                reason = f"{w}x{h} is not {spec.scale}x its LR {lw}x{lh}"
                self.rejected.append(Rejected(path, reason))
                continue
            self.pairs.append((i, j))

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def cached_bytes(self) -> int:
        return self.hr.cached_bytes + (self.lr.cached_bytes if self.lr else 0)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | Planned, torch.Tensor]:
        spec, s = self.spec, self.spec.scale
        n = len(self.pairs)
        hr_i, lr_i = self.pairs[int(_epoch_order(spec.seed, index // n, n)[index % n])]
        rng = np.random.default_rng([spec.seed, index])
        hr_image = self.hr.get(hr_i)
        p = spec.patch_size // s
        lh, lw = hr_image.shape[0] // s, hr_image.shape[1] // s
        y, x = int(rng.integers(0, lh - p + 1)), int(rng.integers(0, lw - p + 1))
        hr = hr_image[y * s:(y + p) * s, x * s:(x + p) * s]
        degradation = spec.degradation
        if self.lr is not None:
            lr = self.lr.get(lr_i)[y:y + p, x:x + p]
        elif degradation is not None and degradation.enabled \
                and rng.random() >= degradation.clean_prob:
            lr, hr = _degraded_patch(hr_image, y, x, p, s, degradation, rng,
                                     spec.degrade_on_device)
        else:
            y0, x0 = max(0, y - _MARGIN), max(0, x - _MARGIN)
            y1, x1 = min(lh, y + p + _MARGIN), min(lw, x + p + _MARGIN)
            region = imresize(hr_image[y0 * s:y1 * s, x0 * s:x1 * s], 1 / s)
            lr = region[y - y0:y - y0 + p, x - x0:x - x0 + p]
        if spec.augment:
            flips = tuple(int(f) for f in rng.integers(0, 2, size=3))
            hr = _augment(hr, *flips)
            lr = lr._replace(flips=flips) if isinstance(lr, Planned) else _augment(lr, *flips)
        return (lr if isinstance(lr, Planned) else _to_tensor(lr)), _to_tensor(hr)


@functools.lru_cache(maxsize=4)
def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


def _augment(image: np.ndarray, hflip: int, vflip: int, transpose: int) -> np.ndarray:
    if hflip:
        image = image[:, ::-1]
    if vflip:
        image = image[::-1]
    if transpose:  # with the flips: all 8 rotations and reflections
        image = image.transpose(1, 0, 2)
    return image


def _degraded_patch(hr_image: np.ndarray, y: int, x: int, p: int, s: int,
                    config: DegradationConfig, rng: np.random.Generator, on_device: bool):
    """(LR, HR) patches at LR position (y, x), size p: a region with some context around the
    patch is degraded as a whole, then cropped, so blur and JPEG see real neighbours. With
    `on_device` the LR patch is left `Planned`."""
    lh, lw = hr_image.shape[0] // s, hr_image.shape[1] // s
    y0, x0 = max(0, y - _DEGRADE_MARGIN), max(0, x - _DEGRADE_MARGIN)
    y1, x1 = min(lh, y + p + _DEGRADE_MARGIN), min(lw, x + p + _DEGRADE_MARGIN)
    region = hr_image[y0 * s:y1 * s, x0 * s:x1 * s]
    steps = degrade.plan(region.shape[:2], (y1 - y0, x1 - x0), config, rng)
    region_01 = region.astype(np.float32) / 255.0
    hr = degrade.sharpen(region_01, config)
    hr = hr[(y - y0) * s:(y - y0 + p) * s, (x - x0) * s:(x - x0 + p) * s]
    if on_device:  # uint8: a quarter of the bytes to the device; float32 / 255 there is the same
        chw = torch.from_numpy(np.ascontiguousarray(region.transpose(2, 0, 1)))
        return Planned(chw, steps, y - y0, x - x0, p), hr
    lr = degrade.run(region_01, steps)
    return lr[y - y0:y - y0 + p, x - x0:x - x0 + p], hr


def make_planned(planned: list[Planned], device: torch.device) -> torch.Tensor:
    """The LR patches (NCHW float32) of planned samples, made together on `device`."""
    regions = [item.region.to(device, non_blocking=True) for item in planned]
    made = degrade_torch.run_batch(regions, [item.plan for item in planned])
    patches = []
    for lr, item in zip(made, planned, strict=True):
        patch = lr[:, item.top:item.top + item.size, item.left:item.left + item.size]
        hflip, vflip, transpose = item.flips
        if hflip:  # as _augment, on CHW
            patch = patch.flip(-1)
        if vflip:
            patch = patch.flip(-2)
        if transpose:
            patch = patch.transpose(-1, -2)
        patches.append(patch)
    return torch.stack(patches)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """CHW float32 on 0..1 from HWC uint8 (0..255) or float (already 0..1)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
    return tensor.div_(255.0) if image.dtype == np.uint8 else tensor


class Batch(NamedTuple):
    """What the loader gives a step: LR and HR patches (NCHW float32 on 0..1); the LR of the
    samples at `planned_at` (zeros here) is made from `planned` by `step.training_pair`."""

    lr: torch.Tensor
    hr: torch.Tensor
    planned_at: torch.Tensor  # int64 batch indices
    planned: list[Planned]


def collate(samples: list[tuple[torch.Tensor | Planned, torch.Tensor]]) -> Batch:
    planned_at = [i for i, (lr, _) in enumerate(samples) if isinstance(lr, Planned)]
    lrs = [lr for lr, _ in samples]
    for i in planned_at:
        lrs[i] = torch.zeros(lrs[i].region.shape[0], lrs[i].size, lrs[i].size)
    return Batch(default_collate(lrs), default_collate([hr for _, hr in samples]),
                 torch.tensor(planned_at, dtype=torch.int64), [samples[i][0] for i in planned_at])


class StepSampler(Sampler[int]):
    """Global sample indices of steps [start, end) for one process of `world` processes."""

    def __init__(self, start: int, end: int, batch_size: int, rank: int = 0, world: int = 1):
        self.start, self.end, self.batch_size = start, end, batch_size
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return max(0, self.end - self.start) * self.batch_size

    def __iter__(self):
        for step in range(self.start, self.end):
            first = (step * self.world + self.rank) * self.batch_size
            yield from range(first, first + self.batch_size)


def auto_workers() -> int:
    """Loader processes for this machine: on few cores they would take CPU from the model."""
    cpus = os.cpu_count() or 1
    return 1 if cpus <= 4 else min(8, cpus // 2)


def _worker_init(_: int) -> None:
    # Each worker is one process doing numpy work; threads inside it would fight the trainer.
    # (Not cv2.setNumThreads: OpenCV's thread pool, inherited through fork, deadlocks on it.)
    torch.set_num_threads(1)


def make_loader(dataset: PatchDataset, *, start: int, end: int, batch_size: int,
                num_workers: int, rank: int = 0, world: int = 1,
                pin_memory: bool = False) -> DataLoader:
    workers = auto_workers() if num_workers < 0 else num_workers
    return DataLoader(
        dataset, batch_size=batch_size, sampler=StepSampler(start, end, batch_size, rank, world),
        num_workers=workers, worker_init_fn=_worker_init if workers else None,
        collate_fn=collate, pin_memory=pin_memory, persistent_workers=False,
        prefetch_factor=4 if workers else None, drop_last=True,
    )


def check_dataset(dataset: PatchDataset) -> None:
    if len(dataset) == 0:
        reasons = "; ".join(f"{r.path.name}: {r.reason}" for r in dataset.rejected[:5])
        raise TrainingError(f"no usable training images in {dataset.spec.hr_dir}"
                         + (f" ({reasons})" if reasons else ""))


def data_spec(config, seed: int, device: torch.device | None = None) -> DataSpec:
    """The dataset of a config; `device` is the training device (degradation.device = "auto"
    runs the chains there when it is CUDA; None: in the loader)."""
    data, where = config.data, config.degradation.device
    on_device = where == "train" or (where == "auto" and device is not None
                                     and device.type == "cuda")
    return DataSpec(hr_dir=str(Path(data.hr)), lr_dir=str(Path(data.lr)) if data.lr else "",
                    scale=config.model.scale, patch_size=data.patch_size, augment=data.augment,
                    seed=seed, cache_bytes=data.cache_mb * 2**20,
                    degradation=config.degradation if config.degradation.enabled else None,
                    degrade_on_device=on_device)
