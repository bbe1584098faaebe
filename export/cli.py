"""`sr-export`: a generator checkpoint in, a verified ONNX model out."""

from __future__ import annotations

import click

from uprez.runtime.console import require_extra


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
def main(checkpoint: str) -> None:
    """Export CHECKPOINT (.pth/.safetensors) to ONNX."""
    require_extra("sr-export", "export", "torch", "onnx")
    raise click.ClickException("sr-export is not implemented yet")
