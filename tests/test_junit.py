"""junit.xml from the results model, read back the way CI systems read it (junitparser)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import junitparser
import pytest

from conformance.report import junit, writer
from conformance.report.baseline import Baseline
from conformance.report.collector import Collector, note
from conformance.report.results import RunResult
from conformance.specs import catalog
from conformance.target.exchange import Exchange
from conformance.target.redaction import REDACTOR

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SHOULD_ID = next(r.id for r in catalog.requirements() if r.level == "SHOULD")


def build(collector: Collector, **kwargs) -> RunResult:
    options = {"target": "http://127.0.0.1:8080", "started_at": START,
               "finished_at": START + timedelta(seconds=7.5), "suite_version": "0.1.0",
               "spec_version": "2025.03", "strict": False}
    return collector.build(**{**options, **kwargs})


def parsed(result: RunResult) -> tuple[junitparser.TestSuite, dict[str, junitparser.TestCase]]:
    xml = junitparser.JUnitXml.fromstring(junit.render(result))
    suites = list(xml)
    assert len(suites) == 1
    return suites[0], {case.name.split(" ", 1)[0]: case for case in suites[0]}


def outcome(case: junitparser.TestCase):
    assert len(case.result) <= 1, case.name
    return case.result[0] if case.result else None


def exchange(**overrides) -> Exchange:
    fields = {"method": "POST", "url": "http://127.0.0.1:8080/v1.1/points/redeem?format=json",
              "request_headers": {"Content-Type": "application/json"},
              "request_body": '{"points_redeemed": 51}', "status": 200,
              "response_headers": {"Content-Type": "application/json"},
              "response_body": '{"item_status": {"code": 800}}', "elapsed_ms": 8.5,
              "note": "redeem 51 points"}
    return Exchange(**{**fields, **overrides})


def case_properties(text: str) -> dict[str, list[tuple[str, str]]]:
    # junitparser reads suite-level properties only; a testcase's are read as plain XML.
    root = ET.fromstring(text.split("?>", 1)[1])
    return {case.get("name").split(" ", 1)[0]: [(p.get("name"), p.get("value"))
                                                 for p in case.iter("property")]
            for case in root.iter("testcase")}


def test_one_testcase_per_requirement_named_id_and_title_classed_by_area():
    result = build(Collector())
    suite, cases = parsed(result)
    properties = case_properties(junit.render(result))
    assert [case.name for case in suite] == [f"{r.id} {r.title}" for r in catalog.requirements()]
    for req in catalog.requirements():
        case = cases[req.id]
        assert case.classname == req.area
        props = properties[req.id]
        assert ("level", req.level) in props
        assert [v for n, v in props if n == "doc"] == list(req.seeds)
    assert suite.tests == len(catalog.requirements())


def test_a_must_failure_is_a_failure_with_its_reason_and_evidence():
    collector = Collector()
    collector.record("RDM-03", "failed", reason="expected 807, received 800",
                     evidence=[note("balance before 20000, after 19949"), exchange()],
                     source="test_redemption.py::test_amount_not_a_multiple_is_refused")
    suite, cases = parsed(build(collector))
    failure = outcome(cases["RDM-03"])
    assert isinstance(failure, junitparser.Failure)
    assert failure.message == ("test_redemption.py::test_amount_not_a_multiple_is_refused: "
                               "expected 807, received 800")
    assert "balance before 20000, after 19949" in failure.text
    assert "redeem 51 points: POST http://127.0.0.1:8080/v1.1/points/redeem" in failure.text
    assert '"code": 800' in failure.text and "repeat: curl" in failure.text
    assert (suite.failures, suite.errors) == (1, 0)


def test_a_fuzz_failure_shows_the_operation_check_and_exchange():
    collector = Collector()
    collector.fuzz_failure("CON-04", operation="POST /v1.1/points/redeem",
                           check="not_a_server_error", message="Received 500",
                           exchange=exchange(status=500, response_body="boom"))
    _, cases = parsed(build(collector))
    failure = outcome(cases["CON-04"])
    assert isinstance(failure, junitparser.Failure)
    assert "POST /v1.1/points/redeem (not_a_server_error): Received 500" in failure.text
    assert "-> 500" in failure.text and "boom" in failure.text


def test_a_known_failure_is_skipped_and_the_run_has_no_failures():
    collector = Collector()
    collector.record("RDM-03", "failed", reason="expected 807, received 800")
    result = build(collector, baseline=Baseline({"RDM-03": "vendor ticket PTS-12"},
                                                until={"RDM-03": date(2025, 3, 31)}))
    assert result.exit_code != 1
    suite, cases = parsed(result)
    skipped = outcome(cases["RDM-03"])
    assert isinstance(skipped, junitparser.Skipped)
    assert skipped.message == "known failure: vendor ticket PTS-12 (until 2025-03-31)"
    assert "expected 807, received 800" in skipped.text  # the evidence is still there
    assert (suite.failures, suite.errors) == (0, 0)


def test_an_expired_baseline_entry_leaves_the_failure_a_failure():
    collector = Collector()
    collector.record("RDM-03", "failed", reason="expected 807, received 800")
    result = build(collector, baseline=Baseline({"RDM-03": "ticket"},
                                                until={"RDM-03": date(2025, 2, 28)}))
    assert result.exit_code == 1
    failure = outcome(parsed(result)[1]["RDM-03"])
    assert isinstance(failure, junitparser.Failure)
    assert "baseline entry expired on 2025-02-28" in failure.message


def test_errors_skips_and_rows_not_judged_map_to_error_and_skipped():
    collector = Collector()
    collector.record("RDM-01", "error", reason="RuntimeError: balance hook failed")
    collector.record("RDM-02", "skipped", reason="no OTP source")
    collector.record("REV-07", "not-applicable", reason="reversals are enabled")
    collector.record("RDM-04", "passed")
    collector.record(SHOULD_ID, "failed", reason="no Allow header")
    result = build(collector, not_selected={"RDM-05": "not selected (--only)"})
    suite, cases = parsed(result)
    assert isinstance(outcome(cases["RDM-01"]), junitparser.Error)
    assert outcome(cases["RDM-01"]).message == "RuntimeError: balance hook failed"
    for req_id, message in [("RDM-02", "no OTP source"),
                            ("REV-07", "not applicable: reversals are enabled"),
                            ("RDM-05", "not selected (--only)"),
                            (SHOULD_ID, "advisory (SHOULD, does not fail the run): "
                                        "no Allow header")]:
        skipped = outcome(cases[req_id])
        assert isinstance(skipped, junitparser.Skipped), req_id
        assert skipped.message == message
    assert outcome(cases["RDM-04"]) is None
    assert (suite.failures, suite.errors) == (0, 1)
    assert suite.skipped == len(catalog.requirements()) - 2


def test_an_aborted_run_skips_every_requirement_it_did_not_run_with_the_reason():
    collector = Collector()
    collector.record("RDM-01", "passed")
    result = build(collector, aborted_reason="target stopped answering")
    suite, cases = parsed(result)
    assert outcome(cases["RDM-01"]) is None
    for req_id, case in cases.items():
        if req_id != "RDM-01":
            assert outcome(case).message == "not run: target stopped answering"
    assert dict((p.name, p.value) for p in suite.properties())["verdict"] == "aborted"
    assert "run aborted: target stopped answering" in junit.render(result)


def test_the_report_folder_gets_junit_xml_for_an_aborted_run(tmp_path):
    result = build(Collector(), aborted_reason="target unreachable")
    paths = writer.write_reports(result, tmp_path)
    xml = junitparser.JUnitXml.fromfile(str(paths["junit.xml"]))
    assert sum(1 for suite in xml for _ in suite) == len(catalog.requirements())


def test_secrets_and_characters_xml_cannot_hold_never_reach_junit():
    REDACTOR.add("junit-s3cret", username="alice")
    collector = Collector()
    collector.record("RDM-03", "failed", reason="password junit-s3cret echoed\x00\x1b",
                     evidence=[exchange(response_body="junit-s3cret \x07 bell",
                                        request_headers={"Authorization": "Basic junit-s3cret"})])
    text = junit.render(build(collector))
    assert "junit-s3cret" not in text
    ET.fromstring(text.split("?>", 1)[1])  # well-formed: control characters replaced
    failure = outcome(parsed(build(collector))[1]["RDM-03"])
    assert "\ufffd bell" in failure.text


@pytest.mark.parametrize("status", ["passed", "not-applicable"])
def test_a_passed_or_moot_baseline_entry_is_not_skipped_as_known(status):
    collector = Collector()
    collector.record("RDM-03", status, reason="moot")
    _, cases = parsed(build(collector, baseline=Baseline({"RDM-03": "ticket"})))
    result = outcome(cases["RDM-03"])
    assert result is None or not result.message.startswith("known failure")
