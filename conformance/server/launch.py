"""Starting and stopping the server: blocking ``serve`` and ``run_in_thread`` for tests."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from conformance.server.app import create_app
from conformance.server.auth import Authenticator
from conformance.server.clock import Clock
from conformance.server.ledger import Ledger
from conformance.server.rules import check_faults
from conformance.server.seed import SeedError, load_seed, populate
from conformance.server.state import ServerState
from conformance.server.switches import CONTRACT_NO_AUTH
from conformance.server.variants import check_variants

SeedData = Mapping[str, Any] | str | Path | None


class ServerConfigError(Exception):
    """The server cannot start: bad seed data, fault or variant name, unusable database or
    address."""


def _build(db: str | Path | None, seed_data: SeedData, faults: Iterable[str],
           variants: Iterable[str] = ()) -> tuple[ServerState, Path, Path | None]:
    try:
        seed = load_seed(seed_data)
        chosen = check_faults(faults)
        chosen_variants = check_variants(variants)
    except (SeedError, ValueError) as exc:
        raise ServerConfigError(str(exc)) from None
    scratch = None
    if db is None:
        scratch = Path(tempfile.mkdtemp(prefix="points-reference-"))
        path = scratch / "ledger.sqlite3"
    else:
        path = Path(db)
    clock = Clock()
    try:
        ledger = Ledger(str(path))
    except sqlite3.Error as exc:
        _remove(scratch)
        raise ServerConfigError(f"cannot open the database {path}: {exc}") from None
    try:
        populate(ledger, seed, clock.stamp())
    except sqlite3.Error as exc:
        ledger.close()
        _remove(scratch)
        raise ServerConfigError(f"cannot seed the database {path}: {exc}") from None
    auth = Authenticator(seed.credentials, seed.org_id, enforce=CONTRACT_NO_AUTH not in chosen)
    state = ServerState(ledger, seed, chosen, auth, clock, variants=chosen_variants)
    return state, path, scratch


def _prepare(host: str, port: int, db: str | Path | None, seed_data: SeedData,
             faults: Iterable[str], variants: Iterable[str] = ()
             ) -> tuple[ServerState, Path, Path | None, socket.socket]:
    """The seeded state and a listening socket, or a ServerConfigError with nothing left behind."""
    state, db_path, scratch = _build(db, seed_data, faults, variants)
    try:
        return state, db_path, scratch, _bind(host, port)
    except ServerConfigError:
        state.ledger.close()
        _remove(scratch)
        raise


def _remove(scratch: Path | None) -> None:
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding here (not in uvicorn) makes port 0 race-free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise ServerConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _base_url(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _server(app: Starlette, tls: Mapping[str, Any] | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_config=None,          # the server's own access line replaces uvicorn's logging
        log_level="warning",
        access_log=False,
        proxy_headers=False,      # the hooks trust the peer address; no header may change it
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        **(tls or {}),
    )
    return uvicorn.Server(config)


class RunningServer:
    """A server running in a background thread; ``stop()`` or leave the ``with`` block."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, app: Starlette,
                 base_url: str, db_path: Path, scratch: Path | None) -> None:
        self._server = server
        self._thread = thread
        self._scratch = scratch
        self.app = app
        self.base_url = base_url
        self.db_path = db_path

    @property
    def state(self) -> ServerState:
        return self.app.state.server

    def request_stop(self) -> None:
        """Ask the server to shut down and return at once; ``stop()`` then waits for it."""
        self._server.should_exit = True

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down and wait for it (uvicorn takes about 0.2 s)."""
        self.request_stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self.state.ledger.close()  # already closed by the lifespan unless startup failed
        _remove(self._scratch)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _NoMalformedRequestNotes(logging.Filter):
    """Drops uvicorn's note about a request it cannot parse (it answers 400 by itself).

    The fuzzer sends such requests on purpose; in a run's terminal the note is only noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Invalid HTTP request received."


_QUIET = _NoMalformedRequestNotes()


def run_in_thread(host: str = "127.0.0.1", port: int = 0, db: str | Path | None = None,
                  seed_data: SeedData = None, faults: Iterable[str] = (),
                  variants: Iterable[str] = (),
                  tls: Mapping[str, Any] | None = None) -> RunningServer:
    """Start the server in a daemon thread and return once it accepts connections.

    ``faults`` turns deliberate bugs on (rules.FAULTS); ``variants`` makes the other
    legitimate choice where the documents allow two (variants.VARIANTS). ``tls`` serves
    HTTPS: uvicorn's ``ssl_certfile``, ``ssl_keyfile``, ``ssl_ca_certs``, ``ssl_cert_reqs``.
    """
    logging.getLogger("uvicorn.error").addFilter(_QUIET)  # the same object: added once
    state, db_path, scratch, sock = _prepare(host, port, db, seed_data, faults, variants)
    app = create_app(state)
    server = _server(app, tls)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="points-reference-server")
    running = RunningServer(server, thread, app, _base_url(sock, "https" if tls else "http"),
                            db_path, scratch)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            running.stop(timeout=1)
            sock.close()
            raise ServerConfigError("the reference server did not start")
        time.sleep(0.002)
    return running


class _Terminated(Exception):
    pass


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


def serve(host: str = "127.0.0.1", port: int = 8080, db: str | Path | None = None,
          seed_data: SeedData = None, faults: Iterable[str] = (),
          variants: Iterable[str] = ()) -> None:
    """Run the server until Ctrl-C or SIGTERM, logging one line per request to stderr."""
    state, db_path, scratch, sock = _prepare(host, port, db, seed_data, faults, variants)
    logger = logging.getLogger("conformance.server")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    where = "a temporary database" if scratch else f"database {db_path}"
    print(f"points reference server on {_base_url(sock)} ({where}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal; turn that
    # re-raised SIGTERM into an exception here so that serve() returns instead of dying.
    in_main = threading.current_thread() is threading.main_thread()
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    server = _server(create_app(state))
    stopped_by_signal = False
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Terminated):
        stopped_by_signal = True
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous_term)
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        state.ledger.close()
        sock.close()
        _remove(scratch)
    if not server.started and not stopped_by_signal:
        raise ServerConfigError("the reference server did not start (see the log above)")
