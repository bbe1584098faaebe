"""Build a Config from TOML text and `--set` overrides, with type checks; write it back as TOML.

Errors are ConfigError with the offending key in the message; the CLI turns them into usage
errors without a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .config import PHASES, Config
from .typecheck import ConfigError, check_type, field_types, unknown

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _sections() -> dict[str, type]:
    return field_types(Config)


def _merge(config: Config, tables: dict, source: str) -> Config:
    for section_name, table in tables.items():
        if section_name not in _sections():
            raise unknown("section", section_name, list(_sections()), f" ({source})")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{section_name}] must be a table")
    return _merge_table(config, tables, "", source)


def _merge_table(obj, table: dict, prefix: str, source: str):
    """`obj` (a config dataclass) with the values of `table`; nested dataclasses (such as
    [degradation.first]) are merged key by key, other values replaced after a type check."""
    hints = field_types(type(obj))
    values = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if key not in hints:
            where = f" in [{prefix.rstrip('.')}]" if prefix else ""
            raise unknown("key" if prefix else "section", key, list(hints), f"{where} ({source})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{name} must be a table like [{name}], not {value!r}")
            values[key] = _merge_table(current, value, f"{name}.", source)
        else:
            values[key] = check_type(name, value, hints[key])
    return dataclasses.replace(obj, **values)


def load_toml(config: Config, path: Path) -> Config:
    """`config` with the values of a TOML file on top."""
    try:
        tables = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return _merge(config, tables, str(path))


def parse_override(text: str) -> tuple[list[str], object]:
    """`section.key=value` (or `section.table.entry=value`) into the key path and a value.

    The value is read as TOML (`2e-4`, `true`, `[1, 2]`, `"text"`); anything that is not valid
    TOML is taken as a plain string, so `model.arch=rrdbnet` needs no quotes.
    """
    name, sep, raw = text.partition("=")
    path = name.strip().split(".")
    if not sep or len(path) not in (2, 3, 4) or not all(path):
        raise ConfigError(f"--set expects section.key=value, not {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    for text in overrides:
        path, value = parse_override(text)
        parent: object = config
        walked = 0
        for depth, key in enumerate(path[:-1]):
            known = list(_sections()) if depth == 0 else (
                list(field_types(type(parent))) if dataclasses.is_dataclass(parent) else [])
            if key not in known:
                if depth and not dataclasses.is_dataclass(parent):
                    break  # reported below: the parent is not a table
                raise unknown("section" if depth == 0 else "key", key, known, f" (--set {text})")
            parent, walked = getattr(parent, key), depth + 1
        if walked < len(path) - 1:
            dotted = ".".join(path[:walked])
            raise ConfigError(f"{dotted} is not a table; use {dotted}=value")
        if isinstance(parent, dict):  # an entry of a table field, e.g. model.hparams.num_feat=32
            value = {**parent, path[-1]: value}
            path = path[:-1]
        elif not dataclasses.is_dataclass(parent):
            dotted = ".".join(path[:-1])
            raise ConfigError(f"{dotted} is not a table; use {dotted}=value")
        nested: object = value
        for key in reversed(path):
            nested = {key: nested}
        config = _merge(config, nested, f"--set {text}")
    return config


def where_set(config_file: Path | None, overrides: list[str]) -> dict[str, str]:
    """The dotted keys that a --config file and --set overrides set, down to table entries
    (`model.hparams.num_feat`), each with the last of them that set it, e.g.
    {"model.arch": "--set model.arch=rrdbnet"}: what the user asked for, not a preset's value."""
    sources: dict[str, str] = {}
    if config_file is not None:  # already read whole by load_toml
        tables = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        sources.update(dict.fromkeys(_dotted(tables), f"in {config_file}"))
    for text in overrides:
        path, value = parse_override(text)
        sources.update(dict.fromkeys(_dotted(value, ".".join(path)), f"--set {text}"))
    return sources


def _dotted(value: object, prefix: str = "") -> list[str]:
    if not isinstance(value, dict):
        return [prefix]
    return [key for name, entry in value.items()
            for key in _dotted(entry, f"{prefix}.{name}" if prefix else name)]


