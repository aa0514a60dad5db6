"""What `points-conformance run` prints, and what it leaves on disk: the terminal of a failing
run (short, in the suite's terms), --verbose, report file modes, usage errors leaving nothing."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import warnings

import pytest

from conformance import server
from conformance.paths import fixtures_dir
from conformance.report import writer
from conformance.run import runner
from conformance.suite.progress import QUIET_S, Progress
from tests.conftest import REPO

REFERENCE_PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
QUICK = ("--max-examples", "5", "--seed", "7")
REPORT_FILES = {"index.html", "results.json", "junit.xml", "coverage.json", "exchanges.ndjson",
                "pytest-report.html"}


def _run(*args: str, cwd=REPO, umask: int = 0o022) -> subprocess.CompletedProcess:
    """`points-conformance run ...` as a user starts it, output piped as in CI."""
    return subprocess.run([sys.executable, "-m", "conformance", "run", *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd, umask=umask)


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    """A full run against a server with a business fault and a contract fault, under a
    umask that would make every file owner-only."""
    report = tmp_path_factory.mktemp("failing") / "report"
    with server.run_in_thread(faults=("redeem.multiple", "contract.renamed-field")) as target:
        done = _run("--base-url", target.base_url, "--profile", str(REFERENCE_PROFILE),
                    "--report-dir", str(report), *QUICK, umask=0o077)
    return done, report


def test_a_failing_run_prints_a_short_summary_in_the_suite_s_terms(failing_run):
    done, report = failing_run
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    lines = output.splitlines()
    assert len(lines) < 40, output
    for unwanted in ("Traceback", "site-packages", "Warning", "short test summary"):
        assert unwanted not in output, output
    # pytest's own lines: "FAILED suite/test_x.py::...", "20 failed, 37 passed in 54.39s"
    assert not re.search(r"^(FAILED|ERROR) |^=* ?\d+ (passed|failed)\b.* in \d", output, re.M)
    assert re.search(r"^verdict: non-conformant  \(MUST: \d+ passed, \d+ failed", output, re.M)
    assert re.search(r"^why: \S+ failed: ", output, re.M)
    assert lines[-1] == f"report: {report / 'index.html'}"


def test_each_failed_requirement_has_its_line_and_no_other_does(failing_run):
    done, report = failing_run
    rows = json.loads((report / "results.json").read_text())["requirements"]
    failed = {r["id"]: r["level"] for r in rows if r["status"] == "failed"}
    assert "RDM-03" in failed and "CON-01" in failed  # both faults were noticed
    named = dict(re.findall(r"^FAIL (\S+) (MUST|SHOULD) \S", done.stdout, re.M))
    assert named == failed
    rdm03 = next(line for line in done.stdout.splitlines() if line.startswith("FAIL RDM-03 "))
    assert "807" in rdm03 and "::" not in rdm03  # the reason, without the test's node id
    assert all(len(line) <= 200 for line in done.stdout.splitlines() if line.startswith("FAIL"))


def test_report_files_are_world_readable_whatever_the_umask(failing_run):
    _, report = failing_run
    names = {path.name for path in report.iterdir()}
    assert REPORT_FILES <= names
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in report.iterdir()}
    assert modes == dict.fromkeys(names, 0o644)
    assert stat.S_IMODE(report.stat().st_mode) == 0o755


def test_verbose_shows_pytest_s_own_output_too(tmp_path):
    with server.run_in_thread(faults=("redeem.multiple",)) as target:
        done = _run("--base-url", target.base_url, "--profile", str(REFERENCE_PROFILE),
                    "--suite", "scenarios", "--only", "RDM-03", "--report-dir",
                    str(tmp_path / "r"), "--verbose", *QUICK)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"^FAILED \S*test_redemption\.py::", done.stdout, re.M), done.stdout
    assert re.search(r"\b1 failed\b", done.stdout)
    assert re.search(r"^FAIL RDM-03 MUST ", done.stdout, re.M)  # the suite's lines still follow


def test_an_aborted_run_s_reports_are_world_readable(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens there
    report = tmp_path / "r"
    done = _run("--base-url", f"http://127.0.0.1:{port}", "--profile", str(REFERENCE_PROFILE),
                "--report-dir", str(report), umask=0o077)
    assert done.returncode == 3, done.stdout + done.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in report.iterdir()}
    assert {"results.json", "index.html"} <= modes.keys()
    assert set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE(report.stat().st_mode) == 0o755


# --- usage errors leave nothing behind --------------------------------------------------------

def test_a_bad_profile_leaves_no_reports_folder_behind(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(REFERENCE_PROFILE.read_text().replace("points_multiple: 10",
                                                         'points_multiple: "ten"'))
    work = tmp_path / "work"
    work.mkdir()
    done = _run("--base-url", "http://127.0.0.1:9", "--profile", str(bad), cwd=work)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "program.points_multiple" in done.stderr
    assert list(work.iterdir()) == []  # neither reports/<timestamp> nor reports/latest


def test_a_profile_the_preflight_refuses_leaves_no_report_dir_behind(tmp_path):
    wrong = tmp_path / "wrong.yaml"
    # "unknown" must not resolve on the target; this profile names a registered customer.
    wrong.write_text(REFERENCE_PROFILE.read_text().replace('"447700999999"', '"447700900001"'))
    with server.run_in_thread() as target:
        done = _run("--base-url", target.base_url, "--profile", str(wrong),
                    "--report-dir", str(tmp_path / "a" / "b"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()


def test_a_report_dir_that_cannot_be_made_is_a_usage_error_naming_the_flag(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    done = _run("--report-dir", str(tmp_path / "file" / "r"), "--suite", "scenarios",
                "--only", "RDM-01")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("points-conformance: error: --report-dir ")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# --- the progress display ---------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _finish_tests(progress: Progress, outcomes: list[str]) -> None:
    for n, outcome in enumerate(outcomes):
        progress.report(f"t{n}", "setup", "passed")
        progress.report(f"t{n}", "call", outcome)
        progress.report(f"t{n}", "teardown", "passed")


def test_off_a_terminal_progress_is_a_line_a_quarter_and_news_at_most_every_30_s():
    out, clock = io.StringIO(), _Clock()
    progress = Progress(out, tty=False, clock=clock)
    progress.note("target http://127.0.0.1:1", always=True)
    progress.start(8)
    _finish_tests(progress, ["passed", "failed"])
    progress.note("coverage phase, GET /x: 5 cases so far, 0 failures")
    progress.note("coverage phase, GET /x: 9 cases so far, 0 failures")  # too soon: dropped
    clock.now += QUIET_S
    progress.note("coverage phase, GET /x: 12 cases so far, 1 failures")
    _finish_tests(progress, ["skipped"] * 6)
    progress.finish()
    assert out.getvalue().splitlines() == [
        "[points-conformance] target http://127.0.0.1:1",
        "[points-conformance] 2/8 tests done (1 failed)",
        "[points-conformance] 2/8 tests done (1 failed); coverage phase, GET /x: 5 cases so far, "
        "0 failures",
        "[points-conformance] 2/8 tests done (1 failed); coverage phase, GET /x: 12 cases so "
        "far, 1 failures",
        "[points-conformance] 4/8 tests done (1 failed, 2 skipped)",
        "[points-conformance] 6/8 tests done (1 failed, 4 skipped)",
        "[points-conformance] 8/8 tests done (1 failed, 6 skipped)",
    ]


def test_a_setup_or_teardown_failure_counts_as_an_error():
    out = io.StringIO()
    progress = Progress(out, tty=False, clock=_Clock())
    progress.start(2)
    progress.report("a", "setup", "failed")
    progress.report("a", "teardown", "passed")
    progress.report("b", "setup", "passed")
    progress.report("b", "call", "failed")
    progress.report("b", "teardown", "failed")
    assert out.getvalue().splitlines()[-1] == "[points-conformance] 2/2 tests done (2 error)"


def test_on_a_terminal_progress_is_one_line_redrawn_in_place():
    out, clock = io.StringIO(), _Clock()
    progress = Progress(out, tty=True, clock=clock)
    progress.start(3)
    _finish_tests(progress, ["passed", "failed"])
    progress.note("undoing the run's redemptions", always=True)
    _finish_tests(progress, ["passed"])
    progress.finish()
    text = out.getvalue()
    assert text.count("\n") == 2  # the permanent note and the end of the status line
    assert "\r[points-conformance] 2/3 tests done (1 failed)\x1b[K" in text
    assert "[points-conformance] undoing the run's redemptions\n" in text
    assert text.endswith("\x1b[K\n")
    assert re.search(r"\r[^\r]*3/3 tests done[^\r]*\n$", text)


def test_progress_written_to_a_file_is_plain(tmp_path):
    with open(tmp_path / "ci.log", "w") as log:
        assert Progress(log).tty is False


def test_library_warnings_from_any_thread_are_dropped_unless_verbose():
    def warn_in_a_thread(text: str) -> None:
        thread = threading.Thread(target=warnings.warn, args=(text, UserWarning))
        thread.start()
        thread.join()

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with runner._warnings_kept_off(verbose=False):
            warn_in_a_thread("dropped")
        with runner._warnings_kept_off(verbose=True):
            warn_in_a_thread("shown")
    assert [str(w.message) for w in seen] == ["shown"]


def _result(rows, aborted_reason=None):
    from conformance.report.results import RequirementResult, RunResult

    return RunResult(suite_version="0", spec_version="1", target="http://127.0.0.1:1",
                     strict=False, started_at="2026-01-01T00:00:00Z", duration_s=1.0,
                     aborted_reason=aborted_reason,
                     requirements=[RequirementResult(*row[:4], reason=row[4],
                                                     known=row[5] if len(row) > 5 else False)
                                   for row in rows])


def test_summary_names_failures_and_unverified_musts_in_one_line_each(tmp_path):
    long = "expected: 807\nreceived: " + "800 " * 100
    result = _result([
        ("RDM-03", "MUST", "failed", "t", f"test_redemption.py::test_multiple[xml]: {long}"),
        ("RDM-04", "MUST", "failed", "t", "a known one", True),  # the baseline excuses it
        ("TRF-11", "SHOULD", "failed", "t", "isTransferrable 51 answered 800"),
        ("OTP-05", "MUST", "skipped", "t", "the profile configures no OTP source (otp)"),
        ("OTP-06", "MUST", "error", "t", "test_otp.py::test_x: HookError: exit 1"),
        ("OTP-07", "SHOULD", "skipped", "t", "no hook"),
        ("RDM-01", "MUST", "passed", "t", ""),
    ])
    lines = runner.summary_lines(result, tmp_path)
    assert lines[:4] == [
        "FAIL RDM-03 MUST " + runner._one_line(long, 140),
        "FAIL TRF-11 SHOULD isTransferrable 51 answered 800",
        "UNVERIFIED OTP-05 MUST skipped: the profile configures no OTP source (otp)",
        "UNVERIFIED OTP-06 MUST error: HookError: exit 1",
    ]
    assert len(lines[0]) < 170 and lines[0].endswith("...")
    assert lines[4].startswith("verdict: non-conformant  (MUST: 1 passed, 2 failed, 1 errors")
    # the why line is the report's, without the test's label
    assert lines[5] == "why: " + writer.why_line(result)
    assert lines[5].startswith("why: RDM-03 failed: expected: 807 received: 800 800")
    assert lines[-1] == f"report: {tmp_path / 'index.html'}"


def test_an_aborted_run_lists_its_failures_but_not_what_it_never_reached(tmp_path):
    result = _result([("RDM-03", "MUST", "failed", "t", "800; 807 expected"),
                      ("OTP-05", "MUST", "skipped", "t", "not run: interrupted")],
                     aborted_reason="interrupted")
    lines = runner.summary_lines(result, tmp_path)
    assert lines[0] == "FAIL RDM-03 MUST 800; 807 expected"
    assert not any(line.startswith("UNVERIFIED") for line in lines)


def test_a_session_pytest_cannot_start_shows_pytest_s_own_words(tmp_path):
    env = {**os.environ, "PYTEST_ADDOPTS": "--no-such-pytest-flag"}
    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--suite", "scenarios",
                           "--only", "RDM-01", "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "unrecognized arguments: --no-such-pytest-flag" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1] == (
        "points-conformance: aborted: the run could not finish (pytest exit 4); see pytest's "
        "output above")
