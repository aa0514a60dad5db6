"""`points-conformance run` end to end, as a user runs it, against real loopback servers."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys

import jsonschema
import junitparser
import pytest

from conformance import server
from conformance.paths import fixtures_dir
from conformance.report import results
from conformance.specs import catalog
from tests.targets import rewriting_proxy

REFERENCE_PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
QUICK = ("--max-examples", "5", "--seed", "7")


def test_default_run_is_conformant_and_exits_0(default_run):
    cwd, result = default_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "verdict: conformant" in result.stdout


def test_default_run_writes_the_three_reports_and_points_latest_at_them(default_run):
    cwd, _ = default_run
    latest = cwd / "reports" / "latest"
    assert latest.exists()
    for name in ("index.html", "junit.xml", "results.json"):
        assert (latest / name).is_file(), name
    assert "conformant" in (latest / "index.html").read_text()


def test_results_json_is_valid_and_lists_every_catalog_id(default_run):
    cwd, _ = default_run
    data = json.loads((cwd / "reports" / "latest" / "results.json").read_text())
    jsonschema.validate(data, results.schema())
    listed = [r["id"] for r in data["requirements"]]
    assert listed == [r.id for r in catalog.requirements()]
    for row in data["requirements"]:
        assert row["status"] in ("passed", "skipped", "not-applicable"), row
        if row["status"] != "passed":
            assert row["reason"], row["id"]
    # The reference program allows reversals, so REV-07 (reversals disabled) is moot there.
    assert [r["id"] for r in data["requirements"] if r["status"] == "not-applicable"] == \
        ["REV-07"]
    assert data["fuzz"]["operations"] == 11
    assert data["fuzz"]["test_cases"] > 0


def test_coverage_json_is_valid_and_every_requirement_naming_codes_sees_one(default_run):
    from conformance.report import coverage

    cwd, result = default_run
    data = json.loads((cwd / "reports" / "latest" / "coverage.json").read_text())
    assert coverage.schema_errors(data) == []
    total = data["total"]
    assert (f"coverage: statuses {total['statuses']['seen']}/{total['statuses']['documented']}, "
            f"codes {total['codes']['seen']}/{total['codes']['documented']}, ") in result.stdout
    assert len(data["operations"]) == 11 and total["formats"]["seen"] == 2
    seen = {c["code"] for c in data["codes"] if c["seen"]}
    statuses = {r["id"]: r["status"] for r in json.loads(
        (cwd / "reports" / "latest" / "results.json").read_text())["requirements"]}
    for req in catalog.requirements():
        if statuses[req.id] == "not-applicable":
            continue  # REV-07: the reference program allows reversals, so no 905 comes back
        if req.codes:  # a requirement's codes are alternatives: the target answers one of them
            assert seen & set(req.codes), req.id
    html = (cwd / "reports" / "latest" / "index.html").read_text()
    assert 'id="run-coverage"' in html and "coverage.json" in html


def test_min_coverage_above_the_run_s_coverage_exits_1_with_the_reason(cli, tmp_path):
    done = cli("run", *QUICK, "--only", "RDM-01", "--min-coverage", "100",
               "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 1, done.stdout[-2000:]
    assert re.search(r"^why: coverage \d+% below --min-coverage 100$", done.stdout, re.M)
    assert re.search(r"^coverage: statuses \d+/33, codes \d+/84, ", done.stdout, re.M)


def test_pytest_names_each_operation_apart(default_run):
    # pytest 9.2.0 gave every parametrized schemathesis test one node id; this catches it.
    cwd, _ = default_run
    text = (cwd / "reports" / "latest" / "pytest-report.html").read_text(encoding="utf-8")
    blob = json.loads(html.unescape(re.search(r'data-jsonblob="([^"]*)"', text).group(1)))
    contract = [n for n in blob["tests"] if "test_operation_conforms_to_its_contract[" in n]
    assert len(contract) == 11 and len(set(contract)) == 11


def test_junit_has_one_testcase_per_requirement_named_by_id_and_title(default_run):
    cwd, _ = default_run
    xml = junitparser.JUnitXml.fromfile(str(cwd / "reports" / "latest" / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert [case.name for case in cases] == [f"{r.id} {r.title}" for r in catalog.requirements()]
    assert {case.classname for case in cases} == set(catalog.AREAS)
    # a conformant run: nothing a CI system would paint red
    assert not any(case.is_failure or case.is_error for case in cases)
    assert [case.name.split()[0] for case in cases if case.is_skipped] == ["REV-07"]


def test_a_renamed_response_field_fails_con_01(cli, tmp_path):
    def rename(path: str, body: bytes) -> bytes:
        return body.replace(b'"is_redeemable"', b'"isRedeemable"')

    with server.run_in_thread() as reference, rewriting_proxy(reference.base_url, rename) as url:
        result = cli("run", "--base-url", url, "--profile", str(REFERENCE_PROFILE),
                     "--only", "CON-01", "--report-dir", str(tmp_path), *QUICK)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["verdict"] == "non-conformant"
    con01 = next(r for r in data["requirements"] if r["id"] == "CON-01")
    assert con01["status"] == "failed"
    assert any(f["id"] == "CON-01" and "isredeemable" in f["operation"]
               for f in data["fuzz"]["failures"])
    assert "curl" in (tmp_path / "index.html").read_text()


def test_a_bad_profile_exits_2_with_one_line_naming_the_key(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(REFERENCE_PROFILE.read_text().replace("points_multiple: 10",
                                                         'points_multiple: "ten"'))
    result = cli("run", "--base-url", "http://127.0.0.1:9", "--profile", str(bad),
                 "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "program.points_multiple" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_target_exits_3_with_an_aborted_report(cli, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens there
    result = cli("run", "--base-url", f"http://127.0.0.1:{port}", "--profile",
                 str(REFERENCE_PROFILE), "--report-dir", str(tmp_path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "unreachable" in result.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["verdict"] == "aborted" and "unreachable" in data["aborted_reason"]
    assert (tmp_path / "index.html").is_file()
    cases = _junit_cases(tmp_path / "junit.xml")
    assert len(cases) == len(catalog.requirements())
    assert {_outcome_message(case) for case in cases.values()} == {
        f"not run: {data['aborted_reason']}"}


def test_base_url_without_a_profile_is_a_usage_error(cli, tmp_path):
    result = cli("run", "--base-url", "http://127.0.0.1:9", "--report-dir", str(tmp_path))
    assert result.returncode == 2 and "--profile" in result.stderr


def test_unknown_requirement_id_is_a_usage_error(cli, tmp_path):
    result = cli("run", "--only", "XYZ-99", "--report-dir", str(tmp_path))
    assert result.returncode == 2 and "XYZ-99" in result.stderr


def test_no_credential_reaches_any_file_or_the_terminal(default_run):
    cwd, result = default_run
    password, user, token = "reference-secret", "conformance", "reference-ui-token"
    md5 = hashlib.md5(password.encode()).hexdigest()
    secrets = {password, md5, token, base64.b64encode(f"{user}:{password}".encode()).decode(),
               base64.b64encode(f"{user}:{md5}".encode()).decode()}
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for path in (cwd / "reports").rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    leaks = [(where, secret) for where, text in texts.items() for secret in secrets
             if secret in text]
    assert leaks == []


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_an_interrupted_run_stops_quickly_and_reports_aborted(tmp_path, signum):
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "run", "--report-dir",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:  # wait until the run is really under way
        if "phase," in line:
            break
    proc.send_signal(getattr(signal, signum))
    out, err = proc.communicate(timeout=60)  # a hang guard: bench/ measures how prompt it is
    assert proc.returncode == 3, out[-3000:] + err[-3000:]
    assert "aborted: interrupted" in err
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["verdict"] == "aborted"
    assert (tmp_path / "index.html").is_file()
    # junit.xml too: what ran keeps its outcome, the rest is skipped with the abort reason
    cases = _junit_cases(tmp_path / "junit.xml")
    assert len(cases) == len(catalog.requirements())
    not_run = {req_id for req_id, case in cases.items()
               if _outcome_message(case) == f"not run: {data['aborted_reason']}"}
    assert not_run == {r["id"] for r in data["requirements"]
                       if r["reason"].startswith("not run: ")} != set()


def test_an_unresolvable_staging_host_aborts_with_exit_3(cli, tmp_path):
    profile = tmp_path / "staging.yaml"
    profile.write_text(REFERENCE_PROFILE.read_text())
    result = cli("run", "--base-url", "http://staging.points.invalid", "--profile",
                 str(profile), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 3
    assert "unreachable" in result.stderr


def test_the_budget_skips_what_would_exceed_it_with_the_reason(cli, tmp_path):
    profile = tmp_path / "tight.yaml"
    profile.write_text(REFERENCE_PROFILE.read_text().replace("max_points: 10000",
                                                             "max_points: 10"))
    with server.run_in_thread() as reference:
        result = cli("run", "--base-url", reference.base_url, "--profile", str(profile),
                     "--suite", "scenarios", "--only", "RDM-02", "--report-dir",
                     str(tmp_path / "r"))
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    rdm02 = next(r for r in data["requirements"] if r["id"] == "RDM-02")
    assert rdm02["status"] == "skipped", rdm02
    assert "budget" in rdm02["reason"]
    # A MUST the budget kept from being verified: incomplete, never conformant.
    assert (data["verdict"], result.returncode) == ("incomplete", 4)
    assert re.search(r"^UNVERIFIED RDM-02 MUST skipped: .*budget\.max_points", result.stdout,
                     re.M), result.stdout


def test_a_conftest_or_pytest_ini_where_the_user_stands_does_not_change_the_run(cli, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("raise RuntimeError('not ours')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    result = cli("run", "--suite", "scenarios", "--only", "RDM-01", "--report-dir",
                 str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_plain_pytest_with_xdist_writes_one_merged_report(tmp_path):
    with server.run_in_thread() as reference:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p",
             "no:cacheprovider", "-q", "-n", "2", "--dist", "loadgroup", "--noconftest",
             "--pc-profile", str(REFERENCE_PROFILE), "--pc-base-url", reference.base_url,
             "--pc-suite", "scenarios", "--pc-report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = json.loads((tmp_path / "results.json").read_text())
    scenario_ids = {r.id for r in catalog.requirements() if r.area != "contract"}
    passed = {r["id"] for r in data["requirements"] if r["status"] == "passed"}
    # REV-07 is judged only where the program disables reversals; the reference one allows them.
    assert passed == scenario_ids - {"REV-07"}
    assert {r["id"] for r in data["requirements"] if r["status"] == "not-applicable"} == \
        {"REV-07"}
    # what the scenarios' worker saw came back with its share of the run
    covered = json.loads((tmp_path / "coverage.json").read_text())
    assert covered["total"]["codes"]["seen"] > 10


def test_a_baselined_failure_is_reported_known_and_does_not_fail_the_run(cli, tmp_path):
    baseline = tmp_path / "known.yaml"
    baseline.write_text("known_failures:\n  - id: RDM-03\n    reason: vendor ticket 123\n")
    with server.run_in_thread(faults=("redeem.multiple",)) as reference:
        result = cli("run", "--base-url", reference.base_url, "--profile",
                     str(REFERENCE_PROFILE), "--suite", "scenarios", "--only", "RDM-03",
                     "--baseline", str(baseline), "--report-dir", str(tmp_path / "r"), *QUICK)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rdm03 = next(r for r in json.loads((tmp_path / "r" / "results.json").read_text())
                 ["requirements"] if r["id"] == "RDM-03")
    assert rdm03["status"] == "failed" and rdm03["known"] is True
    assert "vendor ticket 123" in rdm03["reason"]


def _junit_cases(path) -> dict[str, junitparser.TestCase]:
    """junit.xml's testcases by requirement id, read as a CI system reads them."""
    xml = junitparser.JUnitXml.fromfile(str(path))
    return {case.name.split(" ", 1)[0]: case for suite in xml for case in suite}


