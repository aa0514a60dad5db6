"""Every fault switch of the reference server makes exactly its requirements fail.

For each fault of conformance.run.fault_catalog: the reference server with that one fault (fresh
database, free loopback port) and ``points-conformance run`` against it, as a user runs it —
``--suite scenarios --only <the fault's ids>`` for a business fault, the whole contract or
fuzz suite for a contract fault; the ids that fail must be exactly the fault's, with no error.
Every fault names the ids it breaks. The clean runs (no fault, every phase and scenario; one
per setup of the reference server) must leave nothing failed or unverified, and between them
pass every id of the catalog: REV-07 passes only where the program disables reversals, REV-01
to REV-06 only where it allows them.

The runs are subprocesses (pytest.main does not run twice in one process), two at a time;
select them alone with ``pytest tests/test_faults.py`` or ``-m faults``.
"""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from conformance import server
from conformance.run import selftest
from conformance.run.fault_catalog import (
    CATALOG,
    FAULT_EXPECTATIONS,
    SETUPS,
    VARIANT_GROUPS,
    faults_for,
)
from conformance.run.selftest import ALL_IDS, CLEAN, CLEAN_SETUPS, SETUP_FILES, Outcome
from conformance.specs import catalog

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def selftest_result() -> selftest.SelftestResult:
    """The clean run, then every fault's: what `points-conformance selftest` runs."""
    return selftest.run_all(workers=2)


@pytest.fixture(scope="module")
def outcomes(selftest_result) -> dict[str, Outcome]:
    found = {CLEAN.name: selftest_result.clean}
    found.update((run.fault, run) for run in selftest_result.setups)
    found.update((row.fault.name, row.outcome) for row in selftest_result.rows)
    return found


@pytest.mark.parametrize("variant", sorted(server.VARIANTS))
def test_a_legitimate_variant_is_judged_conformant(selftest_result, variant) -> None:
    run = next(run for run in selftest_result.variants if run.fault == variant)
    assert run.statuses, f"{variant}: the run did not finish\n{run.output}"
    wrong = {i for i, status in run.statuses.items() if status not in selftest.CONFORMANT}
    assert not wrong, f"{variant}: false failures\n{run.explain(wrong)}"


def test_the_selftest_line_ends_the_test_run(selftest_result, record_property) -> None:
    """The score is printed at the end of `pytest` (tests/conftest.py), as CI's last word."""
    line = selftest.render(selftest_result).splitlines()[-1]
    record_property("selftest", line)
    assert line.startswith(f"selftest: caught {selftest_result.caught}/{len(CATALOG)} faults")


def test_every_server_fault_has_an_expectation_and_none_is_stale() -> None:
    assert set(FAULT_EXPECTATIONS) == set(server.FAULTS)
    assert len(CATALOG) == len(FAULT_EXPECTATIONS), "a fault is listed twice"


def test_expectations_name_ids_the_faults_suite_can_fail() -> None:
    scenario_ids = {r.id for r in catalog.requirements() if r.area != "contract"}
    for fault in CATALOG:
        assert fault.ids <= set(ALL_IDS), fault
        assert fault.suite in ("scenarios", "contract", "fuzz", "all"), fault
        if fault.suite == "scenarios":
            assert fault.ids <= scenario_ids, fault
        else:
            assert fault.ids, f"{fault.name}: a contract fault must fail something"
        assert fault.description and "\n" not in fault.description, fault.name


def test_every_requirement_has_a_fault_that_fails_it() -> None:
    assert [i for i in ALL_IDS if not faults_for(i)] == []


def test_every_fault_names_what_it_breaks() -> None:
    # A fault with no ids is "caught" by a run in which nothing fails: it proves nothing.
    assert [fault.name for fault in CATALOG if not fault.ids] == []


def test_every_setup_has_its_seed_and_profile() -> None:
    assert set(SETUP_FILES) == set(SETUPS)
    for seed_data, profile in SETUP_FILES.values():
        assert profile.is_file() and (seed_data is None or seed_data.is_file())
    assert {fault.setup for fault in CATALOG} <= set(SETUPS)
    assert {clean.setup for clean in CLEAN_SETUPS} == set(SETUPS) - {"reference"}


