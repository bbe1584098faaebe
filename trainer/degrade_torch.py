"""The chains of degrade.py run with torch, many samples at once, on the training device.

`degrade.plan` draws each sample's chain in the data loader from the sample's own generator
(that is what keeps runs repeatable and resumable); `degrade.run` executes it there with numpy
and OpenCV. With `degradation.device = "train"` (and by default when training on CUDA) the loader
hands the plans over instead and `step.training_pair` executes them here, on the device the model
trains on, as Real-ESRGAN does on a GPU. The code is the same on every device.

Against `degrade.run` on the same plan:
- blur: the same kernels and BORDER_REFLECT_101 border; float32 sums in another order (~1e-7).
  cuDNN convolves float32 in TF32 by default (a 10-bit mantissa); these convolutions do not.
- resize: "matlab" is runtime.resize's MATLAB imresize, its weights, tap by tap in float64:
  bit-identical. "area" uses OpenCV's coefficient tables (the share of each pixel a cell covers
  when shrinking, its own linear rule otherwise); "bilinear" and "bicubic" are F.interpolate
  without antialiasing, which has OpenCV's half-pixel grid, edge clamping and cubic a = -0.75.
  All three within ~1e-6.
- noise: the same kinds and amounts from a torch generator seeded by the step's seed: the same
  statistics and repeatable, but not numpy's values (nor the same values on CPU and CUDA).
- jpeg: on the CPU, through `runtime.degradations.jpeg` (libjpeg via OpenCV). A GPU has no
  libjpeg, and a torch re-implementation would not be the JPEG that `sr-eval --degrade`
  measures.
- quantize: identical.

Copies: the regions, kernels and resize weights go to the device without waiting for it
(non_blocking); JPEG's copies back to the host are the only ones, so the only points where the
host waits for the device.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from uprez.runtime import degradations as ops
from uprez.runtime.resize import contributions

from .degrade import Step


def run_batch(images: Sequence[torch.Tensor], plans: Sequence[list[Step]]) -> list[torch.Tensor]:
    """Each CHW image (uint8 0..255 or float 0..1, all on one device) through its plan: float32
    CHW on 0..1, on that device. Samples whose next step is the same operation on the same shape
    run as one batch (a resize: also to the same size in the same mode)."""
    current = [image.float() / 255 if image.dtype == torch.uint8 else image.float()
               for image in images]
    done = [0] * len(current)
    while True:
        groups: dict[tuple, list[int]] = {}
        for i, plan in enumerate(plans):
            if done[i] < len(plan):
                groups.setdefault(_batch_key(plan[done[i]], current[i]), []).append(i)
        if not groups:
            return current
        for members in groups.values():
            steps = [plans[i][done[i]] for i in members]
            out = apply(torch.stack([current[i] for i in members]), steps)
            for i, image in zip(members, out.unbind(0), strict=True):
                current[i], done[i] = image, done[i] + 1


def _batch_key(step: Step, image: torch.Tensor) -> tuple:
    if step.op == "resize":
        return step.op, tuple(image.shape), step.size, step.mode
    return step.op, tuple(image.shape)


def apply(batch: torch.Tensor, steps: Sequence[Step]) -> torch.Tensor:
    """One step per sample of an NCHW float batch; all steps are of one op (a resize: to one
    size in one mode)."""
    op = steps[0].op
    if op == "blur":
        return blur(batch, [step.kernel for step in steps])
    if op == "resize":
        return resize(batch, *steps[0].size, steps[0].mode)
    if op == "noise":
        noisy = torch.stack([_noise(image, step) for image, step in zip(batch, steps, strict=True)])
        return noisy.clamp_(0.0, 1.0)
    if op == "jpeg":
        return jpeg(batch, [step.quality for step in steps])
    if op == "quantize":
        return quantize(batch)
    raise ValueError(f"unknown degradation step {op!r}")


# --- blur ----------------------------------------------------------------------------------


def blur(batch: torch.Tensor, kernels: Sequence[np.ndarray]) -> torch.Tensor:
    """Each image filtered with its own kernel: one grouped convolution, the kernels zero-padded
    to the largest, the border mirrored (BORDER_REFLECT_101) by half of it."""
    n, c, h, w = batch.shape
    size = max(kernel.shape[0] for kernel in kernels)
    stacked = np.stack([ops.pad_kernel(kernel, size) for kernel in kernels]).astype(np.float32)
    weight = torch.from_numpy(stacked).to(batch.device, non_blocking=True)
    weight = weight.repeat_interleave(c, dim=0).unsqueeze(1)  # (n * c, 1, size, size)
    padded = reflect_101(batch, size // 2).reshape(1, n * c, h + size - 1, w + size - 1)
    with _full_float32_convolutions():
        # conv2d correlates, as filter2D does; the kernels are point-symmetric anyway
        return F.conv2d(padded, weight, groups=n * c).reshape(n, c, h, w)


def reflect_101(batch: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad H and W by `pad` with OpenCV's BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), mirrored
    again as often as needed: F.pad's "reflect" is the same but only for pad < size, and images
    shrink to 4 px while kernels reach 41."""
    for dim in (-2, -1):
        length = batch.shape[dim]
        index = torch.arange(-pad, length + pad, device=batch.device)
        if length == 1:
            index = torch.zeros_like(index)
        else:
            index = index.remainder(2 * (length - 1))
            index = torch.where(index < length, index, 2 * (length - 1) - index)
        batch = batch.index_select(dim, index)
    return batch


