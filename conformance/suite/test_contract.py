"""Contract: every operation fuzzed by schemathesis, each failed check mapped to its CON-* id."""

from __future__ import annotations

import pytest

from conformance import fuzz, specs

pytestmark = pytest.mark.contract_phase

OPERATIONS = [(op.operation_id, op.definition.get("x-family", ""), f"{op.method.upper()} {op.path}")
              for op in specs.iter_operations(specs.load_combined())]
PER_OPERATION_IDS = ("CON-01", "CON-02", "CON-03", "CON-04", "CON-05", "CON-06", "CON-07",
                     "SEC-01", "SEC-02")
PHASES = {"all": ["examples", "coverage", "fuzzing"], "contract": ["examples", "coverage"],
          "fuzz": ["fuzzing"]}


def _settings(pc) -> fuzz.FuzzSettings:
    profile = pc.profile
    return fuzz.FuzzSettings(
        base_url=profile.base_url, username=profile.auth.username,
        password=pc.client.password_as_sent, org_id=str(profile.auth.org_id or ""),
        ui_token=profile.auth.ui_token or "", timeout_s=profile.timeout_s,
        max_examples=pc.options["max_examples"], seed=pc.options["seed"],
        strict=pc.options["strict"], allow_mutations=pc.client.mutations_allowed,
        workers=pc.options["workers"],
    )


def _record(pc, outcome: fuzz.FuzzOutcome, ids: tuple[str, ...], source: str) -> None:
    collector = pc.collector
    for label, cases in outcome.operations.items():
        if label == fuzz.STATEFUL_LABEL:
            collector.note(f"stateful phase: {cases} linked calls along the spec's links")
            continue
        collector.fuzz_operation(label)
        collector.fuzz_cases(label, cases)
    failed = set()
    for failure in outcome.failures:
        failed.add(failure.req_id)
        collector.fuzz_failure(failure.req_id, operation=failure.operation, check=failure.check,
                               message=failure.message, exchange=failure.exchange)
    for req_id in ids:
        if req_id not in failed and outcome.checks_run.get(req_id):
            collector.record(req_id, "passed", source=source)
    for error in outcome.errors:
        collector.note(f"{source}: {error}")


def _summary(outcome: fuzz.FuzzOutcome) -> str:
    lines = [f"{f.req_id} {f.check} on {f.operation}: {f.message.splitlines()[0]}"
             for f in outcome.failures]
    return "\n".join(lines)


@pytest.mark.requirement(*PER_OPERATION_IDS, explicit=True)
@pytest.mark.parametrize(("operation_id", "family"), [(o[0], o[1]) for o in OPERATIONS],
                         ids=[o[2] for o in OPERATIONS])
def test_operation_conforms_to_its_contract(pc, request, operation_id, family):
    if pc.options["strict"] and operation_id not in {
            op.operation_id for op in specs.iter_operations(specs.load_combined(strict=True))}:
        pytest.skip("not in the strict specs (DC-10: the goodwill path of the title line)")
    if operation_id in fuzz.MUTATING_OPERATIONS and not pc.client.mutations_allowed:
        pytest.skip("state-changing operation on a non-loopback target: pass --allow-mutations")
    outcome = fuzz.run(_settings(pc), phases=PHASES[pc.options["suite"]
                                                    if pc.options["suite"] in PHASES else "all"],
                       operation_ids=[operation_id], progress=pc.progress)
    _record(pc, outcome, PER_OPERATION_IDS, request.node.nodeid)
    if not outcome.operations or not any(outcome.operations.values()):
        reasons = "; ".join(outcome.errors) or "; ".join(outcome.skipped.values())
        pytest.skip(f"no test case ran: {reasons or 'no reason given by schemathesis'}")
    assert not outcome.failures, _summary(outcome)


@pytest.mark.requirement("CON-08", explicit=True)
def test_linked_sequences_stay_schema_conformant(pc, request):
    if pc.options["suite"] == "contract":
        pytest.skip("the stateful phase belongs to --suite fuzz or all")
    outcome = fuzz.run(_settings(pc), phases=["stateful"], progress=pc.progress)
    _record(pc, outcome, ("CON-08",), request.node.nodeid)
    stateful_failures = [f for f in outcome.failures if f.req_id == "CON-08"]
    if not stateful_failures and not outcome.checks_run.get("CON-08"):
        pytest.skip("the stateful phase ran no linked sequence")
    assert not outcome.failures, _summary(outcome)
