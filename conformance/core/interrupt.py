"""Remember that the user asked the run to stop, even where a library swallows the interrupt.

The schemathesis engine catches KeyboardInterrupt to end its own run and, at some moments,
says nothing about it; the suite checks this flag to stop as a whole.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def requested() -> bool:
    return _requested.is_set()


def raise_if_requested() -> None:
    if _requested.is_set():
        raise KeyboardInterrupt


def note() -> None:
    """Remember a stop request that came as a KeyboardInterrupt by another way."""
    _requested.set()


def _handler(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> dict:
    """Route SIGINT and SIGTERM here; returns the previous handlers for ``restore``."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    _requested.clear()
    return {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