def _outcome_message(case: junitparser.TestCase) -> str | None:
    return case.result[0].message if case.result else None


FAULTY_RUN = ("--profile", str(REFERENCE_PROFILE), "--suite", "scenarios",
              "--only", "RDM-01", "RDM-03", "--seed", "7")


def test_baseline_update_writes_the_baseline_the_next_run_passes_with(cli, tmp_path):
    known = tmp_path / "known.yaml"
    with server.run_in_thread(faults=("redeem.multiple",)) as faulty:
        first = cli("run", "--base-url", faulty.base_url, *FAULTY_RUN,
                    "--report-dir", str(tmp_path / "r1"), "--baseline-update", str(known))
        second = cli("run", "--base-url", faulty.base_url, *FAULTY_RUN,
                     "--report-dir", str(tmp_path / "r2"), "--baseline", str(known))
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]
    assert f"baseline written: {known} (1 entry)" in first.stdout.splitlines()
    assert isinstance(_junit_cases(tmp_path / "r1" / "junit.xml")["RDM-03"].result[0],
                      junitparser.Failure)
    from conformance.report.baseline import Baseline

    assert list(Baseline.load(known).known) == ["RDM-03"]

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "verdict: conformant" in second.stdout
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "r2" / "junit.xml"))
    assert (xml.failures, xml.errors) == (0, 0)
    cases = _junit_cases(tmp_path / "r2" / "junit.xml")
    known_failure = cases["RDM-03"].result[0]
    assert isinstance(known_failure, junitparser.Skipped)
    assert known_failure.message.startswith("known failure: failing on ")
    assert cases["RDM-01"].is_passed
    data = json.loads((tmp_path / "r2" / "results.json").read_text())
    assert [e["id"] for e in data["baseline"]["excused"]] == ["RDM-03"]
    assert data["baseline"]["stale"] == data["baseline"]["expired"] == []


