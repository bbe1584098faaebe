"""Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. If
that is inside a finaliser or a weakref callback, the exception is printed as "Exception
ignored" and swallowed, and the run would go on as if Ctrl-C had never been pressed. So the CLI
installs a handler that also records the request, and the long loops call `check()` between
batches to raise it again where it can be handled.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()


def _on_sigint(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextmanager
def recorded() -> Iterator[None]:
    """Record Ctrl-C for `check()` while the block runs (main thread only; else a no-op)."""
    # off the main thread signals cannot be handled; an ignored SIGINT (a background job of a
    # script) or a handler from C code is left as it is
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None)):
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGINT, _on_sigint)
    previous_hook = sys.unraisablehook

    def quiet_about_ctrl_c(unraisable) -> None:
        # "Exception ignored in ... KeyboardInterrupt" would read as a crash; check() reports it
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    sys.unraisablehook = quiet_about_ctrl_c
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
        _requested.clear()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed, even if the first raise was swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt
