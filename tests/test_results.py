"""The results model: aggregation per requirement, verdict, exit code, baseline, results.json."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conformance.report.baseline import Baseline, BaselineError
from conformance.report.collector import Collector, note
from conformance.report.results import (
    NO_SKIP_REASON,
    NOTHING_RECORDED,
    ResultsError,
    RunResult,
    schema_errors,
)
from conformance.specs import catalog
from conformance.target.exchange import Exchange
from conformance.target.redaction import MASK, REDACTOR

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
MUST_ID, OTHER_MUST_ID, SHOULD_ID = "RDM-01", "RDM-02", "RDM-11"


def build(collector: Collector, **kwargs) -> RunResult:
    options = {"target": "http://127.0.0.1:8080", "started_at": START,
               "finished_at": START + timedelta(seconds=12.3456), "suite_version": "0.1.0",
               "spec_version": "points-v1.1 1.1 / points-v2 2.0", "strict": False}
    return collector.build(**{**options, **kwargs})


def passing(*but: str) -> Collector:
    """A collector where every catalog requirement passed, but ``but``."""
    collector = Collector()
    for req in catalog.requirements():
        if req.id not in but:
            collector.record(req.id, "passed")
    return collector


def exchange(**overrides) -> Exchange:
    fields = {"method": "POST", "url": "http://127.0.0.1:8080/v1.1/points/redeem?format=json",
              "request_headers": {"Content-Type": "application/json"},
              "request_body": '{"points_redeemed": 100}', "status": 200,
              "response_headers": {"Content-Type": "application/json"},
              "response_body": '{"item_status": {"code": 807}}', "elapsed_ms": 8.5,
              "note": "redeem 100 points"}
    return Exchange(**{**fields, **overrides})


# --- aggregation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("statuses", "expected"), [
    (("passed",), "passed"),
    (("failed",), "failed"),
    (("error",), "error"),
    (("skipped",), "skipped"),
    (("passed", "failed"), "failed"),
    (("failed", "passed"), "failed"),
    (("passed", "error"), "error"),
    (("error", "failed"), "failed"),
    (("skipped", "passed"), "passed"),
    (("skipped", "error"), "error"),
    (("skipped", "failed"), "failed"),
    (("passed", "passed", "skipped"), "passed"),
    (("skipped", "passed", "error", "failed"), "failed"),
])
def test_status_of_a_requirement_follows_failed_error_passed_skipped(statuses, expected):
    collector = Collector()
    for status in statuses:
        collector.record(MUST_ID, status, reason=f"{status} reason")
    row = build(collector).requirement(MUST_ID)
    assert row.status == expected
    assert f"{expected} reason" in row.reason


def test_an_id_nobody_recorded_is_skipped_and_says_so():
    row = build(Collector()).requirement(MUST_ID)
    assert (row.status, row.reason) == ("skipped", NOTHING_RECORDED)
    assert "implemented" not in row.reason


def test_an_aborted_run_says_which_requirements_it_did_not_run_and_why():
    collector = Collector()
    collector.record(OTHER_MUST_ID, "passed")
    result = build(collector, aborted_reason="target stopped answering")
    assert (result.requirement(MUST_ID).status, result.requirement(MUST_ID).reason) == (
        "skipped", "not run: target stopped answering")
    assert result.requirement(OTHER_MUST_ID).status == "passed"


def test_ids_left_out_are_not_selected_with_the_option_but_never_hide_a_result():
    collector = Collector()
    collector.record(OTHER_MUST_ID, "failed", reason="expected 800, received 807")
    result = build(collector, not_selected={MUST_ID: "not selected (--only)",
                                            OTHER_MUST_ID: "not selected (--only)"})
    assert (result.requirement(MUST_ID).status, result.requirement(MUST_ID).reason) == (
        "not-selected", "not selected (--only)")
    assert result.requirement(OTHER_MUST_ID).status == "failed"


def test_a_requirement_made_moot_by_the_program_is_not_applicable_and_never_incomplete():
    collector = passing(MUST_ID)
    collector.record(MUST_ID, "not-applicable", reason="program.points_multiple is 1")
    result = build(collector)
    assert result.requirement(MUST_ID).status == "not-applicable"
    assert (result.verdict, result.exit_code) == ("conformant", 0)
    assert result.summary["MUST"]["not-applicable"] == 1


def test_skips_keep_their_reasons_and_a_bare_skip_says_so():
    collector = Collector()
    collector.record(MUST_ID, "skipped", reason="no balance hook in the profile")
    collector.record(MUST_ID, "skipped", reason="no balance hook in the profile")
    collector.record(MUST_ID, "skipped", reason="target outside loopback")
    collector.record(OTHER_MUST_ID, "skipped")
    result = build(collector)
    assert result.requirement(MUST_ID).reason == (
        "no balance hook in the profile; target outside loopback")
    assert result.requirement(OTHER_MUST_ID).reason == NO_SKIP_REASON


def test_a_failure_names_the_test_that_found_it_and_keeps_only_its_evidence():
    collector = Collector()
    collector.record(MUST_ID, "passed", evidence=[note("passing evidence")], source="t::a")
    collector.record(MUST_ID, "failed", reason="expected 800, received 807",
                     evidence=[note("balance before 500, after 400"), exchange()],
                     source="tests/scenarios/test_redeem.py::test_valid_redeem")
    row = build(collector).requirement(MUST_ID)
    assert row.reason == ("tests/scenarios/test_redeem.py::test_valid_redeem: "
                          "expected 800, received 807")
    assert row.evidence[0] == {"kind": "note", "text": "balance before 500, after 400"}
    assert row.evidence[1]["curl"].startswith("curl -sS -i -g --path-as-is -X POST")
    assert all(item.get("text") != "passing evidence" for item in row.evidence)


def test_evidence_accepts_exchanges_their_dicts_and_plain_text_but_nothing_else():
    collector = Collector()
    collector.record(MUST_ID, "failed", evidence=[exchange(), exchange().to_dict(), "received 807"])
    assert [e.get("kind", "exchange") for e in build(collector).requirement(MUST_ID).evidence] == [
        "exchange", "exchange", "note"]
    with pytest.raises(ValueError, match="evidence must be"):
        collector.record(MUST_ID, "failed", evidence=[{"balance": 5}])


def test_recording_an_unknown_id_or_status_fails_loudly():
    collector = Collector()
    with pytest.raises(ValueError, match="unknown requirement id 'XYZ-99'"):
        collector.record("XYZ-99", "passed")
    with pytest.raises(ValueError, match="status must be one of"):
        collector.record(MUST_ID, "xfail")
    with pytest.raises(ValueError, match="unknown requirement id"):
        collector.fuzz_failure("XYZ-99", operation="op", check="c", message="m", exchange=None)


def test_every_catalog_id_appears_once_in_catalog_order_with_its_catalog_fields():
    collector = Collector()
    collector.record(SHOULD_ID, "passed")
    collector.record(SHOULD_ID, "failed")
    rows = build(collector).requirements
    reqs = catalog.requirements()
    assert [row.id for row in rows] == [req.id for req in reqs]
    for row, req in zip(rows, reqs, strict=True):
        assert (row.level, row.title, row.seeds) == (req.level, req.title, list(req.seeds))


def test_summary_counts_each_level_by_status():
    collector = Collector()
    collector.record(MUST_ID, "passed")
    collector.record(OTHER_MUST_ID, "error")
    collector.record(SHOULD_ID, "failed")
    summary = build(collector).summary
    must_total = sum(1 for r in catalog.requirements() if r.level == "MUST")
    should_total = sum(1 for r in catalog.requirements() if r.level == "SHOULD")
    assert summary["MUST"] == {"passed": 1, "failed": 0, "skipped": must_total - 2, "error": 1,
                               "not-applicable": 0, "not-selected": 0}
    assert summary["SHOULD"] == {"passed": 0, "failed": 1, "skipped": should_total - 1, "error": 0,
                                 "not-applicable": 0, "not-selected": 0}


# --- fuzzing ----------------------------------------------------------------------------------

def test_fuzz_failures_fail_their_requirement_and_are_counted_per_operation():
    collector = Collector()
    collector.fuzz_operation("GET /v2/points/transfer")
    collector.fuzz_cases("POST /v1.1/points/redeem", 40)
    collector.fuzz_cases("POST /v1.1/points/redeem", 10)
    collector.record("CON-04", "passed")
    collector.fuzz_failure("CON-04", operation="POST /v1.1/points/redeem",
                           check="not_a_server_error", message="Received 500",
                           exchange=exchange(status=500).to_dict())
    result = build(collector)
    row = result.requirement("CON-04")
    assert row.status == "failed"
    assert "POST /v1.1/points/redeem: not_a_server_error: Received 500" in row.reason
    assert result.fuzz.operations == 2 and result.fuzz.test_cases == 50
    assert result.fuzz.per_operation == {
        "GET /v2/points/transfer": {"test_cases": 0, "failures": 0},
        "POST /v1.1/points/redeem": {"test_cases": 50, "failures": 1}}
    assert result.verdict == "non-conformant"


def test_identical_fuzz_failures_are_kept_once():
    collector = Collector()
    for _ in range(3):
        collector.fuzz_failure("CON-01", operation="op", check="response_schema_conformance",
                               message="'points' is a required property", exchange=None)
    collector.fuzz_failure("CON-01", operation="op", check="response_schema_conformance",
                           message="'code' is not of type 'integer'", exchange=None)
    result = build(collector)
    assert len(result.fuzz.failures) == 2
    assert result.fuzz.per_operation["op"]["failures"] == 2


def test_a_long_list_of_fuzz_failures_is_summarised_in_the_reason():
    collector = Collector()
    for n in range(5):
        collector.fuzz_failure("CON-01", operation="op", check="schema", message=f"m{n}")
    reason = build(collector).requirement("CON-01").reason
    assert reason.startswith("fuzzing found 5 failures")
    assert "m2" in reason and "m3" not in reason and "and 2 more" in reason


# --- verdict and exit code --------------------------------------------------------------------

def test_a_must_failure_makes_the_run_non_conformant():
    collector = Collector()
    collector.record(MUST_ID, "failed")
    result = build(collector)
    assert (result.verdict, result.exit_code) == ("non-conformant", 1)


def test_a_must_that_could_not_be_judged_makes_the_run_incomplete():
    collector = passing(MUST_ID)
    collector.record(MUST_ID, "error", reason="the OTP hook failed")
    result = build(collector)
    assert (result.verdict, result.exit_code) == ("incomplete", 4)


def test_should_failures_are_advisories():
    collector = passing(SHOULD_ID, "SEC-01")
    collector.record(SHOULD_ID, "failed")
    collector.record("SEC-01", "error")
    result = build(collector)
    assert (result.verdict, result.exit_code) == ("conformant", 0)


def test_skipped_musts_make_the_run_incomplete_never_conformant():
    result = build(passing(MUST_ID))
    assert (result.verdict, result.exit_code) == ("incomplete", 4)
    assert (build(Collector()).verdict) == "incomplete"


def test_a_failure_outweighs_what_could_not_be_judged():
    collector = Collector()
    collector.record(MUST_ID, "failed")
    assert build(collector).verdict == "non-conformant"


def test_a_narrowed_run_is_partial_and_says_how_much_was_selected():
    collector = Collector()
    collector.record(MUST_ID, "passed")
    left_out = {r.id: "not selected (--only)" for r in catalog.requirements() if r.id != MUST_ID}
    result = build(collector, not_selected=left_out)
    musts = sum(1 for r in catalog.requirements() if r.level == "MUST")
    assert (result.verdict, result.exit_code) == ("conformant", 0)
    assert result.to_json()["partial"] == {"selected": 1, "total": musts}
    assert "partial" not in build(passing()).to_json()


def test_an_aborted_run_exits_3_whatever_it_found():
    collector = Collector()
    collector.record(MUST_ID, "failed")
    result = build(collector, aborted_reason="target unreachable: connection refused")
    assert (result.verdict, result.exit_code) == ("aborted", 3)
    assert result.to_json()["aborted_reason"] == "target unreachable: connection refused"


# --- baseline ---------------------------------------------------------------------------------

def test_a_known_failure_is_marked_and_does_not_fail_the_run():
    collector = passing(MUST_ID)
    collector.record(MUST_ID, "failed", reason="expected 800, received 807")
    result = build(collector, baseline=Baseline({MUST_ID: "vendor ticket PTS-12"}))
    row = result.requirement(MUST_ID)
    assert row.known and row.status == "failed"
    assert "PTS-12" in row.reason and "received 807" in row.reason
    assert (result.verdict, result.exit_code) == ("conformant", 0)
    assert result.summary["MUST"]["failed"] == 1  # still counted: the baseline hides nothing


def test_a_baseline_does_not_excuse_an_error_or_another_failure():
    collector = Collector()
    collector.record(MUST_ID, "error")
    collector.record(OTHER_MUST_ID, "failed")
    result = build(collector, baseline=Baseline({MUST_ID: "flaky", "CON-01": "drift"}))
    assert not result.requirement(MUST_ID).known
    assert result.verdict == "non-conformant"


def test_a_baseline_entry_that_passed_is_reported_stale():
    collector = Collector()
    collector.record(MUST_ID, "passed")
    collector.record(OTHER_MUST_ID, "failed")
    result = build(collector, baseline=Baseline(
        {MUST_ID: "fixed since", OTHER_MUST_ID: "still broken", "CON-01": "not run"}))
    assert result.baseline_stale == [MUST_ID]
    assert not result.requirement(MUST_ID).known
    assert result.to_json()["baseline_stale"] == [MUST_ID]


@pytest.mark.parametrize("name", ["baseline.yaml", "baseline.json"])
def test_baseline_loads_from_yaml_and_json(tmp_path, name):
    data = {"known_failures": [{"id": "CON-01", "reason": "schema drift, ticket 7"},
                               {"id": "RDM-11", "reason": "859 not implemented"}]}
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    baseline = Baseline.load(path)
    assert baseline.known == {"CON-01": "schema drift, ticket 7", "RDM-11": "859 not implemented"}


def test_an_empty_known_failures_list_is_a_valid_baseline(tmp_path):
    path = tmp_path / "baseline.yaml"
    path.write_text("known_failures:\n", encoding="utf-8")
    assert Baseline.load(path).known == {}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("b.yaml", "known_failures: [\n", "not valid YAML (line"),
    ("b.json", '{"known_failures": [', "not valid JSON (line 1"),
    ("b.yaml", "- CON-01\n", "expected a mapping with the key 'known_failures'"),
    ("b.yaml", "", "expected a mapping"),
    ("b.yaml", "known_failure: []\n", "unknown key 'known_failure'"),
    ("b.yaml", "{}\n", "missing key 'known_failures'"),
    ("b.yaml", "known_failures: CON-01\n", "known_failures must be a list"),
    ("b.yaml", "known_failures: [CON-01]\n", "known_failures[0] must be a mapping"),
    ("b.yaml", "known_failures: [{reason: x}]\n", "known_failures[0].id is missing"),
    ("b.yaml", "known_failures: [{id: CON-99, reason: x}]\n",
     "known_failures[0].id 'CON-99' is not a requirement id"),
    ("b.yaml", "known_failures: [{id: CON-01, reason: a}, {id: CON-01, reason: b}]\n",
     "known_failures[1].id 'CON-01' is listed twice"),
    ("b.yaml", "known_failures: [{id: CON-01}]\n", "known_failures[0].reason is missing"),
    ("b.yaml", "known_failures: [{id: CON-01, reason: x, ticket: 7}]\n",
     "known_failures[0]: unknown key 'ticket'"),
])
def test_baseline_errors_are_one_line_naming_the_file_and_key(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BaselineError) as info:
        Baseline.load(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text
    assert "\n" not in text


def test_a_missing_baseline_file_is_a_baseline_error(tmp_path):
    with pytest.raises(BaselineError, match="cannot read baseline"):
        Baseline.load(tmp_path / "nope.yaml")


# --- results.json -----------------------------------------------------------------------------

TOP_LEVEL_KEYS = {"suite_version", "spec_version", "target", "strict", "started_at", "duration_s",
                  "verdict", "aborted_reason", "requirements", "summary", "fuzz", "undone",
                  "notes", "baseline_stale", "baseline", "$schema", "fingerprint", "coverage"}


def full_collector() -> Collector:
    collector = Collector()
    collector.record(MUST_ID, "passed", evidence=[exchange()])
    collector.record(OTHER_MUST_ID, "failed", reason="expected 800, received 807",
                     evidence=[note("balance before 500, after 500"),
                               exchange(status=None, response_body=None, error="timed out")])
    collector.record("REV-02", "error", reason="KeyError: 'errors'")
    collector.record("OTP-05", "skipped", reason="no clock hook; --max-wait 0")
    collector.fuzz_cases("POST /v1.1/points/redeem", 25)
    collector.fuzz_failure("CON-01", operation="POST /v1.1/points/redeem",
                           check="response_schema_conformance", message="'code' is required",
                           exchange=exchange())
    collector.undone("redemption r0njPT of 100 points for 447700900001: reversal refused (812)")
    collector.note("target answers business refusals with HTTP 200")
    return collector


def test_results_json_has_the_documented_shape_and_is_valid_against_the_schema():
    data = build(full_collector(), strict=True).to_json()
    assert set(data) == TOP_LEVEL_KEYS
    assert set(data["requirements"][0]) == {"id", "level", "status", "title", "reason",
                                            "evidence", "seeds", "known"}
    assert set(data["fuzz"]) == {"operations", "test_cases", "per_operation", "failures"}
    assert set(data["fuzz"]["failures"][0]) == {"id", "operation", "check", "message", "exchange"}
    assert data["started_at"] == "2025-03-01T09:30:00Z" and data["duration_s"] == 12.346
    assert data["strict"] is True
    assert schema_errors(json.loads(json.dumps(data))) == []


def test_start_time_is_written_in_utc():
    moment = datetime(2025, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    data = build(Collector(), started_at=moment, finished_at=moment).to_json()
    assert (data["started_at"], data["duration_s"]) == ("2025-03-01T09:30:00Z", 0.0)


def test_selftest_is_carried_when_present_and_valid():
    selftest = {"caught": 11, "total": 12, "false_failures": 0, "version": "0.1.0"}
    data = build(Collector(), selftest=selftest).to_json()
    assert data["selftest"] == selftest and schema_errors(data) == []
    assert "selftest" not in build(Collector()).to_json()


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d.update(verdict="aborted"), "aborted_reason"),
    (lambda d: d["requirements"][0].update(known=True), "requirements/0/status"),
    (lambda d: d.update(extra=1), "(top level)"),
    (lambda d: d["requirements"][0].update(status="xfail"), "requirements/0/status"),
    (lambda d: d["requirements"][1]["evidence"].append({"balance": 1}), "requirements/1/evidence"),
])
def test_the_schema_rejects_what_the_model_never_writes(change, where):
    data = build(full_collector()).to_json()
    change(data)
    assert any(problem.startswith(where) for problem in schema_errors(data)), schema_errors(data)


def test_from_json_rebuilds_the_same_result():
    result = build(full_collector(), baseline=Baseline({OTHER_MUST_ID: "ticket"}),
                   selftest={"caught": 1, "total": 2, "false_failures": 0, "version": "x"})
    data = json.loads(result.dumps())
    again = RunResult.from_json(data)
    assert again.to_json() == data
    assert (again.verdict, again.exit_code) == (result.verdict, result.exit_code)


def test_from_json_rejects_a_document_of_another_shape():
    with pytest.raises(ResultsError, match="not a points-conformance results document"):
        RunResult.from_json({"verdict": "conformant"})


def test_results_json_masks_every_registered_secret_however_it_got_in():
    REDACTOR.add("s3cret-pass", username="alice")
    token = next(s for s in REDACTOR.secrets if s.startswith("Basic ")).split()[1]
    collector = Collector()
    leaky = exchange(request_headers={"Authorization": f"Basic {token}"},
                     response_body='{"echo": "s3cret-pass"}').to_dict()
    collector.record(MUST_ID, "failed", reason="body echoed s3cret-pass", evidence=[leaky])
    collector.note("password s3cret-pass")
    collector.undone("s3cret-pass")
    text = build(collector).dumps()
    assert "s3cret-pass" not in text and token not in text
    assert MASK in text


def test_undone_lines_and_notes_are_kept_once_in_order():
    collector = Collector()
    for line in ("b", "a", "b"):
        collector.undone(line)
        collector.note(line)
    result = build(collector)
    assert result.undone == ["b", "a"] and result.notes == ["b", "a"]


def test_the_collector_can_be_fed_from_many_threads():
    collector = Collector()

    def feed(n: int) -> None:
        for i in range(200):
            collector.record(MUST_ID, "passed", source=f"t{n}-{i}")
            collector.fuzz_cases("op", 1)
            collector.fuzz_failure("CON-01", operation="op", check="c", message=f"m{i % 7}")

    threads = [threading.Thread(target=feed, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = build(collector)
    assert result.fuzz.per_operation["op"] == {"test_cases": 1600, "failures": 7}
