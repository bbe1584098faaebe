"""MATLAB-compatible `imresize` (bicubic), numpy only; and the `--outscale` resize (OpenCV).

Super-resolution papers make their low-resolution images, and their bicubic baselines, with
MATLAB's `imresize(img, scale, 'bicubic')`. Its results differ from OpenCV's and PIL's bicubic:
the cubic kernel has a = -0.5, downscaling widens the kernel by 1/scale (antialiasing), pixels
past the border are mirrored (symmetric padding, the edge pixel repeated), and integer images are
rounded and saturated back to their type after each of the two 1-D passes. This module follows
all of that, so LR images and baselines match the published numbers.

Each 1-D pass is a sparse weighted sum: for every output row (column) a handful of input rows
(columns) with precomputed weights. Applying it tap by tap keeps the work vectorised over the
whole image with memory of one output-sized buffer.
"""

from __future__ import annotations

import math

import numpy as np

# Keys' cubic kernel support is [-2, 2].
_KERNEL_WIDTH = 4.0


def cubic_kernel(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, as MATLAB's `cubic`."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return near + far


def contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices, both (out_length, taps), for one axis.

    MATLAB's `contributions` with antialiasing on: when shrinking, the kernel is stretched by
    1/scale (and scaled by `scale` so it still sums to one).
    """
    if scale < 1:
        kernel_width = _KERNEL_WIDTH / scale

        def kernel(x):
            return scale * cubic_kernel(scale * x)
    else:
        kernel_width = _KERNEL_WIDTH
        kernel = cubic_kernel
    # 1-based output coordinates mapped to 1-based input coordinates (pixel centres aligned).
    out_coords = np.arange(1, out_length + 1, dtype=np.float64)
    in_coords = out_coords / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(in_coords - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(in_coords[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: 1..n, n..1, repeated.
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, mirror.size)]
    used = np.any(weights != 0, axis=0)
    return weights[:, used], indices[:, used]


def _resize_axis(image: np.ndarray, axis: int, weights: np.ndarray,
                 indices: np.ndarray) -> np.ndarray:
    """Weighted sum of input rows (axis 0) or columns (axis 1), in float64."""
    source = image.astype(np.float64, copy=False)
    out_shape = list(source.shape)
    out_shape[axis] = weights.shape[0]
    weight_shape = [1] * source.ndim
    weight_shape[axis] = weights.shape[0]
    out = np.zeros(out_shape, dtype=np.float64)
    gathered = np.empty_like(out)
    for tap in range(weights.shape[1]):
        np.take(source, indices[:, tap], axis=axis, out=gathered)
        gathered *= weights[:, tap].reshape(weight_shape)
        out += gathered
    return out


def _to_integer(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Saturate and round half away from zero, as MATLAB converts double to uint8/uint16."""
    top = np.iinfo(dtype).max
    return np.floor(np.clip(values, 0, top) + 0.5).astype(dtype)


def output_size(in_shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """MATLAB's output size for a scale factor: ceil(size * scale) per axis, in double precision.

    Like MATLAB, a product that floating point puts just above an integer rounds up (30 * 0.1
    gives 4 rows); the scales used in super-resolution (2, 3, 4 and their inverses) are exact.
    """
    return (int(math.ceil(in_shape[0] * scale)), int(math.ceil(in_shape[1] * scale)))


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resize an HxW or HxWxC image with MATLAB's bicubic `imresize`.

    Give either `scale` (output size ceil(H*scale) x ceil(W*scale); the kernel uses `scale`
    itself, as MATLAB does) or `output_shape` (height, width; the kernel uses out/in per axis).
    uint8 and uint16 images come back in their type, rounded and saturated after each 1-D pass
    like MATLAB; float images come back in their float type, neither clipped nor rounded.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC image, got shape {image.shape}")
    is_integer = np.issubdtype(image.dtype, np.integer)
    if is_integer and image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"integer images must be uint8 or uint16, not {image.dtype}")
    if not is_integer and not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"unsupported image type {image.dtype}")
    in_shape = image.shape[:2]
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, not {scale}")
        out_shape = output_size(in_shape, scale)
        scales = (float(scale), float(scale))
    else:
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        if min(out_shape) < 1:
            raise ValueError(f"output_shape must be positive, not {output_shape}")
        scales = (out_shape[0] / in_shape[0], out_shape[1] / in_shape[1])
    if min(in_shape) < 1:
        raise ValueError(f"cannot resize an empty image of shape {image.shape}")

    # MATLAB resizes the axis with the smaller scale first (rows first on a tie).
    order = sorted((0, 1), key=lambda axis: scales[axis])
    current = image
    for axis in order:
        weights, indices = contributions(in_shape[axis], out_shape[axis], scales[axis])
        resized = _resize_axis(current, axis, weights, indices)
        current = _to_integer(resized, image.dtype) if is_integer else resized
    if is_integer:
        return current
    return current.astype(image.dtype, copy=False)


def mod_crop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so that height and width are multiples of `scale`.

    MATLAB's `modcrop` from the SRCNN/VDSR evaluation scripts; returns a view.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, not {scale}")
    height = image.shape[0] - image.shape[0] % scale
    width = image.shape[1] - image.shape[1] % scale
    return image[:height, :width]


def resize_to_outscale(image: np.ndarray, source_hw: tuple[int, int],
                       outscale: float) -> np.ndarray:
    """Resize a model output to source size x outscale (area when shrinking, Lanczos when
    growing): `--outscale` for images and video frames."""
    import cv2

    if outscale <= 0:
        raise ValueError(f"outscale must be > 0, not {outscale}")
    height, width = (max(1, round(n * outscale)) for n in source_hw)
    if (height, width) == image.shape[:2]:
        return image
    shrinking = height < image.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    return cv2.resize(image, (width, height), interpolation=interpolation)
