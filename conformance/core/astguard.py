"""One thread at a time building an AST: a guard for a CPython bug the run's threads can hit.

CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two
threads building ASTs at once can fail with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905). A run parses source in several threads at once: pytest
reading a failing test's source for its report on the main thread, hypothesis describing
strategies in the fuzzing threads, anyio reading its own source when schemathesis first
imports it in a contract thread. When it struck, pytest stopped with an INTERNALERROR and the
rest of the run went unreported. ``install`` puts every AST build of the process behind a lock.

The lock is on ``compile`` with ``ast.PyCF_ONLY_AST``, not on ``ast.parse``: that is where the
AST is built, and anyio calls it directly, so a lock on ``ast.parse`` alone let it through.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import sys
import threading
from typing import Any

_lock = threading.RLock()
_original = builtins.compile
# The compiler flags of the __future__ imports: what compile() inherits from its caller.
_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag


def _compile(source: Any, filename: Any, mode: str, flags: int = 0, dont_inherit: bool = False,
             optimize: int = -1, **kwargs: Any) -> Any:
    if not dont_inherit:
        # compile() takes the __future__ imports of the frame calling it, which is now this
        # one: hand it the caller's instead, as the unwrapped compile would have taken them.
        flags |= sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
        dont_inherit = True
    if not flags & ast.PyCF_ONLY_AST:
        return _original(source, filename, mode, flags, dont_inherit, optimize, **kwargs)
    with _lock:
        return _original(source, filename, mode, flags, dont_inherit, optimize, **kwargs)


def install() -> None:
    """Serialize AST builds for the rest of the process (idempotent)."""
    builtins.compile = _compile
