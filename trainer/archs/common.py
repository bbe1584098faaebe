"""Small pieces shared by the generator architectures."""

from __future__ import annotations

import torch
from torch import nn

# the DIV2K RGB mean that SPAN, SwinIR, HAT and DAT subtract from their input
RGB_MEAN = (0.4488, 0.4371, 0.4040)


@torch.no_grad()
def scaled_kaiming_init(module: nn.Module, scale: float = 1.0) -> None:
    """Kaiming-normal init scaled down, as ESRGAN/MSRResNet do to keep deep residual nets stable."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            m.weight.mul_(scale)
            if m.bias is not None:
                m.bias.zero_()


def image_mean(x: torch.Tensor) -> torch.Tensor:
    """RGB_MEAN as an NCHW tensor like x (zero for other channel counts). Built per call, not a
    buffer, so a model built on the meta device needs no value for it."""
    mean = RGB_MEAN if x.shape[1] == 3 else (0.0,) * x.shape[1]
    return torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
