"""Has an image been through JPEG, and how hard? Read from its pixels alone.

Inputs do not announce their history: a JPEG saved again as PNG (a screenshot, an edit, a frame
grab) is as damaged as the JPEG itself, so the file's format says little. The pixels do. JPEG
stores each 8x8 block of luma as DCT coefficients rounded to multiples of a quantisation step, so
after decoding, the DCT of the same blocks lands near those multiples again, up to the rounding
of the decoded pixels. A clean image's coefficients fall anywhere. For the low-frequency
coefficients this module finds the step that best explains them and how strongly (the mean of
exp(2 pi i c / step) over the coefficients away from zero: near 1 on a JPEG grid, near 0 off it),
and from the steps a libjpeg quality. Measured on the 26 validation and training photos at x4
downscales, clean, with noise or blur: at most 0.11; JPEG at quality 85 or lower: 0.42 or more,
but one photo of saturated colours (clipped when decoded) 0.27 at quality 85 and 0.34 at 75.

numpy only; about 10 ms for a 1-megapixel image (a central crop of at most 512 x 512 is read).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# libjpeg's standard luminance table (ITU T.81, Annex K), the one every encoder scales
_LUMA_TABLE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]])
_POSITIONS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0))  # low frequencies: many non-zero values
_STEPS = np.arange(2, 61)
_MIN_COEFFICIENTS = 64
# z of the mean cosine against unquantised values (each cosine has variance 1/2): the best of
# the candidate steps reaches about 3 by chance on a clean image
_SIGNIFICANT = 5.0
_CROP = 512
DETECTED = 0.25  # mean cosine above which an image is taken as JPEG-compressed


def _dct_basis() -> np.ndarray:
    n = np.arange(8)
    basis = np.sqrt(2 / 8) * np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16)
    basis[0] /= np.sqrt(2)
    return basis


_BASIS = _dct_basis()


@dataclass(frozen=True)
class JpegEstimate:
    """What the pixels say: `score` 0..1 (how well a JPEG grid explains them), the quantisation
    steps found at the low frequencies, and the libjpeg quality those steps fit (None when no
    JPEG grid was found)."""

    score: float
    steps: tuple[int, ...]
    quality: int | None

    @property
    def compressed(self) -> bool:
        return self.quality is not None


def estimate_jpeg(image: np.ndarray) -> JpegEstimate:
    """Estimate the JPEG history of an image in OpenCV layout (grey, BGR or BGRA; 8 or 16 bit)."""
    luma = _luma(_central_crop(image, _CROP))
    best = JpegEstimate(0.0, (), None)
    for offset in _grid_offsets(luma):
        found = _at_offset(luma, offset)
        if found.score > best.score:
            best = found
        if best.compressed:
            break
    return best


def _luma(image: np.ndarray) -> np.ndarray:
    scale = 255.0 / 65535.0 if image.dtype == np.uint16 else 1.0
    pixels = image.astype(np.float64) * scale
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 1:
        return pixels[..., 0]
    # JFIF's Y from BGR(A): the luma the encoder transformed
    return 0.114 * pixels[..., 0] + 0.587 * pixels[..., 1] + 0.299 * pixels[..., 2]


def _central_crop(image: np.ndarray, size: int) -> np.ndarray:
    """A central crop on the image's own 8-pixel grid (a crop must not shift the JPEG grid)."""
    h, w = image.shape[:2]
    y = max(0, (h - size) // 2) // 8 * 8
    x = max(0, (w - size) // 2) // 8 * 8
    return image[y:y + size, x:x + size]


def _grid_offsets(luma: np.ndarray) -> list[tuple[int, int]]:
    """(0, 0), where an uncropped JPEG's grid is, and the phase where neighbouring pixels
    differ most (a cropped JPEG's block edges)."""
    rows = np.abs(np.diff(luma, axis=0))
    cols = np.abs(np.diff(luma, axis=1))
    y = int(np.argmax([rows[k::8].mean() for k in range(8)]) + 1) % 8 if rows.size else 0
    x = int(np.argmax([cols[:, k::8].mean() for k in range(8)]) + 1) % 8 if cols.size else 0
    return list(dict.fromkeys([(0, 0), (y, x)]))


def _at_offset(luma: np.ndarray, offset: tuple[int, int]) -> JpegEstimate:
    plane = luma[offset[0]:, offset[1]:] - 128.0
    h, w = plane.shape[0] // 8 * 8, plane.shape[1] // 8 * 8
    if h == 0 or w == 0:
        return JpegEstimate(0.0, (), None)
    blocks = plane[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    coefficients = _BASIS @ blocks @ _BASIS.T
    scores, steps = [], []
    for u, v in _POSITIONS:
        score, step = _best_step(coefficients[:, u, v])
        scores.append(score)
        steps.append(step)
    score = float(np.mean(scores[:3]))
    if score < DETECTED:
        return JpegEstimate(score, tuple(steps), None)
    return JpegEstimate(score, tuple(steps), _quality_for(steps, scores))


def _best_step(values: np.ndarray) -> tuple[float, int]:
    """The quantisation step that explains `values` best, and how well (0..1)."""
    # Whole cells around the non-zero multiples of each step: a smooth (unquantised) density is
    # close to linear across one cell, so its mean cosine there is close to 0, while JPEG's
    # values sit on the multiples (cosine 1). The cell around 0 fits every step: left out.
    magnitudes = np.sort(np.abs(values))
    first = np.searchsorted(magnitudes, 0.5 * _STEPS)  # per step: where its cells begin
    counts = magnitudes.size - first
    cosines = np.cos((2 * np.pi * magnitudes[None, :] / _STEPS[:, None]).astype(np.float32))
    tail_sums = np.cumsum(cosines[:, ::-1], axis=1)[:, ::-1]  # sum from index i to the end
    usable = counts >= _MIN_COEFFICIENTS
    if not usable.any():
        return 0.0, 0
    tails = tail_sums[np.arange(_STEPS.size), np.minimum(first, magnitudes.size - 1)]
    means = np.where(usable, tails / np.maximum(counts, 1), -1.0)
    # values on multiples of the true step sit on multiples of its divisors too, so those fit
    # as well; multiples of it do not (odd multiples fall half-way): the largest of the best
    best = float(means.max())
    index = int(np.flatnonzero(means >= best - 0.05)[-1])
    significant = means[index] * np.sqrt(2 * counts[index]) >= _SIGNIFICANT
    return (float(means[index]), int(_STEPS[index])) if significant else (0.0, 0)


def quantisation_steps(quality: int) -> np.ndarray:
    """libjpeg's luminance steps at `quality` (1..100), as `cjpeg -quality` scales the table."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_LUMA_TABLE * scale + 50) / 100), 1, 255)


def _quality_for(steps: list[int], scores: list[float]) -> int:
    """The libjpeg quality whose table fits the well-found steps best."""
    usable = [(pos, step) for pos, step, score in zip(_POSITIONS, steps, scores, strict=True)
              if step and score >= DETECTED]
    if not usable:
        usable = [(_POSITIONS[0], steps[0] or 2)]

    def misfit(quality: int) -> float:
        table = quantisation_steps(quality)
        return sum(abs(np.log(table[pos] / step)) for pos, step in usable)

    return min(range(1, 101), key=lambda q: (misfit(q), -q))
