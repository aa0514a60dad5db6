"""The contract phase: one schemathesis engine run over the selected operations, and the state
machine plus the link walk for CON-08, run in background threads while the scenarios run.

Product code, not a test module: the plugin starts the phase (`prefetch`) and the contract tests
in `test_contract.py` wait for and record its outcomes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import pytest

from conformance.checks import fuzz, linkwalk
from conformance.core import interrupt
from conformance.specs import openapi
from conformance.target import client

OPERATIONS = [(op.operation_id, op.definition.get("x-family", ""), f"{op.method.upper()} {op.path}")
              for op in openapi.iter_operations(openapi.load_combined())]
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
        workers=pc.options["workers"], connection=profile.connection,
    )


def record(pc, outcome: fuzz.FuzzOutcome, ids: tuple[str, ...], source: str) -> None:
    collector = pc.collector
    collector.seen.merge(outcome.seen)
    for label, cases in outcome.operations.items():
        if label == fuzz.STATEFUL_LABEL:
            collector.note(f"stateful phase: {cases} linked calls along the spec's links")
            continue
        if label == linkwalk.LABEL:
            collector.note(f"link walk: {cases} calls, {linkwalk.CHAINS} chains along each "
                           "link it walks")
            continue
        collector.fuzz_operation(label)
        collector.fuzz_cases(label, cases)
    failed = set()
    for failure in outcome.failures:
        failed.add(failure.req_id)
        collector.fuzz_failure(failure.req_id, operation=failure.operation, check=failure.check,
                               message=failure.message, exchange=failure.exchange)
    for req_id in ids:
        if req_id in failed:
            continue
        if outcome.checks_run.get(req_id):
            collector.record(req_id, "passed", source=source)
        else:
            collector.record(req_id, "skipped", source=source, reason=_unchecked(req_id, outcome))
    for error in outcome.errors:
        collector.note(f"{source}: {error}")
    if linkwalk.LABEL in outcome.skipped:
        collector.note(f"link walk: {outcome.skipped[linkwalk.LABEL]}")


# Why an id was not checked when no answer of the run was one its checks apply to.
UNCHECKED = {
    "CON-02": "no XML answer (format=xml, HTTP 200 or 400) came back to check against the XSD",
    "CON-03": "no isredeemable call answered 200 or 400 in XML to compare with its JSON twin",
    "CON-08": "neither the stateful phase nor the link walk followed a link to an answer",
}


def _unchecked(req_id: str, outcome: fuzz.FuzzOutcome) -> str:
    reason = UNCHECKED.get(req_id, "no fuzzed answer came back that its checks apply to")
    if outcome.errors:
        reason += " (some calls got no usable answer: see the notes)"
    return reason


STATEFUL = "stateful"
ALL_OPERATIONS = "all operations"
LABELS = {operation_id: label for operation_id, _, label in OPERATIONS}


class Prefetch:
    """Runs the contract phase in a background thread while the scenarios run.

    Fuzzing sends random identifiers, so it cannot disturb the profile customers' balances the
    scenarios read; overlapping the two saves the scenarios' time on the wall clock. Each
    contract test then waits for its own operation's outcome.
    """

    def __init__(self, jobs: dict[str, Callable[[], fuzz.FuzzOutcome]],
                 labels: dict[str, str]):
        self._jobs = jobs
        self._labels = labels  # operation id -> label, for operations in the ALL_OPERATIONS job
        self._done = {key: threading.Event() for key in jobs}
        self._results: dict[str, fuzz.FuzzOutcome | BaseException] = {}
        # One thread per job: the stateful phase runs beside the others, so our generating
        # cases and the target answering them overlap on the wall clock.
        self._threads = [threading.Thread(target=self._run, args=(key,), daemon=True,
                                          name=f"contract-prefetch-{key}") for key in jobs]

    def start(self) -> Prefetch:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, key: str) -> None:
        try:
            self._results[key] = self._jobs[key]()
        except BaseException as exc:  # KeyboardInterrupt included: hand it to the test
            self._results[key] = exc
        self._done[key].set()
        if interrupt.requested():
            for event in self._done.values():
                event.set()

    def result(self, key: str, on_wait: Callable[[], None] = lambda: None
               ) -> fuzz.FuzzOutcome | None:
        """The outcome for ``key`` (waits for it), or None when it was not prefetched."""
        if key in self._labels:
            return self.result(ALL_OPERATIONS, on_wait).for_operation(self._labels[key])
        if key not in self._done:
            return None
        while not self._done[key].wait(0.2):
            on_wait()
            interrupt.raise_if_requested()
        on_wait()
        found = self._results.get(key)
        if found is None:
            raise KeyboardInterrupt
        if isinstance(found, BaseException):
            raise found
        return found


def prefetch(pc, items: list[pytest.Item]) -> Prefetch | None:
    """Start the contract phase of the selected contract tests in the background."""
    jobs: dict[str, Callable[[], fuzz.FuzzOutcome]] = {}
    labels: dict[str, str] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.originalname == "test_operation_conforms_to_its_contract" and callspec:
            operation_id = callspec.params["operation_id"]
            if why_not_fuzzed(pc, operation_id) is None:
                labels[operation_id] = LABELS[operation_id]
        elif item.originalname == "test_linked_sequences_stay_schema_conformant":
            jobs[STATEFUL] = linked_job(pc)
    if labels:
        # One engine run over every selected operation, as `st run` does: starting the engine
        # once per operation costs more than the phases themselves on a small API.
        jobs = {ALL_OPERATIONS: engine_job(pc, fuzz_phases(pc), sorted(labels)), **jobs}
    return Prefetch(jobs, labels).start() if jobs else None


def engine_job(pc, phases, operation_ids) -> Callable[[], fuzz.FuzzOutcome]:
    return lambda: fuzz.run(_settings(pc), phases=phases, operation_ids=operation_ids,
                            progress=pc.progress, throttle=pc.client.throttle)


def linked_job(pc) -> Callable[[], fuzz.FuzzOutcome]:
    """CON-08: schemathesis's state machine, then the link walk that follows every link, in a
    process of its own (``linkwalk.linked_in_process``): generating their data is CPU-bound
    Python, which in a thread would take the GIL from the fuzz phases and the scenarios.

    With a rate limit, in a thread of this process instead: the one limiter every thread
    shares then holds the limit for the whole run, and a run kept to N calls a second is
    bound by the limit rather than by the CPU."""
    throttle = pc.client.throttle
    if throttle.limiter is not None:
        return lambda: linkwalk.linked(_settings(pc), progress=pc.progress, throttle=throttle)
    return lambda: linkwalk.linked_in_process(_settings(pc), progress=pc.progress,
                                              throttle=throttle)


def fuzz_phases(pc) -> list[str]:
    return PHASES.get(pc.options["suite"], PHASES["all"])


@functools.cache
def _strict_operations() -> frozenset[str]:
    return frozenset(op.operation_id for op in openapi.iter_operations(openapi.load_combined(True)))


def why_not_fuzzed(pc, operation_id: str) -> str | None:
    """Why the operation is not fuzzed in this run, or None."""
    if pc.options["strict"] and operation_id not in _strict_operations():
        return "not in the strict specs (DC-10: the goodwill path of the title line)"
    if operation_id in fuzz.MUTATING_OPERATIONS and not pc.client.mutations_allowed:
        return client.MUTATIONS_REFUSED
    return None
