"""`sr-export`: a generator checkpoint in, a verified ONNX model out."""

from __future__ import annotations

from pathlib import Path

import click

from uprez.runtime.base import console
from uprez.runtime.base.console import require_extra
from uprez.runtime.base.report import BatchReport

from .opsets import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoints", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output .onnx file, or an existing folder for several checkpoints. "
                   "Default: next to each checkpoint, same name, .onnx (_fp16.onnx with --fp16).")
@click.option("--name", help="Model name stored in the metadata. Default: the checkpoint's file "
                             "name without extension.")
@click.option("--opset", type=click.IntRange(MIN_OPSET, MAX_OPSET), default=DEFAULT_OPSET,
              show_default=True, help="ONNX opset version.")
@click.option("--fp16", is_flag=True,
              help="Store weights and compute in float16 (input and output stay float32). "
                   "Refused when the model produces NaN/Inf or strays too far in half precision.")
@click.option("--no-verify", is_flag=True,
              help="Skip comparing onnxruntime with PyTorch (and the fp16-safety measurement).")
@click.option("--no-ema", is_flag=True,
              help="Export the plain training weights instead of the EMA weights when a "
                   "checkpoint has both.")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing .onnx (default: skip it when it was exported from the "
                   "same checkpoint, refuse it when not).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings, errors and the result lines.")
def main(checkpoints: tuple[Path, ...], output: Path | None, name: str | None, opset: int,
         fp16: bool, no_verify: bool, no_ema: bool, overwrite: bool, quiet: bool) -> None:
    """Export generator CHECKPOINTS (.pth / .safetensors) to verified ONNX models.

    Reads uprez checkpoints (sr-train's generator.pth) and the public formats: Real-ESRGAN
    (RRDBNet x4plus/x2plus, SRVGGNetCompact such as realesr-general-x4v3), the original ESRGAN
    layout (model.0.weight ...), SPAN, SwinIR, HAT, DAT and OmniSR in their published layouts,
    BasicSR params/params_ema and `module.` prefixes. The architecture, scale and sizes are read
    from the weights. Pickled code is never executed.

    The ONNX model takes `input` [N,3,H,W] float32 RGB in 0..1 and returns `output`
    [N,3,H*scale,W*scale]; its metadata tells `sr-run` everything else (scale, receptive field
    for tile padding, size multiple, fp16 safety, source hash), so

    \b
      sr-export RealESRGAN_x4plus.pth
      sr-run --model RealESRGAN_x4plus.onnx photo.jpg
    """
    require_extra("sr-export", "export", "torch", "onnx", "onnxruntime")
    console.set_quiet(quiet)
    targets = _targets(checkpoints, output, name, fp16)

    from uprez.runtime.base.weights import CheckpointError

    from .errors import ExportFailure
    from .exporter import ExportOptions, export_checkpoint

    report = BatchReport()
    for checkpoint, target in targets:
        existing = None if overwrite else _existing_export(checkpoint, target)
        if existing == "same":
            console.info(f"{target} exists, exported from this checkpoint: skipped "
                         "(--overwrite to export again)")
            report.add_skipped(str(checkpoint))
            continue
        if existing is not None:
            reason = f"{target} exists and {existing}; --overwrite replaces it"
            console.error(f"{checkpoint}: {reason}")
            report.add_failed(str(checkpoint), reason)
            continue
        options = ExportOptions(name=name, opset=opset, fp16=fp16, verify=not no_verify,
                                prefer_ema=not no_ema)
        try:
            done = export_checkpoint(checkpoint, target, options)
        except (ExportFailure, CheckpointError) as exc:
            console.error(f"{checkpoint}: {exc}")
            report.add_failed(str(checkpoint), str(exc))
            continue
        console.result(done.summary())
        report.add_done(str(checkpoint))
    if len(targets) > 1:
        console.info(report.summary())
    if report.exit_code:
        raise SystemExit(report.exit_code)


def _existing_export(checkpoint: Path, target: Path) -> str | None:
    """None when `target` is free; "same" when it was exported from this very checkpoint (its
    metadata holds the checkpoint's SHA-256); else why it must not be replaced silently."""
    from uprez.runtime.metadata import SOURCE_SHA256, file_sha256
    from uprez.runtime.onnx_file import NotProtobuf, read_metadata_props

    if not target.exists() or target.resolve() == checkpoint.resolve():
        return None  # the exporter refuses the second with its own message
    try:
        source = read_metadata_props(target).get(SOURCE_SHA256)
    except (NotProtobuf, OSError):
        return "is not an ONNX model sr-export wrote"
    if source is None:
        return "was not exported by sr-export"
    return "same" if source == file_sha256(checkpoint) else \
        "was exported from another checkpoint"


def default_output(checkpoint: Path, fp16: bool) -> Path:
    return checkpoint.with_name(checkpoint.stem + ("_fp16" if fp16 else "") + ".onnx")


def _targets(checkpoints: tuple[Path, ...], output: Path | None, name: str | None,
             fp16: bool) -> list[tuple[Path, Path]]:
    """Each checkpoint with its output file; usage errors for combinations that cannot work."""
    several = len(checkpoints) > 1
    if several and name:
        raise click.UsageError("--name applies to one checkpoint; leave it out for several")
    if several and output is not None and not output.is_dir():
        raise click.BadParameter("with several checkpoints, --output must be an existing folder",
                                 param_hint="--output")
    targets = []
    for checkpoint in checkpoints:
        if output is None:
            target = default_output(checkpoint, fp16)
        elif output.is_dir():
            target = output / default_output(checkpoint, fp16).name
        else:
            target = output
        if target.suffix.lower() != ".onnx":
            raise click.BadParameter(f"{target} does not end in .onnx", param_hint="--output")
        targets.append((checkpoint, target))
    outputs = [t.resolve() for _, t in targets]
    if len(set(outputs)) != len(outputs):
        raise click.UsageError("two checkpoints would write the same output file")
    return targets


if __name__ == "__main__":
    main()
