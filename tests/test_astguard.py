"""astguard: every AST build of the process waits for the one lock (cpython#106905)."""

from __future__ import annotations

import ast
import builtins
import threading

import pytest

from conformance.core import astguard


@pytest.fixture
def guarded(monkeypatch):
    # install() is for the run's process: here the real compile comes back after the test.
    monkeypatch.setattr(builtins, "compile", astguard._compile)


def test_a_direct_compile_to_an_ast_waits_for_the_lock(guarded):
    # anyio builds its lazy-import map with compile(..., PyCF_ONLY_AST), not ast.parse: a
    # guard on ast.parse alone let it race pytest's traceback formatting on the main thread.
    built = threading.Event()

    def build() -> None:
        compile("x = 1", "source", "exec", ast.PyCF_ONLY_AST)
        built.set()

    with astguard._lock:
        thread = threading.Thread(target=build)
        thread.start()
        assert not built.wait(0.3)
    thread.join(5)
    assert built.is_set()


def test_compile_keeps_the_callers_future_imports(guarded):
    # The wrapper is the frame calling the real compile: the caller's futures must still count.
    source = "def f(x: not_defined): pass\n"
    with pytest.raises(NameError):
        exec(compile(source, "source", "exec", dont_inherit=True))
    exec(compile(source, "source", "exec"))  # this module's `annotations`: left unevaluated
    scope: dict = {}
    exec(builtins.compile("def g(s):\n    return compile(s, 's', 'exec')\n", "m", "exec",
                          dont_inherit=True), scope)
    with pytest.raises(NameError):  # a caller without the future import gets none
        exec(scope["g"](source))
