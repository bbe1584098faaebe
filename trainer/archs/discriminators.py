"""Discriminators: SRGAN's VGG-style classifier and Real-ESRGAN's U-Net with spectral norm."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from .spec import DiscriminatorSpec, hparams_of


@dataclass(frozen=True)
class VGGStyleParams:
    num_in_ch: int = 3
    num_feat: int = 64


class VGGStyleDiscriminator(nn.Module):
    """SRGAN's discriminator: strided conv blocks, then a classifier head.

    The head pools to a fixed 4x4 grid first, so any patch size of 32 px or more works (the
    paper's dense layers tie it to 96 px).
    """

    def __init__(self, params: VGGStyleParams):
        super().__init__()
        self.hparams = hparams_of(params)
        num_in_ch, num_feat = params.num_in_ch, params.num_feat
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8]
        layers: list[nn.Module] = []
        in_ch = num_in_ch
        for i, width in enumerate(widths):
            for stride in (1, 2):
                layers.append(nn.Conv2d(in_ch, width, 3 if stride == 1 else 4, stride, 1,
                                        bias=(i == 0 and stride == 1)))
                if not (i == 0 and stride == 1):
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
                in_ch = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(in_ch * 16, 100), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(100, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


@dataclass(frozen=True)
class UNetParams:
    num_in_ch: int = 3
    num_feat: int = 64
    skip_connection: bool = True


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator: per-pixel realness, spectral norm on every conv.

    Input height and width must be multiples of 8.
    """

    def __init__(self, params: UNetParams):
        super().__init__()
        self.hparams = hparams_of(params)
        self.skip_connection = params.skip_connection
        f = params.num_feat
        self.conv0 = nn.Conv2d(params.num_in_ch, f, 3, 1, 1)
        self.conv1 = spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, negative_slope=0.2, inplace=True)

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        x4 = act(self.conv4(up(x3)))
        if self.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(up(x4)))
        if self.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(up(x5)))
        if self.skip_connection:
            x6 = x6 + x0
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)


VGG = DiscriminatorSpec(name="vgg", module=VGGStyleDiscriminator, params=VGGStyleParams)
UNET = DiscriminatorSpec(name="unet", module=UNetDiscriminatorSN, params=UNetParams)
