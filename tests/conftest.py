"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.targets import Stub

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 300, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed command line as a user would (``python -m conformance``)."""
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def cli():
    return run_cli


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
