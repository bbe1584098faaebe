"""The generator a run starts from (`model.init`, `sr-train --init FILE`): any file sr-export reads.

The file is read by weights_file (no pickled code runs; .pth or .safetensors, BasicSR and other
wrappers peeled off, EMA weights preferred); its architecture, scale and hyperparameters are what
a uprez checkpoint says, or what archs.detect reads from the keys and shapes of any other file,
and foreign layouts (the original ESRGAN's) arrive renamed to our parameter names.

`model_from_init` gives a config its model.arch/scale/hparams from the file, where the user did
not set them; `load_init_weights` hands the weights to the first phase and refuses a config whose
model differs from the file's (a run started from Python without `model_from_init`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from uprez.runtime.base import console
from uprez.runtime.base.weights import CheckpointError

from .archs import generator_spec
from .archs.detect import build_model, detect, from_uprez
from .archs.spec import hparams_of
from .config import Config
from .setup import TrainingError
from .typecheck import ConfigError
from .weights_file import load_checkpoint

HPARAMS = "model.hparams."


@dataclass(frozen=True)
class InitWeights:
    """A generator read from a file: what it is, and its weights in our parameter names."""

    path: Path
    arch: str
    scale: int
    hparams: dict  # complete (defaults included), without the scale
    layout: str  # where the weights came from, e.g. "RRDBNet (BasicSR/Real-ESRGAN)"
    weights: str  # which weights of the file were taken, e.g. "params_ema (EMA)"
    state_dict: dict = field(repr=False)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.hparams.items())
        return f"{self.arch} x{self.scale} ({shown})"


def read_init(path: str | Path) -> InitWeights:
    """The generator in `path`; a CheckpointError names the file and what is wrong with it."""
    path = Path(path)
    try:
        loaded = load_checkpoint(path, prefer_ema=True)
        if loaded.arch is not None:
            found = from_uprez(loaded.arch, loaded.hparams, loaded.state_dict)
        else:
            found = detect(loaded.state_dict)
        hparams = dict(build_model(found).hparams)  # the weights fit it; defaults filled in
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    scale = int(hparams.pop("scale"))
    return InitWeights(path, found.arch, scale, hparams, found.layout, loaded.weights,
                       found.state_dict)


def model_from_init(config: Config, set_by: Mapping[str, str]) -> Config:
    """`config` with model.arch, model.scale and model.hparams read from the file model.init
    names. Values the user set (`set_by`: dotted key -> where it was set, from
    config_io.where_set) must agree with the file, else a ConfigError names both."""
    init = read_init(config.model.init)
    source = f"{'model.init' if 'model.init' in set_by else '--init'} {init.path}"
    model = config.model
    for key, value, found in (("model.arch", model.arch, init.arch),
                              ("model.scale", model.scale, init.scale)):
        if key in set_by and value != found:
            raise ConfigError(f"{key} = {value!r} ({set_by[key]}) conflicts with {source}, "
                              f"which holds {init.describe()}, read as {init.layout}; leave {key} "
                              "out to take it from the file")
    _check_hparams(config, set_by, init, source)
    console.info(f"starting from {init.path}: {init.describe()}, read as {init.layout}, "
                 f"weights {init.weights}")
    return dataclasses.replace(config, model=dataclasses.replace(
        model, arch=init.arch, scale=init.scale, hparams=dict(init.hparams)))


def _check_hparams(config: Config, set_by: Mapping[str, str], init: InitWeights,
                   source: str) -> None:
    """The hyperparameters the user set: known to the file's architecture and equal to its."""
    where = {key[len(HPARAMS):]: value for key, value in set_by.items()
             if key.startswith(HPARAMS)}
    if "scale" in where:
        raise ConfigError("set the scale with model.scale, not model.hparams.scale")
    given = {name: value for name, value in config.model.hparams.items() if name in where}
    try:
        wanted = hparams_of(generator_spec(init.arch).make_params(
            {**init.hparams, **given, "scale": init.scale}, prefix=HPARAMS))
    except ConfigError as exc:
        raise ConfigError(f"{exc} ({source} holds {init.describe()})") from None
    for name, value in given.items():
        if wanted[name] != init.hparams[name]:
            raise ConfigError(f"{HPARAMS}{name} = {value!r} ({where[name]}) conflicts with "
                              f"{source}, whose {init.arch} has {name} = "
                              f"{init.hparams[name]!r}; leave {HPARAMS}{name} out to take it "
                              "from the file")


def load_init_weights(config: Config) -> dict | None:
    """The starting weights of the generator, in our names, when model.init names a file; the
    config's model must be the file's (sr-train sets it from the file: model_from_init)."""
    if not config.model.init:
        return None
    try:
        init = read_init(config.model.init)
    except CheckpointError as exc:
        raise TrainingError(f"model.init: {exc}") from None
    model = config.model
    hparams = hparams_of(generator_spec(model.arch).make_params(
        {**model.hparams, "scale": model.scale}))
    hparams.pop("scale")
    if (model.arch, model.scale, hparams) != (init.arch, init.scale, init.hparams):
        ours = ", ".join(f"{k}={v}" for k, v in hparams.items())
        raise TrainingError(f"model.init: {init.path} holds {init.describe()}, the config "
                            f"trains {model.arch} x{model.scale} ({ours}); leave model.arch, "
                            "model.scale and model.hparams unset to take them from the file")
    return init.state_dict