def test_an_expired_entry_stops_excusing_and_stale_and_expired_entries_are_named(cli, tmp_path):
    known = tmp_path / "known.yaml"
    known.write_text("known_failures:\n"
                     "  - {id: RDM-03, reason: vendor ticket 9, until: 2020-01-31}\n"
                     "  - {id: RDM-01, reason: fixed since}\n")
    with server.run_in_thread(faults=("redeem.multiple",)) as faulty:
        result = cli("run", "--base-url", faulty.base_url, *FAULTY_RUN,
                     "--report-dir", str(tmp_path / "r"), "--baseline", str(known))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "baseline: RDM-03 expired on 2020-01-31: it no longer excuses a failure and " \
           "failed" in lines
    assert "baseline: RDM-01 is stale: it passed in this run; remove it from the baseline" \
        in lines
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert [e["id"] for e in data["baseline"]["expired"]] == ["RDM-03"]
    assert [e["id"] for e in data["baseline"]["stale"]] == ["RDM-01"]
    assert data["baseline"]["excused"] == []
    failure = _junit_cases(tmp_path / "r" / "junit.xml")["RDM-03"].result[0]
    assert isinstance(failure, junitparser.Failure)
    assert "baseline entry expired on 2020-01-31 (vendor ticket 9)" in failure.message
    page = (tmp_path / "r" / "index.html").read_text()
    assert "Expired baseline entries" in page and "RDM-03 (until 2020-01-31)" in page


