"""The architecture registry: names to specs and classes, explicitly.

A generator architecture is one `ArchSpec` (spec.py) in `GENERATORS`: its module class, typed
hyperparameters with defaults, scales, input size multiples, and the checkpoint layouts
detect.py recognises (for sr-export and sr-train --init). Adding one is a module beside these
(the nn.Module, its Params dataclass, its layout detectors and a SPEC) and one line below.
Every module keeps its hyperparameters on `module.hparams`, so a checkpoint can store
`{arch, hparams}` and rebuild it with `build_generator`. Discriminators are a
`DiscriminatorSpec` each in `DISCRIMINATORS`, their hyperparameters typed the same way.
"""

from __future__ import annotations

from torch import nn

from . import compact, dat, discriminators, hat, omnisr, rrdbnet, span, srresnet, swinir
from .spec import ArchSpec, DiscriminatorSpec

# detect.py tries the layouts of these in this order: put an architecture whose signature keys
# contain another's before it.
GENERATORS: dict[str, ArchSpec] = {spec.name: spec for spec in (
    rrdbnet.SPEC,
    compact.SPEC,
    srresnet.SPEC,
    # the community's architectures, in their published key layouts
    span.SPEC,
    hat.SPEC,  # HAT's keys include SwinIR's signature prefixes: it comes first
    swinir.SPEC,
    dat.SPEC,
    omnisr.SPEC,
)}

# Views of GENERATORS for callers that need one field.
ARCHS: dict[str, type[nn.Module]] = {name: spec.module for name, spec in GENERATORS.items()}
SCALES: dict[str, tuple[int, ...]] = {name: spec.scales for name, spec in GENERATORS.items()}

DISCRIMINATORS: dict[str, DiscriminatorSpec] = {spec.name: spec for spec in (
    discriminators.VGG,
    discriminators.UNET,
)}


def generator_spec(arch: str) -> ArchSpec:
    if arch not in GENERATORS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(GENERATORS)}")
    return GENERATORS[arch]


def spec_of(module: nn.Module) -> ArchSpec:
    """The spec of a built generator."""
    return next(spec for spec in GENERATORS.values() if type(module) is spec.module)


def build_generator(arch: str, **hparams) -> nn.Module:
    """The generator `arch` with these hyperparameters (the others at their defaults); a
    ValueError names an unknown architecture or key, a wrong type or an unsupported scale."""
    return generator_spec(arch).build(**hparams)


def size_multiple_for(arch: str, scale: int) -> int:
    """Input height and width of `arch` at `scale` must be multiples of this."""
    return generator_spec(arch).size_multiple(scale)


def build_discriminator(arch: str, **hparams) -> nn.Module:
    """The discriminator `arch` with these hyperparameters (the others at their defaults); a
    ValueError names an unknown architecture or key, or a wrong type."""
    if arch not in DISCRIMINATORS:
        raise ValueError(f"unknown discriminator {arch!r}; known: {', '.join(DISCRIMINATORS)}")
    return DISCRIMINATORS[arch].build(**hparams)
