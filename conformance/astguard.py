"""One thread at a time in ``ast.parse``: a guard for a CPython bug the run's threads can hit.

CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two
threads building ASTs at once can fail with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905). A run parses source in several threads at once: pytest
reading a failing test's source for its report on the main thread, hypothesis describing
strategies in the fuzzing threads. When it struck, pytest stopped with an INTERNALERROR and the
rest of the run went unreported. ``install`` wraps ``ast.parse`` in a lock for the process.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_lock = threading.RLock()
_original = ast.parse


def _parse(*args: Any, **kwargs: Any) -> ast.AST:
    with _lock:
        return _original(*args, **kwargs)


def install() -> None:
    """Serialize ast.parse for the rest of the process (idempotent)."""
    ast.parse = _parse
