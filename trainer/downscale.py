"""`sr-downscale`: write an LR folder from an HR folder."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Write MATLAB-bicubic LR images for a folder of HR images."""
    raise click.ClickException("sr-downscale is not implemented yet")
