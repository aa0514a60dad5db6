"""Starting and stopping: run_in_thread for tests, serve() as the CLI runs it."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conformance.server import ServerConfigError, run_in_thread

from .support import AUTH, MOBILE, Api, repo_path

SPENDER = MOBILE["spender"]


def test_port_zero_picks_a_free_loopback_port() -> None:
    with run_in_thread() as first, run_in_thread() as second:
        assert first.base_url != second.base_url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first.base_url)
        assert Api(first.base_url).balance(mobile=SPENDER) == 20000
    with pytest.raises(requests.ConnectionError):
        requests.get(first.base_url + "/_test/balance", params={"mobile": SPENDER}, timeout=2)


def test_temporary_database_is_removed_on_stop() -> None:
    server = run_in_thread()
    assert server.db_path.exists()
    server.stop()
    assert not server.db_path.parent.exists()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = run_in_thread(host="::1")
    except ServerConfigError:
        pytest.skip("::1 is not available here")
    with server:
        assert server.base_url.startswith("http://[::1]:")
        assert Api(server.base_url).balance(mobile=SPENDER) == 20000  # hooks see loopback


def test_busy_port_is_a_clear_error() -> None:
    with run_in_thread() as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        with pytest.raises(ServerConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            run_in_thread(port=port)


def test_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "file.sqlite3"
    not_a_db.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(ServerConfigError, match="database"):
        run_in_thread(db=not_a_db)
    with pytest.raises(ServerConfigError, match="database"):
        run_in_thread(db=tmp_path / "missing-dir" / "x.sqlite3")


# --- serve(), in its own process as the CLI runs it -------------------------------------------

def _start_serve(db: Path) -> tuple[subprocess.Popen, str]:
    code = f"from conformance.server import serve; serve(port=0, db={str(db)!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=repo_path(),
                               env={**os.environ, "PYTHONPATH": str(repo_path())},
                               stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+) \(database ", first)
    assert match, first
    return process, match.group(1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_logs_requests_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    db = tmp_path / "served.sqlite3"
    process, base_url = _start_serve(db)
    try:
        api = Api(base_url)
        code = api.redeem_code(SPENDER)
        api.redeem({"mobile": SPENDER, "points_redeemed": 100, "validation_code": code})
        api.isredeemable(mobile=SPENDER, points=100, validation_code=code)
    finally:
        process.send_signal(stop_signal)
        _, rest = process.communicate(timeout=20)
    assert process.returncode == 0, rest
    lines = rest.splitlines()
    assert re.fullmatch(r"127\.0\.0\.1 GET /v1\.1/points/validationcode\?mobile=447700900001"
                        r"&points=100 200 \d+\.\dms", lines[0]), lines
    assert any(re.fullmatch(r"127\.0\.0\.1 POST /v1\.1/points/redeem 200 \d+\.\dms", line)
               for line in lines)
    basic = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    for secret in (basic, AUTH[1], code, "Authorization"):
        assert secret not in rest
    assert "Traceback" not in rest

    # The database keeps the redemption across a restart.
    process, base_url = _start_serve(db)
    try:
        assert Api(base_url).balance(mobile=SPENDER) == 20000 - 100
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0
