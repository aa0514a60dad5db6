"""The preflight: a profile the target contradicts is the user's mistake, named before any test.

Each case is `points-conformance run` against a real reference server on loopback with one
thing wrong in an otherwise correct profile: exit 2, one line naming the profile key, no
traceback and no report directory left behind.
"""

from __future__ import annotations

import pytest

from conformance import server
from conformance.paths import fixtures_dir
from tests.conftest import run_cli

REFERENCE = (fixtures_dir() / "profiles" / "reference.yaml").read_text()


@pytest.fixture(scope="module")
def target():
    with server.run_in_thread() as running:
        yield running.base_url


def _run(target, tmp_path, profile_text: str):
    profile = tmp_path / "profile.yaml"
    profile.write_text(profile_text)
    report_dir = tmp_path / "report"
    result = run_cli("run", "--base-url", target, "--profile", str(profile),
                     "--report-dir", str(report_dir), timeout=120)
    return result, report_dir


def _error_line(result) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_wrong_password_is_a_configuration_error_not_the_apis_failure(target, tmp_path):
    text = REFERENCE.replace("${POINTS_API_PASSWORD:-reference-secret}", "not-the-password")
    result, report_dir = _run(target, tmp_path, text)
    line = _error_line(result)
    assert "auth: credentials refused" in line and "HTTP 401" in line
    assert "not-the-password" not in result.stdout + result.stderr
    assert not report_dir.exists()


def test_an_otp_command_that_does_not_exist_is_named(target, tmp_path):
    text = REFERENCE.replace("otp:\n  source: hook\n", "otp:\n  source: command\n"
                             "  command: \"./no-such-otp-tool {value}\"\n")
    text = "\n".join(line for line in text.splitlines()
                     if not line.startswith("  url: \"{base_url}/_test/otp"))
    result, report_dir = _run(target, tmp_path, text)
    assert _error_line(result).endswith("otp.command: ./no-such-otp-tool does not exist")
    assert not report_dir.exists()


def test_a_hook_url_that_does_not_answer_is_named(target, tmp_path):
    text = REFERENCE.replace("/_test/balance?", "/_test/no-such-hook?")
    result, _ = _run(target, tmp_path, text)
    assert "balance.url: " in _error_line(result)
    assert "HTTP 404: no such hook there" in result.stderr


def test_a_role_the_target_does_not_know_is_named(target, tmp_path):
    text = REFERENCE.replace('fraud:        {mobile: "447700900003"}',
                             'fraud:        {mobile: "447700900099"}')
    result, _ = _run(target, tmp_path, text)
    line = _error_line(result)
    assert "customers.fraud: the target has no customer mobile=447700900099" in line


def test_an_unknown_role_that_is_a_registered_customer_is_named(target, tmp_path):
    text = REFERENCE.replace('unknown:      {mobile: "447700999999"}',
                             'unknown:      {mobile: "447700900002"}')
    result, _ = _run(target, tmp_path, text)
    assert "customers.unknown: mobile=447700900002 is a registered customer" in \
        _error_line(result)
