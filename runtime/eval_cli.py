"""`sr-eval`: measure a model against bicubic on HR images."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Evaluate a model."""
    raise click.ClickException("sr-eval is not implemented yet")
