"""Shared test helpers."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from conformance.run import selftest
from tests.targets import Stub

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 300, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the command line as a user would (``python -m conformance``), in a process of its
    own: forked from a server that imported the suite once (as the self-test starts its runs),
    which saves each run about a second of imports."""
    command = [sys.executable, "-m", "conformance", *args]
    with tempfile.TemporaryDirectory(prefix="pc-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        code = selftest.cli_in_process(list(args), cwd or REPO, out, err, timeout=timeout,
                                       env={**os.environ, **(env or {})})
        if code is None:
            raise subprocess.TimeoutExpired(command, timeout)
        return subprocess.CompletedProcess(command, code, out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))


@pytest.fixture
def cli():
    return run_cli


DEFAULT_RUN = ("run", "--max-examples", "5", "--seed", "7")


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The README's main command (no URL: the embedded reference server), run once for the
    whole session in a folder of its own: its folder and what it printed. Under pytest-xdist
    the first worker to ask runs it and the others wait for it and read the same outcome."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cwd, outcome = shared / "default-run", shared / "default-run.json"
    with _exclusive(shared / "default-run.lock"):
        if not outcome.is_file():
            cwd.mkdir()
            done = run_cli(*DEFAULT_RUN, cwd=cwd)
            outcome.write_text(json.dumps([done.returncode, done.stdout, done.stderr]))
    code, stdout, stderr = json.loads(outcome.read_text())
    return cwd, subprocess.CompletedProcess(DEFAULT_RUN, code, stdout, stderr)


@contextlib.contextmanager
def _exclusive(path: Path):
    """Hold an exclusive lock on ``path`` (created if need be) while the block runs."""
    import fcntl  # POSIX: the test suite runs where the product's CI does

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def stub():
    """Start scriptable loopback servers; all stop after the test."""
    servers: list[Stub] = []

    def start(reply, host: str = "127.0.0.1") -> Stub:
        servers.append(Stub(reply, host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def released(stub):
    """An event a silent target waits on; set after the test, before its stub is closed."""
    event = threading.Event()
    yield event
    event.set()


# The test modules that start whole runs, heaviest first. pytest-xdist (--dist loadfile
# --no-loadscope-reorder; by default it puts the modules with most tests first) hands out
# modules in collection order: starting the long ones first keeps one of them from being the
# last thing CI waits for, alone on one core. test_package comes after test_run, whose first
# tests make the session's default run that test_package waits for.
HEAVY_FIRST = ("test_faults.py", "test_run.py", "test_connection.py", "test_replay.py",
               "test_hostile.py", "test_shard.py", "test_fuzz.py", "test_terminal.py",
               "test_linkwalk.py", "test_package.py")


def pytest_collection_modifyitems(items) -> None:
    def weight(item) -> int:
        name = item.path.name
        return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=weight)  # stable: the order within a module stays as written


def pytest_terminal_summary(terminalreporter) -> None:
    """The self-test's score line (tests/test_faults.py), under pytest-xdist too."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == "selftest" and getattr(report, "when", "call") == "call":
                    terminalreporter.write_line(value)