@contextlib.contextmanager
def _full_float32_convolutions():
    """cuDNN convolves float32 in TF32 unless told otherwise: ~0.1 grey level off. No effect on
    the CPU."""
    conv = torch.backends.cudnn.conv
    saved, conv.fp32_precision = conv.fp32_precision, "ieee"
    try:
        yield
    finally:
        conv.fp32_precision = saved


# --- resize --------------------------------------------------------------------------------


def resize(batch: torch.Tensor, height: int, width: int, mode: str) -> torch.Tensor:
    """`runtime.degradations.resize` for an NCHW batch: OpenCV's area, bilinear or bicubic (no
    antialiasing), or MATLAB's antialiased bicubic ("matlab")."""
    in_h, in_w = batch.shape[-2:]
    if mode not in ops.RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {', '.join(ops.RESIZE_MODES)}, "
                         f"not {mode!r}")
    if (in_h, in_w) == (height, width):
        return batch  # OpenCV copies; MATLAB's weights are then exactly 1 and 0
    if mode in ("bilinear", "bicubic"):
        return F.interpolate(batch, size=(height, width), mode=mode, align_corners=False)
    if mode == "area":
        shrinking = in_h >= height and in_w >= width  # OpenCV's rule: both axes, or neither
        tables = (_area_table(in_h, height, shrinking), _area_table(in_w, width, shrinking))
        work = batch
    else:
        scales = (height / in_h, width / in_w)
        tables = (contributions(in_h, height, scales[0]), contributions(in_w, width, scales[1]))
        work = batch.double()  # as runtime.resize: float64 throughout, float32 at the end
    # MATLAB resizes the axis with the smaller scale first (rows on a tie); OpenCV's area
    # tables give the same result in either order
    order = sorted((0, 1), key=lambda axis: (height / in_h, width / in_w)[axis])
    for axis in order:
        work = _resample(work, axis - 2, *tables[axis])
    return work.float()


def _resample(batch: torch.Tensor, dim: int, weights: np.ndarray,
              indices: np.ndarray) -> torch.Tensor:
    """Output line i along `dim` = sum over taps t of weights[i, t] x input line indices[i, t],
    accumulated tap by tap in the batch's dtype (runtime.resize._resize_axis, batched)."""
    # non_blocking: a blocking copy from the host would wait for the device to catch up
    weight = torch.from_numpy(np.ascontiguousarray(weights.T)).to(
        batch.device, batch.dtype, non_blocking=True)
    index = torch.from_numpy(np.ascontiguousarray(indices.T, dtype=np.int64)).to(
        batch.device, non_blocking=True)
    shape = [1] * batch.ndim
    shape[dim] = weights.shape[0]
    out = None
    for tap in range(weights.shape[1]):
        term = batch.index_select(dim, index[tap]) * weight[tap].reshape(shape)
        out = term if out is None else out.add_(term)
    return out