def test_baseline_update_into_a_missing_folder_is_a_usage_error(cli, tmp_path):
    result = cli("run", "--baseline-update", str(tmp_path / "nope" / "known.yaml"),
                 "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"points-conformance: error: --baseline-update "
                                     f"{tmp_path / 'nope' / 'known.yaml'}: no such directory "
                                     f"{tmp_path / 'nope'}")
    assert not (tmp_path / "r").exists()


def test_a_broken_baseline_file_is_a_usage_error(cli, tmp_path):
    baseline = tmp_path / "known.yaml"
    baseline.write_text("known_failures:\n  - id: NOPE-01\n")
    result = cli("run", "--baseline", str(baseline), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "known.yaml" in result.stderr and "Traceback" not in result.stderr


def test_reversals_for_a_customer_named_by_card_number_send_no_identifier(cli, tmp_path):
    # The reversal's identifier takes mobile, email or externalId only; for a card number the
    # scenarios send none (it is optional), as the undo log does, and the reversal still works.
    profile = tmp_path / "by-card.yaml"
    profile.write_text(REFERENCE_PROFILE.read_text().replace(
        'spender:      {mobile: "447700900001"}',
        'spender:      {card_number: "6000000000001001"}'))
    with server.run_in_thread() as reference:
        result = cli("run", "--base-url", reference.base_url, "--profile", str(profile),
                     "--suite", "scenarios", "--only", "REV-01", "REV-02",
                     "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    statuses = {r["id"]: r["status"] for r in data["requirements"]}
    assert statuses["REV-01"] == statuses["REV-02"] == "passed"
    reversals = [e for r in data["requirements"] if r["id"] == "REV-01" for e in r["evidence"]
                 if "/v2/points/reverse" in e.get("url", "")]
    assert reversals and all('"identifier"' not in (e.get("request_body") or "")
                             for e in reversals)


def test_a_validating_gateway_refusing_invalid_requests_is_no_failure(cli, tmp_path):
    # OTP-07 (no validation_code) and RDM-11 (an unparseable time) send requests the schema
    # refuses: a gateway in front of a correct server answers them 422 with no business code.
    def gateway(path: str, body: bytes) -> bytes | None:
        invalid = path.startswith("/v1.1/points/redeem") and (
            b'"code":808' in body.replace(b" ", b"") or b'"code":859' in body.replace(b" ", b""))
        return b'{"message": "request validation failed"}' if invalid else None

    with server.run_in_thread() as reference, \
            rewriting_proxy(reference.base_url, lambda path, body: body, gateway=gateway) as url:
        result = cli("run", "--base-url", url, "--profile", str(REFERENCE_PROFILE), "--suite",
                     "scenarios", "--only", "OTP-07", "RDM-11", "--report-dir",
                     str(tmp_path / "r"))
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    rows = {r["id"]: r for r in data["requirements"] if r["id"] in ("OTP-07", "RDM-11")}
    assert {i: r["status"] for i, r in rows.items()} == {"OTP-07": "passed", "RDM-11": "passed"}
    # The gateway did answer: the evidence holds its 422s.
    assert any(e.get("status") == 422 for r in rows.values() for e in r["evidence"])
    assert result.returncode == 0, result.stdout[-2000:]


def test_the_gateway_variant_passes_the_requirements_it_touches(cli, tmp_path):
    with server.run_in_thread(variants=("gateway.validates-schema",)) as reference:
        result = cli("run", "--base-url", reference.base_url, "--profile",
                     str(REFERENCE_PROFILE), "--only", "REV-04", "CON-05", "CON-06",
                     *QUICK, "--report-dir", str(tmp_path / "r"))
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    statuses = {r["id"]: r["status"] for r in data["requirements"]
                if r["id"] in ("REV-04", "CON-05", "CON-06")}
    assert statuses == dict.fromkeys(("REV-04", "CON-05", "CON-06"), "passed"), \
        result.stdout[-3000:]


def test_a_profile_without_hooks_is_incomplete_and_names_what_it_lacks(cli, tmp_path):
    text = REFERENCE_PROFILE.read_text()
    for section in ("otp", "balance", "clock"):
        text = re.sub(rf"\n{section}:\n(  .*\n)+", "\n", text)
    profile = tmp_path / "no-hooks.yaml"
    profile.write_text(text)
    with server.run_in_thread() as reference:
        result = cli("run", "--base-url", reference.base_url, "--profile", str(profile),
                     "--suite", "scenarios", "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 4, result.stdout[-3000:]
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["verdict"] == "incomplete"
    page = (tmp_path / "r" / "index.html").read_text()
    assert '<div class="banner incomplete"' in page
    assert "<code>OTP-01</code> skipped: the profile configures no OTP source (otp)" in page
    assert "<code>RDM-02</code> skipped: the profile has no balance hook (balance.url)" in page
    assert re.search(r"^UNVERIFIED RDM-02 MUST skipped: the profile has no balance hook "
                     r"\(balance\.url\)", result.stdout, re.M), result.stdout
    assert re.search(r"^why: \d+ MUST requirements could not be verified", result.stdout, re.M)


def test_the_seed_printed_by_a_run_generates_the_same_fuzz_failures_again(cli, tmp_path):
    found = []
    for attempt in ("first", "again"):
        with server.run_in_thread(faults=("contract.accepts-invalid",)) as reference:
            result = cli("run", "--base-url", reference.base_url, "--profile",
                         str(REFERENCE_PROFILE), "--suite", "contract", "--only", "CON-05",
                         "--max-examples", "5", *(("--seed", found[0][0]) if found else ()),
                         "--report-dir", str(tmp_path / attempt))
        seed = re.search(r"^seed: (\d+)", result.stdout, re.MULTILINE)
        assert seed, result.stdout[:500]
        data = json.loads((tmp_path / attempt / "results.json").read_text())
        assert data["fingerprint"]["seed"] == int(seed.group(1))
        failures = sorted((f["operation"], f["check"], f["message"])
                          for f in data["fuzz"]["failures"])
        found.append((seed.group(1), failures))
    assert found[0][1], "the fault was not caught at all"
    assert found[1] == found[0]
