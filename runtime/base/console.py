"""The one place through which uprez talks to the user.

Messages go to stderr so that stdout stays clean for data (`--json`, tables). Progress bars are
tqdm bars on stderr, switched off when stderr is not a terminal unless asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def _echo(message: str) -> None:
    """Print to stderr without tearing a progress bar that is being drawn there."""
    # a bar exists only if tqdm was imported; while another thread is still importing it, the
    # module is there without its class yet (and no bar is drawn)
    tqdm_class = getattr(sys.modules.get("tqdm"), "tqdm", None)
    if tqdm_class is None:
        click.echo(message, err=True)
        return
    with tqdm_class.external_write_mode(file=sys.stderr):
        click.echo(message, err=True)


def info(message: str) -> None:
    if not _quiet:
        _echo(message)


def warn(message: str) -> None:
    _echo(click.style("warning: ", fg="yellow") + message)


def error(message: str) -> None:
    _echo(click.style("error: ", fg="red") + message)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (or its type), for one-line reports."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def result(message: str) -> None:
    """Data meant for stdout: tables, JSON, summaries that scripts read."""
    click.echo(message)


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
             unit: str = "it", leave: bool = True, position: int | None = None):
    """A tqdm progress bar on stderr; silent in quiet mode."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, position=position,
                file=sys.stderr, disable=_quiet or None, dynamic_ncols=True)


def require_extra(command: str, extra: str, *modules: str) -> None:
    """Raise a ClickException with an install hint when an optional dependency is missing."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise click.ClickException(
                f"{command} needs {module}, which is not installed ({exc}).\n"
                f'Install it with:  pip install "uprez[{extra}]"'
            ) from None