def validate(config: Config) -> None:
    """Checks that involve more than one value, or the architecture registry."""
    from .archs import DISCRIMINATORS, GENERATORS

    model, data, train = config.model, config.data, config.train
    if model.arch not in GENERATORS:
        raise unknown("model.arch", model.arch, list(GENERATORS))
    spec = GENERATORS[model.arch]
    spec.check_scale(model.scale, key="model.scale: ")
    if "scale" in model.hparams:
        raise ConfigError("set the scale with model.scale, not model.hparams.scale")
    spec.make_params({**model.hparams, "scale": model.scale}, prefix="model.hparams.")
    if not train.phases or any(p not in PHASES for p in train.phases) \
            or len(set(train.phases)) != len(train.phases):
        raise ConfigError(f"train.phases must be [\"psnr\"], [\"gan\"] or [\"psnr\", \"gan\"], "
                          f"not {train.phases}")
    if data.patch_size % model.scale or data.patch_size < 8 * model.scale:
        raise ConfigError(f"data.patch_size must be a multiple of model.scale ({model.scale}) "
                          f"and at least {8 * model.scale}, not {data.patch_size}")
    if data.batch_size < 1:
        raise ConfigError(f"data.batch_size must be at least 1, not {data.batch_size}")
    if not 0.0 <= train.ema_decay < 1.0:
        raise ConfigError(f"train.ema_decay must be in [0, 1), not {train.ema_decay}")
    for positive in ("log_every", "checkpoint_every", "keep_checkpoints", "max_bad_steps"):
        if getattr(train, positive) < 1:
            raise ConfigError(f"train.{positive} must be at least 1")
    if config.val.every < 1 or config.val.keep_samples < 1:
        raise ConfigError("val.every and val.keep_samples must be at least 1")
    for name in train.phases:
        phase = config.phase(name)
        if phase.steps < 1 or phase.lr <= 0:
            raise ConfigError(f"{name}.steps and {name}.lr must be positive")
    _check_optimizers(config)
    from .degrade import check as check_degradation

    problems = check_degradation(config.degradation)
    if problems:
        raise ConfigError("; ".join(problems))
    if config.degradation.enabled and data.lr:
        raise ConfigError("degradation.enabled makes LR patches from HR images (--data); it "
                          "cannot be used with pre-made --lr/--hr pairs")
    gan = config.gan  # its architecture settings are checked even when no gan phase runs
    _check_perceptual_backbone(config)
    if gan.disc_arch not in DISCRIMINATORS:
        raise unknown("gan.disc_arch", gan.disc_arch, list(DISCRIMINATORS))
    DISCRIMINATORS[gan.disc_arch].make_params(gan.disc_hparams, prefix="gan.disc_hparams.")
    if "gan" in train.phases:
        if gan.disc_arch == "unet" and data.patch_size % 8:
            raise ConfigError("the unet discriminator needs data.patch_size to be a multiple of 8")
        _check_perceptual_layers(gan)
        bad = {k: v for k, v in gan.perceptual_layers.items()
               if isinstance(v, bool) or not isinstance(v, (int, float))}
        if bad:
            raise ConfigError(f"gan.perceptual_layers weights must be numbers, not {bad}")


def _check_perceptual_backbone(config: Config) -> None:
    from .perceptual import BACKBONES

    if config.gan.perceptual_backbone not in BACKBONES:
        raise unknown("gan.perceptual_backbone", config.gan.perceptual_backbone, list(BACKBONES))


def _check_perceptual_layers(gan) -> None:
    from .perceptual import BACKBONES, unknown_layers

    wrong = unknown_layers(gan.perceptual_backbone, list(gan.perceptual_layers))
    if wrong:
        spec = BACKBONES[gan.perceptual_backbone]
        raise ConfigError(f"gan.perceptual_layers: unknown {spec.name} layer(s) "
                          f"{', '.join(wrong)}; names are {spec.layer_help}")


def _check_optimizers(config: Config) -> None:
    """Every optimiser's name and settings, of the phases a run trains and of the others (so a
    setting with a typo is never a silent no-op)."""
    from .optimizers import discriminator_optimizer, generator_optimizer

    for name in PHASES:
        generator_optimizer(name, config.phase(name)).check()
    discriminator_optimizer(config.gan).check()


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def toml_value(value: object) -> str:
    """A TOML literal for a config value (JSON-quoted strings, so any character survives)."""
    if isinstance(value, dict):
        entries = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(entries) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def to_toml(config: Config) -> str:
    lines = ["# uprez sr-train resolved config: sr-train --config this_file reproduces the run"]

    def table(name: str, values: dict) -> None:
        lines.extend(["", f"[{name}]"])
        nested = {k: v for k, v in values.items() if _is_table_section(config, f"{name}.{k}")}
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items()
                     if key not in nested)
        for key, value in nested.items():
            table(f"{name}.{key}", value)

    for section, values in to_dict(config).items():
        table(section, values)
    return "\n".join(lines) + "\n"


def _is_table_section(config: Config, dotted: str) -> bool:
    """Whether a config path names a nested dataclass (written as its own [a.b] table)."""
    obj: object = config
    for key in dotted.split("."):
        obj = getattr(obj, key, None)
    return dataclasses.is_dataclass(obj)
