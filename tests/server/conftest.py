"""Fixtures of the reference-server tests: a fresh server on a free loopback port per test."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.server import RunningServer, run_in_thread

from .support import SEED, Api


def seed_with(**program: Any) -> dict:
    """The reference seed data with some program settings changed."""
    data = copy.deepcopy(SEED)
    data["program"].update(program)
    return data


@pytest.fixture(scope="session")
def _stopping() -> Iterator[list[RunningServer]]:
    # uvicorn needs ~0.2 s to stop; servers of finished tests stop side by side, not in turn.
    servers: list[RunningServer] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def start(_stopping: list[RunningServer]) -> Iterator[Callable[..., RunningServer]]:
    """Start servers (run_in_thread arguments); each is stopped, and checked, after the test."""
    running: list[RunningServer] = []

    def _start(**kwargs: Any) -> RunningServer:
        server = run_in_thread(**kwargs)
        running.append(server)
        return server

    yield _start
    for server in running:
        server.request_stop()
        _stopping.append(server)
        # Routes answer their own errors; the last-resort 500 handler must never run.
        assert server.state.internal_errors == 0


@pytest.fixture
def server(start: Callable[..., RunningServer]) -> RunningServer:
    return start()


@pytest.fixture
def api(server: RunningServer) -> Api:
    return Api(server.base_url)


@pytest.fixture(scope="module")
def shared_api() -> Iterator[Api]:
    """One server for a module whose tests change no balance (refusals, 400s, 401s)."""
    server = run_in_thread()
    try:
        yield Api(server.base_url)
    finally:
        server.stop()
        assert server.state.internal_errors == 0
