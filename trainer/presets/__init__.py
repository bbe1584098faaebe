"""Named configs shipped with uprez: `sr-train --preset NAME`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PRESETS: dict[str, str] = {
    "compact-x4": "compact-x4.toml",
    "compact-x2": "compact-x2.toml",
    "srgan-x4": "srgan-x4.toml",
    "esrgan-x4": "esrgan-x4.toml",
    "real-compact-x4": "real-compact-x4.toml",
    "real-compact-x2": "real-compact-x2.toml",
    "real-esrgan-x4": "real-esrgan-x4.toml",
}
DEFAULT_PRESET = "compact-x4"


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        raise KeyError(name)
    return Path(str(resources.files(__name__).joinpath(PRESETS[name])))