def test_every_contract_requirement_is_proven_by_a_fuzzing_run() -> None:
    fuzzed = {i for fault in CATALOG if fault.suite != "scenarios" for i in fault.ids}
    contract = {r.id for r in catalog.requirements() if r.area == "contract"}
    assert contract | {"SEC-01", "SEC-02"} <= fuzzed


def test_clean_runs_pass_every_requirement(selftest_result) -> None:
    for run in (selftest_result.clean, *selftest_result.setups):
        wrong = {i for i in ALL_IDS if run.statuses.get(i) not in selftest.CONFORMANT}
        assert not wrong, f"{run.fault or 'clean'}: not passed\n{run.explain(wrong)}"
    assert not selftest_result.unproven, "passed in no clean setup"
    clean = selftest_result.clean
    assert clean.ids("not-applicable") == {"REV-07"}, clean.explain(clean.ids("not-applicable"))
    disabled, = selftest_result.setups
    assert disabled.ids("not-applicable") == {f"REV-0{i}" for i in range(1, 7)}


@pytest.mark.parametrize("fault", [f.name for f in CATALOG])
def test_fault_fails_exactly_its_requirements(outcomes: dict[str, Outcome], fault: str) -> None:
    run = outcomes[fault]
    assert run.statuses, f"{fault}: the run did not finish\n{run.output}"
    expected = FAULT_EXPECTATIONS[fault]
    failed, errors = run.ids("failed"), run.ids("error")
    assert not errors, f"{fault}: scenarios errored:\n{run.explain(errors)}"
    assert failed == expected, (
        f"{fault}: expected {sorted(expected) or 'nothing'} to fail, got {sorted(failed)}\n"
        f"missed:\n{run.explain(expected - failed)}\nextra:\n{run.explain(failed - expected)}")


def test_selftest_score_is_kept_per_version_for_the_report(tmp_path, outcomes) -> None:
    rows = tuple(selftest.Row(f, outcomes[f.name]) for f in CATALOG)
    result = selftest.SelftestResult(outcomes[CLEAN.name], rows, 1.0, ())
    assert selftest.render(result).endswith(
        f"selftest: caught {len(CATALOG)}/{len(CATALOG)} faults, false failures: 0")
    selftest.save(result, tmp_path)
    assert selftest.last_score(tmp_path)["caught"] == len(CATALOG)
    stale = selftest.score_path(tmp_path)
    stale.write_text(stale.read_text().replace('"version": "', '"version": "0.0.0-'))
    assert selftest.last_score(tmp_path) is None


def test_the_variant_groups_hold_every_variant_once() -> None:
    grouped = [name for group in VARIANT_GROUPS for name in group]
    assert sorted(grouped) == sorted(server.VARIANTS), "a variant is in no group, or in two"


def _judged(name: str, failing: set[str]) -> Outcome:
    return Outcome(name, {i: "failed" if i in failing else "passed" for i in ALL_IDS}, {}, 1.0,
                   "")


def test_a_group_judged_conformant_is_so_for_each_variant_without_another_run() -> None:
    group = ("a", "b")
    outcomes, runs = selftest._per_variant((group,), [_judged("a+b", set())],
                                           submit=None, progress=None)
    assert [o.fault for o in outcomes] == ["a", "b"] and runs == 1
    assert not any(selftest._not_conformant(o) for o in outcomes)


def test_a_group_with_a_false_failure_is_run_again_apart_to_name_the_variant() -> None:
    """Only variant b makes the suite fail RDM-03: the report must blame b alone."""
    asked = []

    def submit(names: tuple[str, ...]) -> Future:
        asked.append(names)
        done: Future = Future()
        done.set_result(_judged(names[0], {"RDM-03"} if names == ("b",) else set()))
        return done

    outcomes, runs = selftest._per_variant((("x",), ("a", "b")),
                                           [_judged("x", set()), _judged("a+b", {"RDM-03"})],
                                           submit, progress=None)
    assert asked == [("a",), ("b",)] and runs == 4
    result = selftest.SelftestResult(_judged("", set()), (), 1.0, outcomes)
    assert result.variant_failures == {"b": {"RDM-03"}}
    assert "false failures under the legitimate variant b:" in selftest.render(result)
