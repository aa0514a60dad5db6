"""The requirement, error-code and conflict catalogs, and the CLI that shows them."""

from __future__ import annotations

import dataclasses

from conformance.specs import catalog

PRODUCT_IDS = (
    [f"RDM-{n:02d}" for n in range(1, 13)] + [f"OTP-{n:02d}" for n in range(1, 8)]
    + [f"REV-{n:02d}" for n in range(1, 7)] + [f"TRF-{n:02d}" for n in range(1, 9)]
    + [f"GW-{n:02d}" for n in range(1, 5)] + [f"CON-{n:02d}" for n in range(1, 9)]
    + ["SEC-01", "SEC-02"]
)
SHOULD = {"RDM-11", "OTP-04", "REV-06", "GW-03", "CON-03", "SEC-01", "SEC-02"}


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
    assert "47 requirements: 40 MUST, 7 SHOULD." in result.stdout


def test_readme_lists_every_requirement_id_with_a_line():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    for req in catalog.requirements():
        assert f"\n| {req.id} | " in readme, req.id
