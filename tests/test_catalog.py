"""The requirement, error-code and conflict catalogs, and the CLI that shows them."""

from __future__ import annotations

import dataclasses

import pytest

from conformance.specs import catalog

PRODUCT_IDS = (
    [f"RDM-{n:02d}" for n in range(1, 13)] + [f"OTP-{n:02d}" for n in range(1, 8)]
    + [f"REV-{n:02d}" for n in range(1, 8)] + [f"TRF-{n:02d}" for n in range(1, 12)]
    + [f"GW-{n:02d}" for n in range(1, 5)] + [f"CON-{n:02d}" for n in range(1, 9)]
    + ["SEC-01", "SEC-02"]
)
# TRF-12 goes beyond the product catalog: the documents' transferredBy rule, judged with the
# profile's customers.outsider.
SHOULD = {"RDM-11", "OTP-04", "REV-06", "TRF-11", "TRF-12", "GW-03", "CON-03", "SEC-01",
          "SEC-02"}


def test_catalog_has_every_product_id_with_its_level():
    levels = {r.id: r.level for r in catalog.requirements()}
    assert set(PRODUCT_IDS) <= set(levels)
    assert {rid for rid, level in levels.items() if level == "SHOULD"} == SHOULD


def test_catalogs_are_consistent():
    assert catalog.check() == []


def test_consistency_check_catches_duplicates_and_unknown_codes(monkeypatch):
    reqs = catalog.requirements()
    broken = (*reqs, dataclasses.replace(reqs[0], codes=(12345,)))
    monkeypatch.setattr(catalog, "requirements", lambda: broken)
    problems = catalog.check()
    assert f"requirements.yaml: id {reqs[0].id} listed twice" in problems
    assert f"requirements.yaml: {reqs[0].id}: code 12345 is not in error-codes.yaml" in problems


def test_business_codes_of_the_catalog_rules_are_known():
    known = {c["code"] for c in catalog.error_codes()}
    assert {800, 807, 821, 819, 818, 809, 820, 3045, 686, 881, 816, 802, 801, 859, 808, 824,
            812, 810, 902, 901, 904, 418, 414, 415} <= known


def test_requirements_command_prints_every_id(cli):
    result = cli("requirements")
    assert result.returncode == 0, result.stderr
    for rid in PRODUCT_IDS:
        assert f"\n{rid} " in result.stdout
    assert "52 requirements: 43 MUST, 9 SHOULD." in result.stdout


def test_readme_lists_every_requirement_id_with_a_line():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    for req in catalog.requirements():
        assert f"\n| {req.id} | " in readme, req.id


def test_every_documented_code_is_expected_by_a_requirement_or_given_a_reason():
    accounts = catalog.code_accounts()
    documented = {entry["code"] for entry in catalog.error_codes()}
    assert {row["code"] for row in accounts} == documented
    unaccounted = [row["code"] for row in accounts
                   if not row["requirements"] and not row["reason"]]
    assert unaccounted == []
    assert catalog.code_problems() == []
    # The codes of the rules added for the documents' gaps are expected, not excused.
    by_code = {row["code"]: row for row in accounts}
    assert "TRF-09" in by_code[686]["requirements"] and "REV-07" in by_code[905]["requirements"]
    assert {"TRF-11"} <= set(by_code[807]["requirements"]) & set(by_code[819]["requirements"]) \
        & set(by_code[821]["requirements"])


def _lone_codes() -> list[tuple[str, int]]:
    """(id, code) for each code exactly one requirement expects."""
    reqs = catalog.requirements()
    return [(r.id, code) for r in reqs for code in r.codes
            if sum(code in other.codes for other in reqs) == 1]


@pytest.mark.parametrize(("req_id", "code"), _lone_codes())
def test_removing_a_requirements_code_leaves_it_unaccounted(monkeypatch, req_id, code):
    """A code only one requirement expects is accounted for by that requirement alone: take it
    out of the requirement and the codes check names it."""
    stripped = tuple(
        dataclasses.replace(r, codes=tuple(c for c in r.codes if c != code))
        if r.id == req_id else r for r in catalog.requirements())
    monkeypatch.setattr(catalog, "requirements", lambda: stripped)
    problems = catalog.code_problems()
    assert any(p.startswith(f"code {code} (") and "no requirement expects it" in p
               for p in problems), problems


def test_a_reason_for_a_code_a_requirement_expects_is_stale(monkeypatch):
    raw = catalog.unjudged()
    stale = {**raw, "codes": (*raw["codes"], {"code": 905, "why": "vendor-side",
                                               "reason": "pretend"})}
    monkeypatch.setattr(catalog, "unjudged", lambda: stale)
    assert any("code 905: expected by REV-07" in p for p in catalog.code_problems())


def test_requirements_codes_prints_every_code_with_who_expects_it_or_why_not(cli):
    result = cli("requirements", "--codes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for row in catalog.code_accounts():
        line = next(line for line in lines if line.startswith(f"{row['code']} "))
        if row["requirements"]:
            assert " ".join(row["requirements"]) in line
        else:
            assert f"({row['why']})" in line
    assert "why not: A temporary failure of the vendor's service" in result.stdout
    assert "0 unaccounted." in result.stdout
    # who may act as a group transfer's transferredBy is judged now (TRF-12 expects 904)
    assert any(line.startswith("904 ") and "TRF-12" in line for line in lines)
