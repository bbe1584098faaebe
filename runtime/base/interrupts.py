"""Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. If
that is inside a finaliser or a weakref callback, the exception is printed as "Exception
ignored" and swallowed, and the run would go on as if Ctrl-C had never been pressed. So the CLI
installs a handler that also records the request, and the long loops call `check()` between
batches to raise it again where it can be handled.

Two more things a long run needs: SIGTERM taken as Ctrl-C (`recorded(terminate=True)`), and
blocks that a Ctrl-C must not cut in two (`held()`), such as a training step whose optimiser
and EMA updates belong together.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()
_received = "Ctrl-C"  # what the last request was, for messages
_holding = 0  # depth of held() blocks
_held_one = False  # a request arrived inside the held block, to be raised when it ends


def _on_signal(signum, frame) -> None:
    global _received, _held_one
    _requested.set()
    _received = "SIGTERM" if signum == getattr(signal, "SIGTERM", None) else "Ctrl-C"
    if _holding and not _held_one:
        _held_one = True  # raised by held() when its block ends
        return
    raise KeyboardInterrupt


@contextmanager
def recorded(*, terminate: bool = False) -> Iterator[None]:
    """Record Ctrl-C for `check()` while the block runs (main thread only; else a no-op).

    With `terminate`, SIGTERM (what `kill`, cluster schedulers and service managers send) is
    taken as a Ctrl-C too, so a long job that is asked to stop can save its work first.
    """
    # off the main thread signals cannot be handled; an ignored signal (SIGINT of a background
    # job of a script) or a handler from C code is left as it is
    wanted = [signal.SIGINT] + ([signal.SIGTERM] if terminate else [])
    if threading.current_thread() is not threading.main_thread():
        wanted = []
    taken = [signum for signum in wanted
             if signal.getsignal(signum) not in (signal.SIG_IGN, None)]
    if not taken:
        yield
        return
    _requested.clear()
    previous = {signum: signal.signal(signum, _on_signal) for signum in taken}
    previous_hook = sys.unraisablehook

    def quiet_about_ctrl_c(unraisable) -> None:
        # "Exception ignored in ... KeyboardInterrupt" would read as a crash; check() reports it
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    sys.unraisablehook = quiet_about_ctrl_c
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        _requested.clear()


@contextmanager
def held() -> Iterator[None]:
    """Work that must be done whole or not at all (one training step's updates): a Ctrl-C that
    arrives inside the block is raised when the block has ended. A second one inside the block
    raises at once, a way out of a block that hangs; the work is then torn. Only under
    `recorded()`; elsewhere Ctrl-C raises where it lands, as usual."""
    global _holding, _held_one
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
        pending = _held_one and not _holding  # nested blocks: the outermost one raises
        if not _holding:
            _held_one = False
    if pending:
        raise KeyboardInterrupt


def requested() -> bool:
    return _requested.is_set()


def received() -> str:
    """"Ctrl-C" or "SIGTERM": what asked the run to stop."""
    return _received


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed, even if the first raise was swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt
