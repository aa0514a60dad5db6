"""`points-conformance replay`, as a user runs it: a run against a faulty reference server,
then its failing calls sent again to a fixed one and to one with the same fault."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
import requests

from conformance import server
from conformance.paths import fixtures_dir
from conformance.report import results
from conformance.suite.steps import common
from tests.conftest import run_cli

REFERENCE_PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
SPENDER = "447700900001"  # the reference profile's spender (mobile)


def _run(tmp_path_factory, name: str, fault: str, *args: str):
    """A report of one narrowed run against the reference server with ``fault``."""
    report = tmp_path_factory.mktemp(name) / "report"
    with server.run_in_thread(faults=(fault,)) as faulty:
        result = run_cli("run", "--base-url", faulty.base_url, "--profile",
                         str(REFERENCE_PROFILE), "--report-dir", str(report), "--seed", "7",
                         *args)
    assert (report / "results.json").is_file(), result.stdout[-2000:] + result.stderr[-2000:]
    return report


def _replay(report, base_url: str, *args: str):
    return run_cli("replay", str(report), "--base-url", base_url, "--profile",
                   str(REFERENCE_PROFILE), *args)


def _lines(result, verdict: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(verdict)]


@pytest.fixture(scope="module")
def multiple_report(tmp_path_factory):
    return _run(tmp_path_factory, "rdm03", "redeem.multiple", "--suite", "scenarios",
                "--only", "RDM-03")


@pytest.fixture(scope="module")
def time_report(tmp_path_factory):
    return _run(tmp_path_factory, "rdm11", "redeem.time", "--suite", "scenarios",
                "--only", "RDM-11")


# --- what links a failure to its exchange -----------------------------------------------------

def test_the_failing_answer_is_marked_with_the_check_that_judged_it(multiple_report):
    data = json.loads((multiple_report / "results.json").read_text())
    jsonschema.validate(data, results.schema())
    row = next(r for r in data["requirements"] if r["id"] == "RDM-03")
    decided = [e for e in row["evidence"] if "decided" in e]
    assert len(decided) == 1
    assert decided[0]["decided"]["accepted"] == [807]
    # One marking: the exchange the report opens is the one replay sends again.
    assert [e for e in row["evidence"] if e.get("decisive")] == decided
    # ... and results.json cannot carry `decided` on an exchange that is not decisive.
    del decided[0]["decisive"]
    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.validate(data, results.schema())
    assert "dependentRequired" in {error.validator for error in refused.value.context}
    assert "/v1.1/points/isredeemable" in decided[0]["url"]
    logged = [json.loads(line) for line in
              (multiple_report / "exchanges.ndjson").read_text().splitlines()]
    assert decided[0]["id"] in {exchange["id"] for exchange in logged}


# --- scenario failures ------------------------------------------------------------------------

def test_a_scenario_failure_is_fixed_on_a_clean_server(multiple_report):
    with server.run_in_thread() as clean:
        result = _replay(multiple_report, clean.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    fixed = _lines(result, "FIXED")
    assert len(fixed) == 1 and "RDM-03" in fixed[0] and "807" in fixed[0]
    assert "replayed 1: 1 fixed, 0 still failing, 0 changed" in result.stdout


def test_without_profile_the_run_s_own_profile_gives_the_credentials(multiple_report):
    with server.run_in_thread() as clean:
        result = run_cli("replay", str(multiple_report), "--base-url", clean.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(_lines(result, "FIXED")) == 1


def test_a_scenario_failure_still_fails_on_a_server_with_the_same_fault(multiple_report):
    with server.run_in_thread(faults=("redeem.multiple",)) as faulty:
        result = _replay(multiple_report, faulty.base_url)
    assert result.returncode == 1, result.stdout + result.stderr
    still = _lines(result, "STILL FAILING")
    assert len(still) == 1 and "RDM-03" in still[0] and "code 800" in still[0]


def _balance(base_url: str) -> int:
    answer = requests.get(f"{base_url}/_test/balance", params={"mobile": SPENDER}, timeout=10)
    return answer.json()["balance"]


def test_a_redemption_gets_a_fresh_code_and_a_wrongful_one_is_reversed(time_report):
    with server.run_in_thread() as clean:
        fixed = _replay(time_report, clean.base_url)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert all("with a fresh validation code" in line for line in _lines(fixed, "FIXED"))
    with server.run_in_thread(faults=("redeem.time",)) as faulty:
        before = _balance(faulty.base_url)
        still = _replay(time_report, faulty.base_url)
        after = _balance(faulty.base_url)
    assert still.returncode == 1, still.stdout + still.stderr
    assert _lines(still, "STILL FAILING") and not _lines(still, "FIXED")
    # The faulty server took the points: replay reversed what it redeemed, as a run does.
    assert after == before
    assert "not undone" not in still.stdout


def test_a_redemption_that_depended_on_earlier_codes_is_not_replayable(tmp_path_factory):
    report = _run(tmp_path_factory, "otp03", "otp.any-code", "--suite", "scenarios",
                  "--only", "OTP-03")
    with server.run_in_thread() as clean:
        result = _replay(report, clean.base_url)
    assert result.returncode == 1, result.stdout + result.stderr
    changed = _lines(result, "CHANGED")
    assert len(changed) == 1 and "not replayable" in changed[0] and "OTP-03" in changed[0]
    assert not _lines(result, "FIXED")


def test_a_scenario_answer_the_schema_judge_refused_is_judged_again(tmp_path_factory):
    # CON-01 of a scenario's successful redemption: a fresh code brings the same answer.
    report = _run(tmp_path_factory, "answers", "redeem.renames-balance", "--suite", "all",
                  "--only", "RDM-02", "CON-01", "--max-examples", "5")
    data = json.loads((report / "results.json").read_text())
    row = next(r for r in data["requirements"] if r["id"] == "CON-01")
    assert [e["decided"]["check"] for e in row["evidence"] if "decided" in e] == \
        ["response_schema_conformance"]
    with server.run_in_thread() as clean:
        fixed = _replay(report, clean.base_url, "--only", "CON-01")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fresh validation code" in _lines(fixed, "FIXED")[0]
    with server.run_in_thread(faults=("redeem.renames-balance",)) as faulty:
        before = _balance(faulty.base_url)
        still = _replay(report, faulty.base_url, "--only", "CON-01")
        after = _balance(faulty.base_url)
    assert still.returncode == 1, still.stdout + still.stderr
    assert "Response violates schema" in _lines(still, "STILL FAILING")[0]
    assert after == before  # the redemption replay made was reversed


# --- contract failures ------------------------------------------------------------------------

@pytest.mark.parametrize(("fault", "req_id", "check"), [
    # judged by the JSON Schema judge (checks.judge)
    ("contract.renamed-field", "CON-01", "response_schema_conformance"),
    # judged by one of our own contract checks (checks.contract), through schemathesis
    ("contract.undocumented-status", "CON-06", "documented_status"),
])
def test_a_contract_failure_is_fixed_on_a_clean_server_and_not_on_a_faulty_one(
        tmp_path_factory, fault, req_id, check):
    report = _run(tmp_path_factory, req_id, fault, "--suite", "contract", "--only", req_id,
                  "--max-examples", "5")
    failures = json.loads((report / "results.json").read_text())["fuzz"]["failures"]
    assert failures, f"the faulty server's run found no {req_id} failure to replay"
    with server.run_in_thread() as clean:
        fixed = _replay(report, clean.base_url)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert len(_lines(fixed, "FIXED")) == len(failures)
    assert all(f"[{check}]" in line for line in _lines(fixed, "FIXED"))
    with server.run_in_thread(faults=(fault,)) as faulty:
        still = _replay(report, faulty.base_url)
    assert still.returncode == 1, still.stdout + still.stderr
    assert len(_lines(still, "STILL FAILING")) == len(failures)
    for secret in ("reference-secret", "reference-ui-token"):  # the reference profile's
        assert secret not in still.stdout + still.stderr + fixed.stdout + fixed.stderr


def test_an_accepted_invalid_request_is_judged_by_the_refusal_rule(multiple_report, tmp_path):
    # A report of a fuzz failure of CON-05: a body-less POST the faulty server accepted. The
    # report keeps no generator notes, so replay judges by the rule itself: refused or not.
    report = tmp_path / "report"
    shutil.copytree(multiple_report, report)
    data = json.loads((report / "results.json").read_text())
    next(r for r in data["requirements"] if r["id"] == "CON-05")["status"] = "failed"
    data["fuzz"]["failures"] = [{
        "id": "CON-05", "operation": "POST /v2/points/isTransferrable",
        "check": "schema_invalid_request_refused", "message": "Schema-violating request accepted",
        "exchange": {"method": "POST", "url": data["target"] + "/v2/points/isTransferrable",
                     "request_headers": {"Authorization": "[REDACTED]",
                                         "X-CAP-UI-AUTH-TOKEN": "[REDACTED]"},
                     "request_body": None, "status": 200, "curl": "-"}}]
    (report / "results.json").write_text(json.dumps(data))
    with server.run_in_thread() as clean:
        fixed = _replay(report, clean.base_url, "--only", "CON-05")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "refused: HTTP 400" in _lines(fixed, "FIXED")[0]
    with server.run_in_thread(faults=("contract.accepts-invalid",)) as faulty:
        still = _replay(report, faulty.base_url, "--only", "CON-05")
    assert still.returncode == 1
    assert "accepted: HTTP 200" in _lines(still, "STILL FAILING")[0]


# --- what is never sent, and what is never FIXED ----------------------------------------------

def test_a_mutating_call_to_a_non_loopback_target_needs_allow_mutations(time_report):
    # A name that resolves nowhere: the guard refuses before any lookup or connection.
    result = _replay(time_report, "http://replay-target.invalid")
    assert result.returncode == 1, result.stdout + result.stderr
    changed = _lines(result, "CHANGED")
    assert changed and all("--allow-mutations" in line for line in changed)


@pytest.mark.parametrize(("dropped", "why"), [
    # as a failure judged on balances alone would be: nothing marked at all
    (("decided", "decisive"), "no exchange decided this failure"),
    # as a scenario's own rule (`expect(..., answer=...)` without a check) would be
    (("decided",), "a rule of its own"),
])
def test_a_failure_replay_cannot_judge_again_is_changed_not_fixed(multiple_report, tmp_path,
                                                                  dropped, why):
    report = tmp_path / "report"
    shutil.copytree(multiple_report, report)
    data = json.loads((report / "results.json").read_text())
    row = next(r for r in data["requirements"] if r["id"] == "RDM-03")
    for item in row["evidence"]:
        for key in dropped:
            item.pop(key, None)
    (report / "results.json").write_text(json.dumps(data))
    with server.run_in_thread() as clean:
        result = _replay(report, clean.base_url)
    assert result.returncode == 1
    changed = _lines(result, "CHANGED")
    assert len(changed) == 1 and "not replayable" in changed[0] and why in changed[0]
    assert not _lines(result, "FIXED")


def test_one_call_marks_the_answer_decisive_and_how_it_was_judged():
    # suite.steps.common.expect is the one place a scenario marks its deciding answer.
    judged, plain = {"id": "a"}, {"id": "b"}
    with pytest.raises(AssertionError, match="refused with 807"):
        common.expect_refused("isredeemable 51", common.Answer(200, {}, [800], judged), [807])
    assert judged["decisive"] is True
    assert judged["decided"]["check"] == common.REFUSED
    assert judged["decided"]["accepted"] == [807]
    assert "refused with 807" in judged["decided"]["message"]
    with pytest.raises(AssertionError):
        common.expect(False, "a transfer", "HTTP 500", answer=common.Answer(500, {}, [], plain))
    assert plain == {"id": "b", "decisive": True}  # a rule replay cannot apply: no `decided`
    passed = {"id": "c"}
    common.expect(True, "-", "-", answer=common.Answer(200, {}, [], passed),
                  check=common.refused_check([807]))
    assert passed == {"id": "c"}


def test_a_redacted_profile_header_is_sent_again_from_the_profile(tmp_path_factory, tmp_path):
    # A gateway key given with --header is recorded as [REDACTED]: the profile restores it.
    report = _run(tmp_path_factory, "header", "redeem.multiple", "--suite", "scenarios",
                  "--only", "RDM-03", "--header", "X-Api-Key: k-replay-secret-123")
    data = json.loads((report / "results.json").read_text())
    row = next(r for r in data["requirements"] if r["id"] == "RDM-03")
    decisive = next(e for e in row["evidence"] if e.get("decisive"))
    assert decisive["request_headers"]["X-Api-Key"] == "[REDACTED]"
    with_key = tmp_path / "with-key.yaml"
    with_key.write_text(REFERENCE_PROFILE.read_text().replace(
        "  timeout_s: 10\n", "  timeout_s: 10\n  headers:\n    X-Api-Key: k-replay-secret-123\n"))
    with server.run_in_thread() as clean:
        without = _replay(report, clean.base_url)
        restored = run_cli("replay", str(report), "--base-url", clean.base_url, "--profile",
                           str(with_key))
    changed = _lines(without, "CHANGED")
    assert without.returncode == 1 and len(changed) == 1, without.stdout + without.stderr
    assert "X-Api-Key is redacted" in changed[0] and "target.headers" in changed[0]
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert len(_lines(restored, "FIXED")) == 1
    assert "k-replay-secret-123" not in restored.stdout + restored.stderr


# --- usage errors -----------------------------------------------------------------------------

def _usage_error(result, *names: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for name in names:
        assert name in lines[0]


def test_a_folder_without_results_is_a_usage_error(tmp_path):
    _usage_error(run_cli("replay", str(tmp_path), "--profile", str(REFERENCE_PROFILE)),
                 "results.json")


def test_an_id_the_report_did_not_fail_is_a_usage_error(multiple_report):
    _usage_error(_replay(multiple_report, "http://127.0.0.1:9", "--only", "RDM-04"),
                 "--only", "RDM-04")
    _usage_error(_replay(multiple_report, "http://127.0.0.1:9", "--only", "XYZ-99"),
                 "--only", "XYZ-99")


def test_a_missing_profile_is_a_usage_error(multiple_report, tmp_path):
    _usage_error(run_cli("replay", str(multiple_report), "--profile",
                         str(tmp_path / "nope.yaml")), "--profile")
