"""The run's report folder: results.json, the self-contained index.html, and reports/latest."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conformance.report import writer
from conformance.report.baseline import Baseline
from conformance.report.collector import Collector, note
from conformance.report.results import RunResult, schema_errors
from conformance.specs import catalog
from conformance.target.exchange import Exchange
from conformance.target.redaction import REDACTOR

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SCRIPT_BODY = '{"message": "<script>alert(document.cookie)</script>", "code": 500}'


def build(collector: Collector, **kwargs) -> RunResult:
    options = {"target": "http://127.0.0.1:8080", "started_at": START,
               "finished_at": START + timedelta(seconds=42), "suite_version": "0.1.0",
               "spec_version": "2025.03", "strict": False}
    return collector.build(**{**options, **kwargs})


def failing_exchange(**overrides) -> Exchange:
    fields = {"method": "POST",
              "url": "http://127.0.0.1:8080/v1.1/points/redeem?format=json",
              "request_headers": {"Content-Type": "application/json",
                                  "X-CAP-API-AUTH-ORG-ID": "100458"},
              "request_body": '{"root": {"redeem": [{"points_redeemed": 100}]}}',
              "status": 500, "response_headers": {"Content-Type": "application/json"},
              "response_body": SCRIPT_BODY, "elapsed_ms": 31.7, "note": "redeem 100 points"}
    return Exchange(**{**fields, **overrides})


def sample_result(**kwargs) -> RunResult:
    collector = Collector()
    collector.record("RDM-01", "passed")
    collector.record("RDM-02", "failed", reason="expected item_status 800, received 807",
                     evidence=[note("balance before 5000, after 4900"), failing_exchange()],
                     source="tests/scenarios/test_redeem.py::test_valid_redeem")
    collector.record("REV-02", "failed", reason="second reversal accepted")
    collector.record("OTP-05", "skipped", reason="no clock hook; --max-wait 0")
    collector.record("SEC-01", "failed", reason="Authorization echoed")
    collector.fuzz_cases("POST /v1.1/points/redeem", 30)
    collector.fuzz_cases("GET /v2/points/transfer", 12)
    collector.fuzz_failure("CON-04", operation="POST /v1.1/points/redeem",
                           check="not_a_server_error", message="Received 500",
                           exchange=failing_exchange(request_body='{"points_redeemed": -1}'))
    collector.undone("redemption r0njPT (100 points, 447700900001): reversal refused with 812")
    collector.note("target answers business refusals with HTTP 200")
    return build(collector, **kwargs)


@pytest.fixture
def written(tmp_path) -> tuple[RunResult, dict[str, Path]]:
    result = sample_result(baseline=Baseline({"REV-02": "vendor ticket PTS-4"}))
    return result, writer.write_reports(result, tmp_path / "run", pytest_html="pytest.html")


def page(paths: dict[str, Path]) -> str:
    return paths["index.html"].read_text(encoding="utf-8")


def test_the_report_folder_holds_results_json_junit_and_index_html(written):
    result, paths = written
    assert set(paths) == {"results.json", "index.html", "coverage.json", "junit.xml"}
    data = json.loads(paths["results.json"].read_text(encoding="utf-8"))
    assert data == result.to_json()
    assert schema_errors(data) == []


@pytest.mark.parametrize(("kwargs", "banner", "detail"), [
    ({}, "Non-conformant", "3 MUST requirements failed"),
    ({"aborted_reason": "target unreachable: connection refused"}, "Aborted",
     "connection refused"),
])
def test_the_page_opens_with_the_verdict(tmp_path, kwargs, banner, detail):
    text = page(writer.write_reports(sample_result(**kwargs), tmp_path))
    verdict = re.search(r'<div class="banner [^"]+" id="verdict">(.*?)</div>', text, re.S)
    assert verdict and banner in verdict.group(1) and detail in verdict.group(1)


def test_a_conformant_run_says_so(tmp_path):
    collector = Collector()
    for req in catalog.requirements():
        collector.record(req.id, "failed" if req.id == "RDM-11" else "passed")
    text = page(writer.write_reports(build(collector), tmp_path))
    assert '<div class="banner conformant"' in text
    assert "1 SHOULD advisory" in text


def test_an_incomplete_run_names_each_unverified_must_and_why(tmp_path):
    collector = Collector()
    for req in catalog.requirements():
        if req.id != "RDM-06":
            collector.record(req.id, "passed")
    collector.record("RDM-06", "skipped", reason="no balance hook in the profile (balance_url)")
    text = page(writer.write_reports(build(collector), tmp_path))
    assert '<div class="banner incomplete"' in text
    assert "<code>RDM-06</code> skipped: no balance hook in the profile (balance_url)" in text


def test_the_page_states_target_versions_mode_time_and_summary(written):
    _, paths = written
    text = page(paths)
    for fact in ("http://127.0.0.1:8080", "0.1.0", "2025.03", "lenient", "2025-03-01T09:30:00Z",
                 "42.0 s"):
        assert fact in text
    summary = re.search(r'<table id="summary".*?</table>', text, re.S).group(0)
    assert re.search(r"<th>MUST</th><td class=\"num\">1</td><td class=\"num\">3</td>", summary)


def test_the_matrix_has_every_requirement_with_its_seed_reference(written):
    _, paths = written
    text = page(paths)
    for req in catalog.requirements():
        assert text.count(f'<tr id="req-{req.id}"') == 1
    row = re.search(r'<tr id="req-RDM-02".*?</tr>', text, re.S).group(0)
    assert 'data-status="failed"' in row and "001_c5227fd0f7edc4bf.txt#Redeem Points" in row
    assert "expected item_status 800, received 807" in row


def test_known_failures_and_a_stale_baseline_are_shown(tmp_path):
    collector = Collector()
    collector.record("REV-02", "failed")
    collector.record("RDM-01", "passed")
    result = build(collector, baseline=Baseline({"REV-02": "ticket PTS-4", "RDM-01": "old"}))
    text = page(writer.write_reports(result, tmp_path))
    row = re.search(r'<tr id="req-REV-02".*?</tr>', text, re.S).group(0)
    assert "known" in row and "known failure" in row and "PTS-4" in row
    assert "passed in this run" in text and "<code>RDM-01</code></p>" in text


def test_a_failure_shows_its_evidence_and_a_curl_line_to_reproduce(written):
    result, paths = written
    text = html.unescape(page(paths))
    section = text[text.index('id="fail-RDM-02"'):]
    section = section[:section.index("</section>")]
    assert "balance before 5000, after 4900" in section
    assert "POST http://127.0.0.1:8080/v1.1/points/redeem?format=json" in section
    assert "HTTP 500" in section and "32 ms" in section
    assert failing_exchange().curl() in section
    assert result.requirement("RDM-02").evidence[1]["curl"] == failing_exchange().curl()


def test_fuzz_coverage_and_fuzz_failures_are_listed(written):
    _, paths = written
    text = html.unescape(page(paths))
    coverage = text[text.index('id="coverage"'):text.index('id="fuzz-failures"')]
    assert "2 operations fuzzed, 42 test cases, 1 distinct failure" in coverage
    assert re.search(r"POST /v1.1/points/redeem</code></td><td class=\"num\">30</td>"
                     r"<td class=\"num\">1</td>", coverage)
    fuzz = text[text.index('id="fuzz-CON-04"'):]
    assert "not_a_server_error" in fuzz and "Received 500" in fuzz
    assert failing_exchange(request_body='{"points_redeemed": -1}').curl() in fuzz


def test_response_bodies_are_escaped_never_markup(written):
    _, paths = written
    text = page(paths)
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in text
    assert text.count("<script") == 1  # the page's own filter script, nothing from the target


def test_long_bodies_are_collapsed_and_short_ones_shown(tmp_path):
    collector = Collector()
    long_body = json.dumps({"history": [{"transferId": f"t{n}", "points": n} for n in range(80)]})
    # The last call is the one shown open as the likely culprit; the others are collapsed.
    collector.record("TRF-07", "failed", evidence=[failing_exchange(response_body=long_body),
                                                   failing_exchange()])
    text = page(writer.write_reports(build(collector), tmp_path))
    assert re.search(r"<details><summary>response body \(\d+ characters\)</summary>", text)
    assert '<div class="muted">request body</div><pre>' in text


def test_the_page_is_self_contained(written):
    _, paths = written
    text = page(paths)
    links = re.findall(r'(?:src|href|action)="([^"]*)"', text)
    assert links and all(not re.match(r"[a-z]+:|//", link) for link in links), links
    assert "<link" not in text and "@import" not in text and "url(" not in text
    csp = re.search(r"script-src '(sha256-[^']+)'", text).group(1)
    script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert csp == f"sha256-{digest}"  # the browser runs our script and nothing else


def test_the_page_links_junit_results_and_pytest_html(written, tmp_path):
    _, paths = written
    text = page(paths)
    assert 'href="junit.xml"' in text and 'href="results.json"' in text
    assert 'href="pytest.html"' in text
    assert "pytest-html" not in page(writer.write_reports(sample_result(), tmp_path / "plain"))


def test_what_could_not_be_undone_notes_and_self_test_placeholder(written):
    _, paths = written
    text = page(paths)
    assert "What the run could not undo" in text and "reversal refused with 812" in text
    assert "target answers business refusals with HTTP 200" in text
    assert "Suite self-test" in text and "No self-test recorded for this version." in text


def test_the_self_test_result_is_shown_when_recorded(tmp_path):
    selftest = {"caught": 11, "total": 12, "false_failures": 0, "version": "0.1.0"}
    text = page(writer.write_reports(sample_result(selftest=selftest), tmp_path))
    assert "11 of 12" in text and "0 false failures" in text
    assert "No self-test recorded" not in text


def test_a_report_re_rendered_from_results_json_is_identical(written, tmp_path):
    _, paths = written
    data = json.loads(paths["results.json"].read_text(encoding="utf-8"))
    again = writer.write_reports(RunResult.from_json(data), tmp_path / "again",
                                 pytest_html="pytest.html")
    assert page(again) == page(paths)


def test_no_registered_secret_reaches_any_written_file(tmp_path):
    REDACTOR.add("s3cret-pass", username="alice")
    md5 = hashlib.md5(b"s3cret-pass").hexdigest()
    tokens = [base64.b64encode(f"alice:{p}".encode()).decode() for p in ("s3cret-pass", md5)]
    leaky = failing_exchange(
        url=f"http://127.0.0.1:8080/v1.1/points/redeem?password={md5}",
        request_headers={"Authorization": f"Basic {tokens[1]}", "X-Debug": "s3cret-pass"},
        request_body='{"password": "s3cret-pass"}',
        response_body=f'{{"echo": "Basic {tokens[0]}", "trace": "<script>{md5}</script>"}}')
    collector = Collector()
    collector.record("SEC-01", "failed", reason="response echoed s3cret-pass",
                     evidence=[leaky, note(f"Authorization was Basic {tokens[1]}")])
    collector.fuzz_failure("CON-07", operation="POST /v1.1/points/redeem", check="auth",
                           message=f"accepted md5 {md5}", exchange=leaky.to_dict())
    collector.note(f"profile password s3cret-pass, md5 {md5}")
    collector.undone(f"reversal with token {tokens[0]}")
    paths = writer.write_reports(build(collector), tmp_path)
    for path in paths.values():
        text = path.read_text(encoding="utf-8")
        for secret in ("s3cret-pass", md5, *tokens):
            assert secret not in text and secret not in html.unescape(text), (path.name, secret)
        if path.name != "coverage.json":  # figures and names only: nothing to redact there
            assert "[REDACTED]" in text


# --- reports/latest ---------------------------------------------------------------------------

def test_latest_is_a_relative_symlink_to_the_newest_run(tmp_path):
    root = tmp_path / "reports"
    for name in ("20250301T093000Z", "20250301T100000Z"):
        (root / name).mkdir(parents=True)
        latest = writer.update_latest(root, root / name)
    assert latest == root / "latest" and latest.is_symlink()
    assert os.readlink(latest) == "20250301T100000Z"
    assert latest.resolve() == (root / "20250301T100000Z").resolve()


def test_latest_falls_back_to_a_text_file_without_symlinks(tmp_path, monkeypatch):
    root = tmp_path / "reports"
    (root / "run-1").mkdir(parents=True)
    writer.update_latest(root, root / "run-1")  # a symlink from an earlier run gets replaced

    def no_symlinks(*args, **kwargs):
        raise OSError("symbolic link privilege not held")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    (root / "run-2").mkdir()
    latest = writer.update_latest(root, root / "run-2")
    assert not latest.is_symlink()
    assert latest.read_text(encoding="utf-8").strip() == "run-2"
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_latest_never_replaces_a_real_directory(tmp_path):
    root = tmp_path / "reports"
    (root / "latest").mkdir(parents=True)
    (root / "run").mkdir()
    with pytest.raises(FileExistsError, match="is a directory"):
        writer.update_latest(root, root / "run")
    assert (root / "latest").is_dir()


def test_the_reports_get_the_permissions_the_umask_gives_as_pytest_s_own_files_do(tmp_path):
    # An artifact server running as another user must be able to serve them (umask 022).
    previous = os.umask(0o022)
    try:
        paths = writer.write_reports(sample_result(), tmp_path / "run")
    finally:
        os.umask(previous)
    for path in paths.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, (path.name, oct(path.stat().st_mode))


# --- what a reader meets first ------------------------------------------------------------------

def exchange_dict(note_text: str, url: str, body: str, *, decisive: bool = False) -> dict:
    data = failing_exchange(method="GET", url=url, request_body=None, status=200,
                            response_body=body, note=note_text).to_dict()
    if decisive:
        data["decisive"] = True
    return data


def hook_call() -> dict:
    return exchange_dict("balance hook: mobile=447700900001",
                         "http://127.0.0.1:8080/_test/balance?mobile=447700900001",
                         '{"balance": 19750}')


def deciding_call() -> dict:
    return exchange_dict("isredeemable 51 for spender",
                         "http://127.0.0.1:8080/v1.1/points/isredeemable?points=51",
                         '{"item_status": {"code": 800}}', decisive=True)


def section(text: str, req_id: str) -> str:
    start = text.index(f'id="fail-{req_id}"')
    return text[start:text.index("</section>", start)]


def test_failures_come_must_first_and_the_contract_before_the_scenarios_it_breaks(tmp_path):
    collector = Collector()
    collector.record("OTP-04", "failed", reason="code reused")  # a SHOULD, before REV by id
    collector.record("CON-03", "failed", reason="XML differs")  # a SHOULD of the contract
    collector.record("REV-02", "failed", reason="second reversal accepted")
    collector.record("RDM-06", "error", reason="hook failed")  # unverified, not failed
    collector.record("CON-01", "failed", reason="a scenario's answer: renamed field")
    text = page(writer.write_reports(build(collector), tmp_path))
    order = [text.index(f'id="fail-{req_id}"') for req_id in
             ("CON-01", "REV-02", "RDM-06", "CON-03", "OTP-04")]
    assert order == sorted(order)
    assert text.index('id="failures"') < text.index('id="matrix"')


def test_the_banner_names_each_failed_must_and_the_why_line(tmp_path):
    collector = Collector()
    collector.record("REV-02", "failed", reason="second reversal accepted")
    collector.record("CON-01", "failed", reason="a scenario's answer: renamed field")
    collector.record("TRF-11", "failed", reason="51 transferred")  # SHOULD: not in the list
    result = build(collector)
    text = page(writer.write_reports(result, tmp_path))
    banner = text[text.index('id="verdict"'):text.index('id="areas"')]
    ids = re.findall(r'<a href="#fail-([A-Z]+-\d+)"', banner)
    assert ids == ["CON-01", "REV-02"]
    assert "why: CON-01 failed: a scenario&#39;s answer: renamed field (and 1 more MUST " \
           "requirement)" in banner
    assert writer.why_line(result).startswith("CON-01 failed")


def test_the_exchange_that_decided_is_open_and_marked_and_the_rest_collapsed(tmp_path):
    collector = Collector()
    collector.record("RDM-03", "failed", reason="expected: refused with 807\nreceived: 800",
                     evidence=[hook_call(), deciding_call(), hook_call()])
    text = html.unescape(page(writer.write_reports(build(collector), tmp_path)))
    failure = section(text, "RDM-03")
    decisive = failure[failure.index('class="decisive"'):failure.index('class="others"')]
    assert "The answer that broke the rule" in decisive and "call 2 of 3" in decisive
    assert "isredeemable?points=51" in decisive
    assert "<pre>" + '{"item_status": {"code": 800}}' in decisive  # shown, not behind a click
    assert "<details" not in decisive.split("response body")[1].split("reproduce")[0]
    others = failure[failure.index('class="others"'):]
    assert others.startswith('class="others"><summary>2 other exchanges')
    assert others.count("balance hook") == 2 and "isredeemable" not in others


def test_without_a_marked_exchange_the_last_api_call_is_shown_and_says_it_is_a_guess(tmp_path):
    collector = Collector()
    guess = {**deciding_call(), "decisive": False}
    collector.record("RDM-03", "failed", reason="expected 807",
                     evidence=[guess, hook_call()])
    text = html.unescape(page(writer.write_reports(build(collector), tmp_path)))
    decisive = section(text, "RDM-03").split('class="others"')[0]
    assert "last call to the API before the check failed" in decisive
    assert "isredeemable?points=51" in decisive and "balance hook" not in decisive


def test_a_contract_failure_found_by_fuzzing_opens_the_fuzzed_exchange(written):
    _, paths = written
    text = html.unescape(page(paths))
    decisive = section(text, "CON-04").split('class="others"')[0]
    assert "The fuzzed call that broke the rule" in decisive
    assert '{"points_redeemed": -1}' in decisive


def test_the_matrix_shows_two_lines_of_a_long_reason_and_the_failure_all_of_it(tmp_path):
    schema = json.dumps({"anyOf": [{"required": [f"field{n}"]} for n in range(60)]}, indent=4)
    reason = f"a scenario's answer: GET /v1.1/points/isredeemable: violates\n\n{schema}"
    collector = Collector()
    collector.record("CON-01", "failed", reason=reason)
    text = html.unescape(page(writer.write_reports(build(collector), tmp_path)))
    row = text[text.index('id="req-CON-01"'):]
    cell = re.search(r'<div class="clamp">(.*?)</div>', row, re.S).group(1)
    assert cell.count("\n") <= 1 and len(cell) <= writer.MATRIX_REASON_CHARS + 2
    assert "field59" not in cell
    failure = section(text, "CON-01")
    assert "field59" in failure and "the full reason" in failure
    # the summary at the top of the failure stays short; the rest waits behind a click
    head = failure[:failure.index("the full reason")]
    assert "field59" not in head


def test_the_areas_show_what_failed_where_and_ids_never_break(tmp_path):
    collector = Collector()
    for req in catalog.requirements():
        collector.record(req.id, "failed" if req.id == "REV-02" else "passed")
    text = page(writer.write_reports(build(collector), tmp_path))
    areas = text[text.index('id="areas"'):text.index('id="failures"')]
    names = re.findall(r'<span class="name">([^<]+)</span>', areas)
    assert names == ["redemption", "OTP", "reversal", "transfer", "goodwill", "contract",
                     "security"]
    reversal = areas[areas.index(">reversal<"):areas.index(">transfer<")]
    assert 'href="#fail-REV-02"' in reversal and "s-failed" in reversal
    css = text[text.index("<style>"):text.index("</style>")]
    nowrap = re.search(r"([^{}]*)\{ white-space: nowrap; \}", css.split("never breaks")[1])
    assert "#matrix td:first-child" in nowrap.group(1) and ".failed-ids a" in nowrap.group(1)


def test_the_reproduce_line_reads_credentials_from_the_environment(written):
    result, paths = written
    text = html.unescape(page(paths))
    line = failing_exchange().curl()
    assert line in text and "[REDACTED]" not in line
    assert "POINTS_API_PASSWORD_MD5=$(printf %s \"$POINTS_API_PASSWORD\" | md5sum" in text


def test_a_real_run_opens_the_answer_that_broke_the_rule(cli, tmp_path):
    """End to end: the scenario's own check marks the isredeemable answer it judged."""
    from conformance import server
    from conformance.paths import fixtures_dir

    with server.run_in_thread(faults=("redeem.multiple",)) as running:
        done = cli("run", "--base-url", running.base_url, "--profile",
                   str(fixtures_dir() / "profiles" / "reference.yaml"), "--only", "RDM-03",
                   "--suite", "scenarios", "--report-dir", str(tmp_path / "run"))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    text = html.unescape((tmp_path / "run" / "index.html").read_text(encoding="utf-8"))
    banner = text[text.index('id="verdict"'):text.index('id="areas"')]
    assert 'href="#fail-RDM-03"' in banner and "why: RDM-03 failed" in banner
    decisive = section(text, "RDM-03").split('class="others"')[0]
    assert "The answer that broke the rule" in decisive
    assert "/v1.1/points/isredeemable?" in decisive and "points=51" in decisive
    assert '"code":800' in decisive.replace(" ", "")
    assert '-u "$POINTS_API_USER:$POINTS_API_PASSWORD"' in decisive


def test_the_matrix_starts_with_what_went_wrong_not_the_test_s_name(tmp_path):
    collector = Collector()
    collector.record("REV-05", "failed", reason="expected: code 904\nreceived: HTTP 200, codes []",
                     source="test_reversal.py::test_only_the_owner_can_reverse")
    text = html.unescape(page(writer.write_reports(build(collector), tmp_path)))
    row = text[text.index('id="req-REV-05"'):]
    cell = re.search(r'<div class="clamp">(.*?)</div>', row, re.S).group(1)
    assert cell == "expected: code 904\nreceived: HTTP 200, codes []"
    assert "test_reversal.py::test_only_the_owner_can_reverse" in section(text, "REV-05")
