"""One checkpoint to one verified ONNX file: load, detect, measure, export, verify, write."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from uprez.runtime.base import console
from uprez.runtime.base.atomic import atomic_path
from uprez.runtime.metadata import ModelInfo
from uprez.trainer.archs import generator_spec
from uprez.trainer.archs.detect import build_model, detect, from_uprez
from uprez.trainer.weights_file import load_checkpoint

from . import verify
from .errors import ExportFailure, VerificationError
from .onnx_export import annotate, check, export_onnx
from .opsets import DEFAULT_OPSET
from .profile import profile_model, tile_hint
from .receptive_field import TAIL_TOLERANCE, measure_receptive_field


@dataclass(frozen=True)
class ExportOptions:
    name: str | None = None
    opset: int = DEFAULT_OPSET
    fp16: bool = False
    verify: bool = True
    prefer_ema: bool = True


@dataclass(frozen=True)
class ExportResult:
    output: Path
    info: ModelInfo
    seconds: float

    def summary(self) -> str:
        info = self.info
        return (f"{self.output}  (x{info.scale} {info.arch}, {info.precision}, "
                f"{_human_size(self.output.stat().st_size)}, receptive field "
                f"{info.receptive_field} px, {self.seconds:.1f} s)")


def _human_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _human_count(count: int) -> str:
    return f"{count / 1e6:.2f}M" if count >= 100_000 else f"{count / 1e3:.1f}k"


# checkpoint file names that say what the file is, not which model: sr-train's generator.pth,
# BasicSR's net_g_latest.pth, ...; the model is named after the folder they are in
_GENERIC_STEMS = re.compile(r"^(generator(_\w+)?|model|net_?g(_\w+)?|g|latest|last|best|final|"
                            r"checkpoint|ckpt|weights|ema)$", re.IGNORECASE)
_GENERIC_FOLDERS = frozenset({"", ".", "..", "checkpoints", "models", "weights", "experiments"})


def model_name(checkpoint: Path) -> str:
    """The name written into the metadata by default: the file's stem, or for a generic file
    name (generator.pth) the nearest folder with a name of its own, e.g. runs/portrait/..."""
    if not _GENERIC_STEMS.match(checkpoint.stem):
        return checkpoint.stem
    for folder in checkpoint.resolve().parents:
        if folder.name.lower() not in _GENERIC_FOLDERS:
            return folder.name
    return checkpoint.stem


def export_checkpoint(checkpoint: Path, output: Path, options: ExportOptions) -> ExportResult:
    started = time.perf_counter()
    if output.resolve() == checkpoint.resolve():
        raise ExportFailure("the output path is the checkpoint itself; choose another --output")
    console.info(f"{checkpoint.name}: reading ({_human_size(checkpoint.stat().st_size)})")
    loaded = load_checkpoint(checkpoint, prefer_ema=options.prefer_ema)
    if loaded.arch is not None:
        found = from_uprez(loaded.arch, loaded.hparams, loaded.state_dict)
    else:
        found = detect(loaded.state_dict)
    model = build_model(found)
    hparams = dict(model.hparams)  # complete, defaults included
    scale = int(hparams["scale"])
    spec = generator_spec(found.arch)
    required = spec.size_multiple(scale)
    multiple = spec.tile_multiple(hparams)
    profile = profile_model(model, size_multiple=multiple)
    shown = ", ".join(f"{k}={v}" for k, v in hparams.items() if k != "scale")
    console.info(f"  model: {found.arch} x{scale} ({shown}), {_human_count(profile.parameters)} "
                 f"parameters, from {found.layout}, weights {loaded.weights}")
    global_context = spec.global_context
    radius = _receptive_field(model, scale, multiple, profile.macs_per_pixel, global_context)
    # models that pad inside are probed at 24x32 px: OmniSR's ESA needs 16 px or more
    fp16_safe = _fp16_safety(model, max(required, 2) if multiple > required else required,
                             options)

    info = ModelInfo(
        scale=scale, channel_order="RGB", value_range=(0.0, 1.0), receptive_field=radius,
        size_multiple=multiple, global_context=global_context, fp16_safe=fp16_safe,
        precision="fp16" if options.fp16 else "fp32",
        arch=found.arch, hparams=hparams, tile_hint=tile_hint(profile),
        source_sha256=loaded.sha256, name=options.name or model_name(checkpoint),
    )
    console.info(f"  exporting to ONNX (opset {options.opset}, {info.precision})")
    try:
        proto = export_onnx(model, size_multiple=multiple, opset=options.opset, fp16=options.fp16)
        annotate(proto, info.to_props(), doc=f"{info.name}: x{scale} {found.arch} "
                                             "super-resolution, exported by uprez sr-export")
        check(proto)
    except Exception as exc:  # the exporter and checker raise many types; all mean the same
        raise ExportFailure(f"ONNX export failed ({type(exc).__name__}: "
                            f"{console.first_line(exc)})") from exc
    # verified on sizes the graph accepts: odd ones for models that pad inside the graph
    _write_verified(proto, output, model, required, options)
    return ExportResult(output, info, time.perf_counter() - started)


def _receptive_field(model, scale: int, multiple: int, macs_per_pixel: float,
                     global_context: bool) -> int:
    field = measure_receptive_field(model, scale=scale, size_multiple=multiple,
                                    macs_per_pixel=macs_per_pixel, global_context=global_context)
    if global_context:
        console.info(f"  receptive field: {field.radius} px each side of local reach, and "
                     f"whole-image context: {field.global_share:.1%} of the influence comes "
                     "from the whole input, which tiles only approximate (sr-run runs whole "
                     "images when they fit)")
    else:
        reach = f"any influence within {field.extent} px" if field.extent is not None else \
            f"any influence reaches past the {field.probe_side} px probe"
        console.info(f"  receptive field: {field.radius} px each side (influence beyond it "
                     f"below {TAIL_TOLERANCE:g}; {reach})")
    if not field.converged:
        console.warn(f"receptive field measurement hit its budget; {field.radius} px is a "
                     "lower bound, pad tiles more if seams show")
    return field.radius


def _fp16_safety(model, multiple: int, options: ExportOptions) -> bool:
    """Measured unless verification is off; --fp16 always measures, and refuses unsafe models."""
    if not (options.verify or options.fp16):
        return False
    measured = verify.measure_fp16(model, multiple)
    safe = measured.fp16_acceptable()
    console.info(f"  fp16: {'safe' if safe else 'NOT safe'}, {measured.describe()}")
    if options.fp16 and not safe:
        raise VerificationError(f"refusing to write an fp16 model: {measured.describe()}; "
                                "export without --fp16")
    return safe


def _write_verified(proto, output: Path, model, multiple: int, options: ExportOptions) -> None:
    """Save next to the target, verify that very file, then move it into place."""
    import onnx

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(output) as temp:
            onnx.save(proto, str(temp))
            if options.verify:
                inputs = verify.check_inputs(multiple)
                references = verify.torch_outputs(model, inputs)
                check_file = verify.verify_fp16 if options.fp16 else verify.verify_fp32
                result = check_file(temp, references, inputs)
                sizes = ", ".join("x".join(map(str, x.shape)) for x in inputs)
                console.info(f"  verified with onnxruntime on {sizes}: {result.describe()}")
            else:
                console.warn("verification skipped (--no-verify)")
    except OSError as exc:
        raise ExportFailure(f"cannot write {output}: {exc.strerror or exc}") from None
