"""Contract: every operation fuzzed by schemathesis, each failed check mapped to its CON-* id."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from conformance.checks import fuzz
from conformance.suite import plugin
from conformance.suite.contract_phase import (
    OPERATIONS,
    PER_OPERATION_IDS,
    STATEFUL,
    UNCHECKED,
    engine_job,
    fuzz_phases,
    linked_job,
    record,
    why_not_fuzzed,
)

pytestmark = pytest.mark.contract_phase


def _outcome(pc, request, key: str, run: Callable[[], fuzz.FuzzOutcome]) -> fuzz.FuzzOutcome:
    background = pc.prefetch.result(key, pc.drain) if pc.prefetch is not None else None
    outcome = background if background is not None else run()
    only = pc.options["only"]
    if only:  # a check of an id not selected (--only) fired along the way: not this run's
        outcome = dataclasses.replace(
            outcome, failures=[f for f in outcome.failures if f.req_id in only])
    if outcome.gone is not None:
        record(pc, outcome, (), request.node.nodeid)  # what was found, into the report
        plugin.abort_run(request.config, f"target {pc.profile.base_url}: {outcome.gone}")
    return outcome


def _summary(outcome: fuzz.FuzzOutcome) -> str:
    lines = [f"{f.req_id} {f.check} on {f.operation}: {f.message.splitlines()[0]}"
             for f in outcome.failures]
    return "\n".join(lines)


@pytest.mark.requirement(*PER_OPERATION_IDS, explicit=True)
@pytest.mark.parametrize(("operation_id", "family"), [(o[0], o[1]) for o in OPERATIONS],
                         ids=[o[2] for o in OPERATIONS])
def test_operation_conforms_to_its_contract(pc, request, operation_id, family):
    why_not = why_not_fuzzed(pc, operation_id)
    if why_not is not None:
        pytest.skip(why_not)
    outcome = _outcome(pc, request, operation_id, engine_job(pc, fuzz_phases(pc), [operation_id]))
    record(pc, outcome, PER_OPERATION_IDS, request.node.nodeid)
    if not outcome.operations or not any(outcome.operations.values()):
        reasons = "; ".join(outcome.errors) or "; ".join(outcome.skipped.values())
        pytest.skip(f"no test case ran: {reasons or 'no reason given by schemathesis'}")
    assert not outcome.failures, _summary(outcome)


@pytest.mark.requirement("CON-08", explicit=True)
# The stateful phase and the link walk belong to --suite fuzz and all, not contract.
@pytest.mark.suites("fuzz", "all")
def test_linked_sequences_stay_schema_conformant(pc, request):
    outcome = _outcome(pc, request, STATEFUL, linked_job(pc))
    record(pc, outcome, ("CON-08",), request.node.nodeid)
    stateful_failures = [f for f in outcome.failures if f.req_id == "CON-08"]
    if not stateful_failures and not outcome.checks_run.get("CON-08"):
        pytest.skip(UNCHECKED["CON-08"])
    assert not outcome.failures, _summary(outcome)
