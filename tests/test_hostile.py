"""Hostile targets: a run against a server that misbehaves at the HTTP level ends by itself.

Each target is a small real server on loopback. Whatever it does (never answers, answers HTML
or a 500 with a traceback to everything, hangs up, floods, redirects elsewhere), the run must
end on its own within the profile's timeout, exit 1 (non-conformant) or 3 (aborted), say why
in one line on the terminal, and leave its report on disk; a redirect must never carry the
credentials to the other host. The subprocess timeout below only stops a hung run from
hanging the test session: the measured figures live in the notes, not in assertions.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from conformance.paths import fixtures_dir
from tests.conftest import run_cli
from tests.targets import Seen

TIMEOUT_S = 2
HUNG_RUN_S = 240  # far above any of these runs: reaching it means the run hung
TRACEBACK = (b'Traceback (most recent call last):\n  File "/srv/points/app.py", line 12, in '
             b"redeem\n    points = body['points']\nKeyError: 'points'\n")
FLOOD_BYTES = 50 * 1024 * 1024


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "hostile.yaml"
    reference = (fixtures_dir() / "profiles" / "reference.yaml").read_text()
    path.write_text(reference.replace("timeout_s: 10", f"timeout_s: {TIMEOUT_S}"))
    return path


def _run(url: str, profile, report_dir):
    result = run_cli("run", "--base-url", url, "--profile", str(profile), "--max-examples", "3",
                     "--seed", "1", "--report-dir", str(report_dir), timeout=HUNG_RUN_S)
    data = json.loads((report_dir / "results.json").read_text())
    assert (report_dir / "index.html").is_file()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result, data


def _aborted_line(result) -> str:
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("points-conformance: aborted: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def _why_line(result) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("why: ")]
    assert len(lines) == 1, result.stdout[-3000:]
    return lines[0]


def test_a_target_that_never_answers_aborts_after_the_timeout(stub, released, profile,
                                                             tmp_path):
    def never(seen: Seen, handler: BaseHTTPRequestHandler):
        released.wait(HUNG_RUN_S)
        return None

    result, data = _run(stub(never).url, profile, tmp_path)
    assert result.returncode == 3
    assert f"did not answer within {TIMEOUT_S} s" in _aborted_line(result)
    assert data["verdict"] == "aborted" and "did not answer" in data["aborted_reason"]


def test_a_target_that_stops_answering_after_the_preflight_aborts_soon(stub, released, profile,
                                                                       tmp_path):
    def polite_then_silent(seen: Seen, handler: BaseHTTPRequestHandler):
        if seen.path == "/":
            return 200, {"Content-Type": "text/plain"}, b"ok"
        released.wait(HUNG_RUN_S)
        return None

    result, data = _run(stub(polite_then_silent).url, profile, tmp_path)
    assert result.returncode == 3
    line = _aborted_line(result)
    assert "stopped answering" in line or "no usable answer" in line, line
    assert data["verdict"] == "aborted"


def test_a_target_that_hangs_up_aborts(stub, profile, tmp_path):
    target = stub(lambda seen, handler: None)  # reads the request, closes without a word
    result, data = _run(target.url, profile, tmp_path)
    assert result.returncode == 3
    assert "connection closed before a complete answer" in _aborted_line(result)
    assert data["verdict"] == "aborted"


def test_a_target_that_floods_aborts_without_reading_the_flood(stub, profile, tmp_path):
    def flood(seen: Seen, handler: BaseHTTPRequestHandler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(FLOOD_BYTES))
        handler.end_headers()
        chunk = b" " * (1024 * 1024)
        for _ in range(FLOOD_BYTES // len(chunk)):
            handler.wfile.write(chunk)  # the client hangs up: the write fails, quietly
        return None

    target = stub(flood)
    result, data = _run(target.url, profile, tmp_path)
    assert result.returncode == 3
    assert "over the 5 MB limit" in _aborted_line(result)
    assert data["verdict"] == "aborted"


def test_a_flood_on_api_paths_only_is_cut_at_the_cap_while_fuzzing(stub, profile, tmp_path):
    # The base URL, the hooks and the preflight's isredeemable for the profile's customers
    # answer politely; every other call floods: the body cap must hold for the fuzz phase
    # too, which sends through schemathesis's transport rather than our client.
    def flood_api(seen: Seen, handler: BaseHTTPRequestHandler):
        if seen.path == "/":
            return 200, {"Content-Type": "text/plain"}, b"ok"
        if seen.path.startswith("/_test/"):
            return 200, {"Content-Type": "application/json"}, b'{"balance": 0, "code": "1"}'
        if seen.path.startswith("/v1.1/points/isredeemable?mobile=4477009") and \
                "format=json" in seen.path:
            code = b"816" if "mobile=447700999999" in seen.path else b"800"
            return 200, {"Content-Type": "application/json"}, (
                b'{"response":{"points":{"redeemable":{"is_redeemable":true,'
                b'"item_status":{"code":' + code + b'}}}}}')
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()  # no Content-Length: only reading shows how much there is
        chunk = b" " * (1024 * 1024)
        for _ in range(FLOOD_BYTES // len(chunk)):
            handler.wfile.write(chunk)
        return None

    target = stub(flood_api)
    result, data = _run(target.url, profile, tmp_path)
    assert result.returncode == 3, result.stdout[-3000:]
    line = _aborted_line(result)
    assert "fuzzed calls in a row got no usable answer" in line and "5 MB limit" in line
    assert data["verdict"] == "aborted"
    # Everything finished before the abort is in the report: the scenarios ran first.
    assert any(r["status"] == "error" and "5 MB limit" in r["reason"]
               for r in data["requirements"])
    # A few engine errors per operation, not every one of them once per operation.
    assert len(data["notes"]) < 100


@pytest.mark.parametrize(("name", "answer", "broken"), [
    ("html", (200, {"Content-Type": "text/html"}, b"<html><body>Welcome</body></html>"),
     "CON-06"),
    ("traceback", (500, {"Content-Type": "text/plain"}, TRACEBACK), "CON-04"),
])
def test_a_target_answering_nonsense_is_non_conformant_with_the_reason(
        stub, profile, tmp_path, name, answer, broken):
    target = stub(lambda seen, handler: answer)
    result, data = _run(target.url, profile, tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert data["verdict"] == "non-conformant"
    statuses = {r["id"]: r["status"] for r in data["requirements"]}
    assert statuses[broken] == "failed", (result.stdout[-3000:], data["notes"][:10])
    assert _why_line(result).startswith("why: CON-")
    if name == "traceback":
        assert statuses["SEC-02"] == "failed"
    else:
        # No XML came back: CON-02 says why it could not be checked.
        con02 = next(r for r in data["requirements"] if r["id"] == "CON-02")
        assert con02["status"] == "skipped" and "no XML answer" in con02["reason"]


def test_a_redirect_to_another_host_is_never_followed(stub, profile, tmp_path):
    elsewhere = stub(lambda seen, handler: (200, {"Content-Type": "application/json"}, b"{}"))
    target = stub(lambda seen, handler: (302, {"Location": elsewhere.url + seen.path}, b""))
    result, data = _run(target.url, profile, tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert data["verdict"] == "non-conformant"
    _why_line(result)
    assert len(target.seen) > 100  # the run did go on against the target itself
    assert elsewhere.seen == [], "a request followed the redirect to the other host"
