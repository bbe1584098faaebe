"""Values against type annotations: the one checker for config sections and for architecture
hyperparameters, so both give the same messages (the key, what it must be, did-you-mean)."""

from __future__ import annotations

import difflib
import math
import typing


class ConfigError(ValueError):
    """A config value or key that is not acceptable; the message names it."""


def unknown(kind: str, name: str, known: list[str], where: str = "") -> ConfigError:
    """E.g. "unknown key 'stepz' in [psnr] (--set psnr.stepz=1) (did you mean 'steps'?); ..."."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{where}{hint}; known: {', '.join(known)}")


def field_types(cls: type) -> dict[str, object]:
    """The annotated fields of a dataclass, by name, with their types resolved."""
    return typing.get_type_hints(cls)


def check_type(key: str, value: object, expected: object) -> object:
    """Return `value` if it fits the annotation `expected` (ints widen to float), else raise."""
    origin = typing.get_origin(expected)
    if origin is typing.Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(map(repr, choices))}, "
                              f"not {value!r}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list of {item_type.__name__}, not {value!r}")
        return [check_type(f"{key}[{i}]", v, item_type) for i, v in enumerate(value)]
    if expected is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table like {{ name = value }}, not {value!r}")
        return dict(value)
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be finite, not {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, not {value!r}")
        return value
    if expected is bool or expected is str:
        if not isinstance(value, expected):
            raise ConfigError(f"{key} must be a {expected.__name__}, not {value!r}")
        return value
    raise TypeError(f"config field {key} has an unsupported annotation {expected!r}")


def check_fields(cls: type, table: dict, *, prefix: str, where: str = "") -> dict:
    """`table` checked against the fields of dataclass `cls`: unknown keys and wrong types are
    ConfigErrors naming `prefix + key`; returns the checked values (ints widened to float)."""
    types = field_types(cls)
    checked = {}
    for key, value in table.items():
        if key not in types:
            raise unknown("key", key, list(types), where)
        checked[key] = check_type(f"{prefix}{key}", value, types[key])
    return checked
