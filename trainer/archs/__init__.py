"""The architecture registry: names to classes, explicitly.

Every architecture takes keyword-only hyperparameters and keeps them on `module.hparams`, so a
checkpoint can store `{arch, hparams}` and rebuild the module with `build_generator`.
"""

from __future__ import annotations

from torch import nn

from .compact import Compact
from .discriminators import UNetDiscriminatorSN, VGGStyleDiscriminator
from .rrdbnet import RRDBNet
from .srresnet import SRResNet

ARCHS: dict[str, type[nn.Module]] = {
    "srresnet": SRResNet,
    "rrdbnet": RRDBNet,
    "compact": Compact,
}

DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "vgg": VGGStyleDiscriminator,
    "unet": UNetDiscriminatorSN,
}

# Scales each generator supports (x1 is "denoise/restore at the same size").
SCALES: dict[str, tuple[int, ...]] = {
    "srresnet": (2, 3, 4, 8),
    "rrdbnet": (1, 2, 3, 4, 8),
    "compact": (1, 2, 3, 4, 8),
}


def build_generator(arch: str, **hparams) -> nn.Module:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    return ARCHS[arch](**hparams)


def build_discriminator(arch: str, **hparams) -> nn.Module:
    if arch not in DISCRIMINATORS:
        raise ValueError(f"unknown discriminator {arch!r}; known: {', '.join(DISCRIMINATORS)}")
    return DISCRIMINATORS[arch](**hparams)
