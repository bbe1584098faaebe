"""`sr-run`: upscale images and videos with an ONNX model."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Upscale images."""
    raise click.ClickException("sr-run is not implemented yet")
