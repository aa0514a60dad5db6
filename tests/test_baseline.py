"""The baseline file: `until`, what a run makes of each entry, and --baseline-update's output."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from conformance.report import baseline
from conformance.report.baseline import Baseline, BaselineError
from conformance.report.collector import Collector
from conformance.report.results import RunResult, schema_errors
from conformance.target.redaction import REDACTOR

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
RUN_DAY = START.date()


def build(collector: Collector, **kwargs) -> RunResult:
    options = {"target": "http://127.0.0.1:8080", "started_at": START,
               "finished_at": START + timedelta(seconds=3), "suite_version": "0.1.0",
               "spec_version": "2025.03", "strict": False}
    return collector.build(**{**options, **kwargs})


@pytest.mark.parametrize(("name", "text"), [
    ("b.yaml", "known_failures:\n  - {id: RDM-03, reason: ticket 7, until: 2025-03-31}\n"),
    ("b.yaml", "known_failures:\n  - {id: RDM-03, reason: ticket 7, until: '2025-03-31'}\n"),
    ("b.json", '{"known_failures": [{"id": "RDM-03", "reason": "ticket 7", '
               '"until": "2025-03-31"}]}'),
])
def test_until_is_read_from_yaml_dates_and_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    loaded = Baseline.load(path)
    assert loaded.known == {"RDM-03": "ticket 7"}
    assert loaded.until == {"RDM-03": date(2025, 3, 31)}


@pytest.mark.parametrize(("until", "message"), [
    ("'31/03/2025'", "known_failures[0].until '31/03/2025' is not a date (YYYY-MM-DD)"),
    ("'2025-02-30'", "known_failures[0].until '2025-02-30' is not a date (YYYY-MM-DD)"),
    ("tomorrow", "known_failures[0].until 'tomorrow' is not a date (YYYY-MM-DD)"),
    ("2025-03-01T10:00:00", "known_failures[0].until '2025-03-01T10:00:00' is not a date "
                            "(YYYY-MM-DD)"),
    ("2025-02-30", "not a real date: day is out of range for month (until: YYYY-MM-DD)"),
])
def test_an_until_that_is_not_a_day_is_one_line_naming_the_file(tmp_path, until, message):
    path = tmp_path / "b.yaml"
    path.write_text(f"known_failures:\n  - {{id: RDM-03, reason: x, until: {until}}}\n")
    with pytest.raises(BaselineError) as info:
        Baseline.load(path)
    assert str(info.value) == f"{path}: {message}"


def test_an_entry_excuses_through_its_until_day_and_not_the_day_after():
    entries = Baseline({"RDM-03": "ticket"}, until={"RDM-03": RUN_DAY})
    assert entries.active(RUN_DAY) == {"RDM-03": "ticket"}
    assert entries.expired(RUN_DAY + timedelta(days=1)) == {"RDM-03": "ticket"}
    assert entries.active(RUN_DAY + timedelta(days=1)) == {}


def test_a_run_names_excused_stale_and_expired_entries():
    collector = Collector()
    collector.record("RDM-03", "failed", reason="expected 807")
    collector.record("RDM-01", "passed")
    collector.record("REV-07", "not-applicable", reason="reversals are enabled")
    collector.record("RDM-04", "failed", reason="expected 821")
    collector.record("RDM-05", "skipped", reason="no OTP source")
    result = build(collector, baseline=Baseline(
        {"RDM-03": "ticket 1", "RDM-01": "ticket 2", "REV-07": "ticket 3", "RDM-04": "ticket 4",
         "RDM-05": "ticket 5"},
        until={"RDM-03": RUN_DAY, "RDM-04": RUN_DAY - timedelta(days=1)}))
    assert result.baseline == {
        "excused": [{"id": "RDM-03", "reason": "ticket 1", "until": "2025-03-01"}],
        "stale": [{"id": "RDM-01", "reason": "ticket 2", "until": None, "status": "passed"},
                  {"id": "REV-07", "reason": "ticket 3", "until": None,
                   "status": "not-applicable"}],
        "expired": [{"id": "RDM-04", "reason": "ticket 4", "until": "2025-02-28",
                     "status": "failed"}],
    }
    assert result.baseline_stale == ["RDM-01", "REV-07"]
    # the expired entry excuses nothing: RDM-04 makes the run non-conformant, and says why
    assert [row.id for row in result.blocking] == ["RDM-04"]
    assert result.requirement("RDM-04").reason.startswith(
        "baseline entry expired on 2025-02-28 (ticket 4)")
    assert result.exit_code == 1
    data = result.to_json()
    assert data["baseline"] == result.baseline and schema_errors(data) == []
    assert RunResult.from_json(data).baseline == result.baseline
    assert baseline.lines(result.baseline) == [
        "baseline: RDM-01 is stale: it passed in this run; remove it from the baseline",
        "baseline: REV-07 is stale: it is not applicable in this run; remove it from the baseline",
        "baseline: RDM-04 expired on 2025-02-28: it no longer excuses a failure and failed",
    ]


def test_without_a_baseline_results_json_says_null_and_nothing_is_printed():
    result = build(Collector())
    assert result.to_json()["baseline"] is None
    assert baseline.lines(result.baseline) == []


def test_update_lists_must_failures_and_keeps_what_the_run_did_not_judge():
    collector = Collector()
    collector.record("RDM-03", "failed", reason="test_x: expected 807\nreceived: 800")
    collector.record("RDM-04", "failed", reason="expected 821")
    collector.record("RDM-01", "passed")
    collector.record("RDM-02", "error", reason="hook failed")
    collector.record("RDM-11", "failed", reason="a SHOULD")
    previous = Baseline({"RDM-04": "ticket 4", "RDM-01": "fixed now", "RDM-05": "not run"},
                        until={"RDM-04": date(2025, 1, 1)})
    result = build(collector, baseline=previous,
                   not_selected={"RDM-05": "not selected (--only)"})
    entries = baseline.updated(result.requirements, previous, RUN_DAY)
    assert entries == [
        {"id": "RDM-03", "reason": "failing on 2025-03-01: test_x: expected 807", "until": None},
        # an expired entry stays expired: rewriting the file never extends a deadline
        {"id": "RDM-04", "reason": "ticket 4", "until": "2025-01-01"},
        {"id": "RDM-05", "reason": "not run", "until": None},
    ]


@pytest.mark.parametrize("name", ["known.yaml", "known.json"])
def test_a_written_baseline_reads_back_as_the_same_entries(tmp_path, name):
    path = tmp_path / name
    entries = [{"id": "RDM-03", "reason": "failing on 2025-03-01: expected 807: 'quoted'",
                "until": None},
               {"id": "RDM-04", "reason": "ticket 4", "until": "2025-06-30"}]
    baseline.write(path, entries)
    loaded = Baseline.load(path)
    assert loaded.known == {"RDM-03": entries[0]["reason"], "RDM-04": "ticket 4"}
    assert loaded.until == {"RDM-04": date(2025, 6, 30)}
    if name.endswith(".json"):
        assert json.loads(path.read_text())["known_failures"][1]["until"] == "2025-06-30"


def test_an_empty_update_is_a_valid_baseline(tmp_path):
    path = tmp_path / "known.yaml"
    baseline.write(path, [])
    assert Baseline.load(path).known == {}
    assert path.read_text().startswith("# Known failures")


def test_a_new_entry_s_reason_is_redacted_and_short():
    REDACTOR.add("baseline-s3cret", username="bob")
    collector = Collector()
    collector.record("RDM-03", "failed", reason="echoed baseline-s3cret " + "x" * 400)
    entries = baseline.updated(build(collector).requirements, None, RUN_DAY)
    assert "baseline-s3cret" not in entries[0]["reason"]
    assert len(entries[0]["reason"]) < 160 and entries[0]["reason"].endswith("...")
