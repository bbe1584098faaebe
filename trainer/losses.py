"""Pixel and adversarial losses. (The perceptual loss lives with its backbones in perceptual.py.)"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def pixel_loss(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "l1":
        return F.l1_loss(output, target)
    if kind == "mse":
        return F.mse_loss(output, target)
    if kind == "charbonnier":
        return torch.sqrt((output - target) ** 2 + 1e-6).mean()
    raise ValueError(f"unknown pixel loss {kind!r}")


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def generator_adversarial_loss(gan_type: str, real_logits: torch.Tensor,
                               fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss. `real_logits` carry no gradient (D(HR) detached)."""
    if gan_type == "vanilla":
        return _bce(fake_logits, True)
    if gan_type == "ragan":
        # relativistic average (ESRGAN eq. 2-3): make fakes look more real than the average real
        real_logits = real_logits.detach()
        return 0.5 * (_bce(real_logits - fake_logits.mean(), False)
                      + _bce(fake_logits - real_logits.mean(), True))
    raise ValueError(f"unknown gan type {gan_type!r}")


def discriminator_loss(gan_type: str, real_logits: torch.Tensor,
                       fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss on D(HR) and D(SR.detach())."""
    if gan_type == "vanilla":
        return 0.5 * (_bce(real_logits, True) + _bce(fake_logits, False))
    if gan_type == "ragan":
        return 0.5 * (_bce(real_logits - fake_logits.mean(), True)
                      + _bce(fake_logits - real_logits.mean(), False))
    raise ValueError(f"unknown gan type {gan_type!r}")