def _area_table(in_length: int, out_length: int, shrinking: bool) -> tuple[np.ndarray, ...]:
    """OpenCV's INTER_AREA weights and indices (out_length, taps) for one axis.

    Shrinking (on both axes): each output pixel averages the input cell it covers, pixels cut by
    the cell's edges weighted by the share inside (computeResizeAreaTab). Otherwise OpenCV
    interpolates linearly between the two nearest pixels with its own area-mode fraction.
    """
    inverse = out_length / in_length
    scale = 1.0 / inverse  # as OpenCV computes them: 53 x scale is then 23.99.. for 48 -> 106
    rows: list[list[tuple[int, float]]] = []
    for dx in range(out_length):
        if shrinking:
            start, end = dx * scale, dx * scale + scale
            cell = min(scale, in_length - start)
            first, last = math.ceil(start), min(math.floor(end), in_length - 1)
            first = min(first, last)
            row = [(first - 1, (first - start) / cell)] if first - start > 1e-3 else []
            row += [(sx, 1.0 / cell) for sx in range(first, last)]
            if end - last > 1e-3:
                row.append((last, min(end - last, 1.0, cell) / cell))
        else:
            sx = math.floor(dx * scale)
            fx = (dx + 1) - (sx + 1) * inverse
            fx = 0.0 if fx <= 0 else fx - math.floor(fx)
            if sx < 0:
                sx, fx = 0, 0.0
            if sx >= in_length - 1:
                sx, fx = in_length - 1, 0.0
            row = [(sx, 1.0 - fx), (min(sx + 1, in_length - 1), fx)]
        rows.append(row)
    taps = max(len(row) for row in rows)
    weights = np.zeros((out_length, taps), np.float32)
    indices = np.zeros((out_length, taps), np.int64)
    for dx, row in enumerate(rows):
        for tap, (sx, alpha) in enumerate(row):
            indices[dx, tap], weights[dx, tap] = sx, alpha
    return weights, indices


# --- noise, JPEG, quantize ------------------------------------------------------------------


def _noise(image: torch.Tensor, step: Step) -> torch.Tensor:
    """`ops.gaussian_noise` / `ops.poisson_noise` on one CHW image, from a torch generator
    seeded by the step's seed (not clipped)."""
    generator = torch.Generator(device=image.device)
    generator.manual_seed(step.seed)
    if step.kind == "gaussian":
        shape = (1,) + image.shape[1:] if step.gray else image.shape
        noise = torch.randn(shape, generator=generator, device=image.device)
        return image + noise * (step.amount / 255.0)
    base = image
    if step.gray and image.shape[0] >= 3:
        base = (image[0] * 0.299 + image[1] * 0.587 + image[2] * 0.114).unsqueeze(0)
    counts = base.clamp(0.0, 1.0) * 255.0
    noisy = torch.poisson(counts, generator=generator)
    return image + (noisy - counts) * (step.amount / 255.0)


def jpeg(batch: torch.Tensor, qualities: Sequence[int]) -> torch.Tensor:
    """Each image through libjpeg at its quality, on the CPU (see the module docstring)."""
    host = batch.permute(0, 2, 3, 1).cpu().numpy()  # the chain's one device-to-host copy
    coded = np.stack([ops.jpeg(image, quality)
                      for image, quality in zip(host, qualities, strict=True)])
    return torch.from_numpy(coded).permute(0, 3, 1, 2).to(batch.device, non_blocking=True)


def quantize(batch: torch.Tensor) -> torch.Tensor:
    """Rounded to 8-bit levels (half to even, as np.rint), as a saved image is."""
    return torch.round(batch * 255.0).clamp_(0, 255) / 255.0
