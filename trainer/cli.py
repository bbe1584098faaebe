"""`sr-train`: train a super-resolution generator."""

from __future__ import annotations

import click

from uprez.runtime.console import require_extra


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Train a super-resolution generator."""
    require_extra("sr-train", "train", "torch")
    raise click.ClickException("sr-train is not implemented yet")
