"""The optimisers a phase may train with, by name, each with its own typed settings.

A phase's generator optimiser is `<phase>.optimizer` with `<phase>.lr`, `<phase>.betas` (adam
and adamw), `<phase>.weight_decay` and `<phase>.optimizer_settings`; the gan phase's
discriminator has the same with `_d` (`gan.optimizer_d`, `gan.lr_d`, ...). The settings table
holds what only that optimiser has, checked against its dataclass below (unknown keys and wrong
types are errors); what is not given keeps the default written there (torch's own defaults).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import torch

from .config import Config, GanConfig, PhaseConfig
from .typecheck import ConfigError, check_fields, unknown


@dataclass(frozen=True)
class AdamSettings:
    eps: float = 1e-8
    amsgrad: bool = False


@dataclass(frozen=True)
class SgdSettings:
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False  # needs momentum > 0 and dampening = 0


@dataclass(frozen=True)
class AdagradSettings:
    lr_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10


@dataclass(frozen=True)
class RmspropSettings:
    alpha: float = 0.99  # smoothing of the squared-gradient average
    eps: float = 1e-8
    momentum: float = 0.0
    centered: bool = False


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    settings: type  # the frozen dataclass of its own settings
    uses_betas: bool
    make: Callable[..., torch.optim.Optimizer]  # (params, lr=, weight_decay=, [betas=,] **settings)


OPTIMIZERS: dict[str, OptimizerSpec] = {spec.name: spec for spec in (
    OptimizerSpec("adam", AdamSettings, True, torch.optim.Adam),
    # decoupled weight decay (Loshchilov & Hutter); torch's default decay is 0.01, ours is the
    # phase's weight_decay (0 unless set), which makes it Adam
    OptimizerSpec("adamw", AdamSettings, True, torch.optim.AdamW),
    OptimizerSpec("sgd", SgdSettings, False, torch.optim.SGD),
    OptimizerSpec("adagrad", AdagradSettings, False, torch.optim.Adagrad),
    OptimizerSpec("rmsprop", RmspropSettings, False, torch.optim.RMSprop),
)}


@dataclass(frozen=True)
class OptimizerChoice:
    """One network's optimiser as the config gives it; `key` names its config fields."""

    key: str  # e.g. "psnr.optimizer" or "gan.optimizer_d"
    name: str
    lr: float
    betas: tuple[float, ...]
    weight_decay: float
    settings: dict

    @property
    def spec(self) -> OptimizerSpec:
        if self.name not in OPTIMIZERS:
            raise unknown(self.key, self.name, list(OPTIMIZERS))
        return OPTIMIZERS[self.name]

    def checked_settings(self) -> dict:
        """All of the optimiser's own settings: the config's, over the defaults."""
        spec = self.spec
        given = check_fields(spec.settings, self.settings, prefix=f"{self.key}_settings.",
                             where=f" in {self.key}_settings ({self.name})")
        return asdict(spec.settings(**given))

    def arguments(self) -> dict:
        """The keyword arguments of the torch optimiser, besides the parameters."""
        args = {"lr": self.lr, "weight_decay": self.weight_decay, **self.checked_settings()}
        if self.spec.uses_betas:
            args["betas"] = tuple(self.betas)
        return args

    def make(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return self.spec.make(params, **self.arguments())

    def check(self) -> None:
        """ConfigError for settings the optimiser refuses (what types alone do not catch)."""
        if self.spec.uses_betas and len(self.betas) != 2:
            beta_key = self.key.replace("optimizer", "betas")
            raise ConfigError(f"{beta_key} must be two numbers like [0.9, 0.99]")
        try:
            self.make([torch.zeros(1, requires_grad=True)])
        except ValueError as exc:  # torch's own checks: a negative eps, nesterov without momentum
            raise ConfigError(f"{self.key} = {self.name!r} with {self.settings}: {exc}") from None


def generator_optimizer(phase_name: str, phase: PhaseConfig) -> OptimizerChoice:
    return OptimizerChoice(f"{phase_name}.optimizer", phase.optimizer, phase.lr,
                           tuple(phase.betas), phase.weight_decay, dict(phase.optimizer_settings))


def discriminator_optimizer(gan: GanConfig) -> OptimizerChoice:
    return OptimizerChoice("gan.optimizer_d", gan.optimizer_d, gan.lr_d, tuple(gan.betas_d),
                           gan.weight_decay_d, dict(gan.optimizer_settings_d))


def choices(config: Config, phase_name: str) -> dict[str, OptimizerChoice]:
    """The optimisers of a phase: {"g": ...} and, in the gan phase, "d"."""
    found = {"g": generator_optimizer(phase_name, config.phase(phase_name))}
    if phase_name == "gan":
        found["d"] = discriminator_optimizer(config.gan)
    return found


def apply_settings(optimizer: torch.optim.Optimizer, choice: OptimizerChoice) -> None:
    """The config's settings into an optimiser whose state was loaded from a checkpoint:
    load_state_dict brings back the saved ones, and a `--set` on --resume should count. The
    learning rate is set every step by the schedule."""
    arguments = choice.arguments()
    for group in optimizer.param_groups:
        for key, value in arguments.items():
            if key != "lr":
                group[key] = value


def resume_mismatch(config: Config, state: dict) -> str | None:
    """Why a training state cannot go on under `config`'s optimisers, or None. States written
    before the choice existed were trained with Adam."""
    saved = state.get("optimizer_names") or {"g": "adam", "d": "adam"}
    for role, choice in choices(config, state["phase"]).items():
        if saved.get(role, "adam") != choice.name:
            return (f"the checkpoint's {'generator' if role == 'g' else 'discriminator'} was "
                    f"trained with {saved.get(role, 'adam')}, but {choice.key} is "
                    f"{choice.name!r}; its state does not carry over. Resume with "
                    f"--set {choice.key}={saved.get(role, 'adam')}, or start a new run from "
                    "these weights (--init)")
    return None
