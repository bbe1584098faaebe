"""The one place through which uprez talks to the user.

Messages go to stderr so that stdout stays clean for data (`--json`, tables). Progress bars are
tqdm bars on stderr, switched off when stderr is not a terminal unless asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

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


# The PyTorch uprez is tested with, and where its CPU-only build is: on Linux a plain
# `pip install torch` pulls the CUDA build, about 5 GB, which a CPU machine cannot use.
TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def require_extra(command: str, extra: str, *modules: str) -> None:
    """Raise a ClickException with an install hint when an optional dependency is missing."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise click.ClickException(
                f"{command} needs {module}, which is not installed ({exc}).\n"
                + install_hint(extra, torch=module == "torch")) from None


def install_hint(extra: str, *, torch: bool, package_dir: Path | None = None) -> str:
    """The commands that install an extra from where uprez is: from a checkout (an editable
    install or a source tree) `pip install -e CHECKOUT[extra]`, else from the package index.
    With `torch`, the CPU-only PyTorch first, so that pip does not pull the CUDA build."""
    checkout = _checkout_of(package_dir or Path(__file__).resolve().parents[1])
    if checkout is None:
        install = f'pip install "uprez[{extra}]"'
        where = "Install it with:"
    else:
        here = "." if checkout == Path.cwd().resolve() else str(checkout)
        install = f'pip install -e "{here}[{extra}]"'
        where = f"Install it from this checkout ({checkout}):"
    if not torch:
        return f"{where}  {install}"
    return (f"{where}\n"
            f"  pip install torch=={TORCH_VERSION} --index-url {TORCH_CPU_INDEX}\n"
            f"  {install}\n"
            "The first line installs PyTorch's CPU-only build (about 200 MB); without it pip "
            "installs the CUDA build on Linux (about 5 GB). On a machine with an NVIDIA GPU, "
            "leave it out.")


def _checkout_of(package_dir: Path) -> Path | None:
    """The source tree around `package_dir` (uprez's runtime/, export/ and trainer/ sit in the
    repository root beside pyproject.toml), or None for an installed package."""
    root = package_dir.parent
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "uprez"' in project else None
