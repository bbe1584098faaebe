"""Small pieces shared by the generator architectures."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def scaled_kaiming_init(module: nn.Module, scale: float = 1.0) -> None:
    """Kaiming-normal init scaled down, as ESRGAN/MSRResNet do to keep deep residual nets stable."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            m.weight.mul_(scale)
            if m.bias is not None:
                m.bias.zero_()
