"""The model files of a run, as bytes that travel with the job to every worker.

No node needs the model on a shared filesystem: the driver reads the file (two for the shipped
auto default) once, Ray's object store carries the bytes to each node, and each worker writes
them into its user cache, under their SHA-256, with the file's own name (which names the model
in the video resume keys when its metadata has no name).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from uprez.runtime.backends import ModelError
from uprez.runtime.backends.cache import entry_folder
from uprez.runtime.base import atomic
from uprez.runtime.models import (
    DEFAULT_MODELS,
    AutoModel,
    DefaultModelMissing,
    auto_model,
    default_model_path,
    resolve_model,
    shipped_model,
)

SINGLE = ""  # the variant name of a run with one model; the auto default has "clean" and "real"


@dataclass(frozen=True)
class ModelFile:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ModelParcel:
    files: dict[str, ModelFile]  # by variant
    auto: AutoModel | None = None  # the auto choice whose two models `files` holds


def pack(model: str | Path | None, scale: int | None) -> tuple[ModelParcel, dict[str, Path]]:
    """The files `open_upscaler(model, scale=scale)` would load, read; and where they are here.
    Raises ModelError for a model that is not there (before any cluster is contacted)."""
    name = str(model) if model is not None else DEFAULT_MODELS.get(scale or 4)
    choice = auto_model(name) if name is not None else None
    if choice is not None and scale is not None and scale != choice.scale:
        raise ModelError(f"{choice.name} is a x{choice.scale} model, not x{scale}")
    if choice is not None:
        paths = {"clean": shipped_model(choice.clean).path, "real": shipped_model(choice.real).path}
    elif model is None:
        try:
            paths = {SINGLE: default_model_path(scale or 4)}
        except DefaultModelMissing as exc:
            raise ModelError(str(exc)) from None
    else:
        paths = {SINGLE: resolve_model(model)}
    files = {}
    for variant, path in paths.items():
        if path.is_dir():
            raise ModelError(f"model path is a folder, not an .onnx file: {path}")
        try:
            files[variant] = ModelFile(path.name, path.read_bytes())
        except FileNotFoundError:
            raise ModelError(f"model file not found: {path}") from None
        except OSError as exc:
            raise ModelError(f"cannot read model {path}: {exc.strerror or exc}") from None
    return ModelParcel(files, choice), paths


def unpack(parcel: ModelParcel) -> dict[str, Path]:
    """Write the files on this machine (once per content); their paths by variant."""
    paths = {}
    for variant, file in parcel.files.items():
        folder = entry_folder("cluster-models", file.sha256[:16])
        if folder is None:  # no writable cache: a folder of this process's own
            folder = Path(tempfile.mkdtemp(prefix="uprez-model-"))
        path = folder / file.name
        if not (path.is_file() and path.stat().st_size == len(file.data)):
            atomic.write_bytes(path, file.data)
        paths[variant] = path
    return paths


def open_unpacked(parcel: ModelParcel, paths: dict[str, Path], scale: int | None = None,
                  **options):
    """The Upscaler (or AutoUpscaler) of the parcel, from its files at `paths` (`options` as
    Upscaler takes them)."""
    from uprez.runtime.auto import AutoUpscaler
    from uprez.runtime.upscaler import Upscaler

    if parcel.auto is not None:
        choice = replace(parcel.auto, clean=str(paths["clean"]), real=str(paths["real"]))
        return AutoUpscaler(choice, **options)
    return Upscaler(paths[SINGLE], scale=scale, **options)
