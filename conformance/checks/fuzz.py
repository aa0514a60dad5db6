"""Schemathesis fuzzing of the selected operations: the engine driver.

The schemathesis engine (the same one `st run` drives) runs the phases with the checks of
``checks.contract``; each failed check is mapped to the requirement it breaks (a FuzzOutcome).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import requests
import schemathesis
from pyrate_limiter import Limiter
from schemathesis.engine import events, from_schema
from schemathesis.engine.run import PhaseName
from schemathesis.engine.run.probes import PROBES

from conformance.checks.contract import CHECK_IDS, STATEFUL_IDS
from conformance.checks.failure import FuzzFailure
from conformance.core import interrupt
from conformance.specs import openapi
from conformance.target.client import ClientError, NoAnswerStreak, is_state_changing
from conformance.target.connection import Connection
from conformance.target.redaction import REDACTOR
from conformance.target.seen import Seen
from conformance.target.throttle import THROTTLE_KEY, Throttle

# What the client's mutation guard would refuse, by operation: the fuzz phase goes through
# schemathesis's transport, so it leaves these out instead (one definition: client's).
MUTATING_OPERATIONS = frozenset(
    op.operation_id for op in openapi.iter_operations(openapi.load_combined())
    if is_state_changing(op.method, op.path))
# A target that gives no usable answer (timeouts, hang-ups, floods) to this many fuzzed calls
# in a row is not worth fuzzing on: the engine stops and the run is aborted with the reason.
NO_ANSWER_LIMIT = 50
ERRORS_KEPT = 5  # distinct engine error messages kept per operation
STATEFUL_LABEL = "stateful"


# --- running ----------------------------------------------------------------------------------

@dataclass
class FuzzOutcome:
    operations: dict[str, int] = field(default_factory=dict)  # label -> test cases
    failures: list[FuzzFailure] = field(default_factory=list)
    checks_run: dict[str, int] = field(default_factory=dict)  # requirement id -> checks passed
    # Engine problems (no usable answer, a schema the engine cannot use …): the first few
    # distinct messages per operation label ("" for the run as a whole), and how many in all.
    errors_by_operation: dict[str, list[str]] = field(default_factory=dict)
    error_count: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # label -> why
    # label -> requirement id -> checks passed, so one engine run can be reported per operation
    checks_by_operation: dict[str, dict[str, int]] = field(default_factory=dict)
    # Why fuzzing stopped before its end because the target gave no usable answers, or None.
    gone: str | None = None
    # What was sent and received, per operation label (the run's coverage)
    seen: Seen = field(default_factory=Seen)

    @property
    def errors(self) -> list[str]:
        found = [e for messages in self.errors_by_operation.values() for e in messages]
        if self.error_count > len(found):
            found.append(f"... {self.error_count - len(found)} more calls without a usable "
                         f"answer")
        return found

    def add_error(self, label: str, message: str) -> None:
        self.error_count += 1
        kept = self.errors_by_operation.setdefault(label, [])
        if len(kept) < ERRORS_KEPT and message not in kept:
            kept.append(message)

    def merge(self, other: FuzzOutcome) -> FuzzOutcome:
        """This outcome and ``other`` (another run over other labels) as one."""
        merged = FuzzOutcome(
            operations={**self.operations, **other.operations},
            failures=self.failures + other.failures,
            checks_run=dict(self.checks_run),
            errors_by_operation={**self.errors_by_operation, **other.errors_by_operation},
            error_count=self.error_count + other.error_count,
            skipped={**self.skipped, **other.skipped},
            checks_by_operation={**self.checks_by_operation, **other.checks_by_operation},
            gone=self.gone or other.gone,
            seen=Seen().merge(self.seen).merge(other.seen),
        )
        for req_id, count in other.checks_run.items():
            merged.checks_run[req_id] = merged.checks_run.get(req_id, 0) + count
        return merged

    def for_operation(self, label: str) -> FuzzOutcome:
        """The part of a run over several operations that concerns ``label``."""
        mine = {key: list(self.errors_by_operation[key]) for key in (label, "")
                if key in self.errors_by_operation}
        return FuzzOutcome(
            operations={label: self.operations[label]} if label in self.operations else {},
            failures=[f for f in self.failures if f.operation == label],
            checks_run=dict(self.checks_by_operation.get(label, {})),
            errors_by_operation=mine,
            error_count=sum(len(v) for v in mine.values()),
            skipped={label: self.skipped[label]} if label in self.skipped else {},
            gone=self.gone,
            seen=self.seen.for_label(label),
        )


@dataclass(frozen=True)
class FuzzSettings:
    base_url: str
    username: str
    password: str  # as sent (md5 already applied when the profile asks)
    org_id: str = ""
    ui_token: str = ""
    timeout_s: float = 10.0
    max_examples: int = 25
    seed: int | None = None
    strict: bool = False
    allow_mutations: bool = True
    workers: int = 1
    # target.headers, proxy and TLS (flags applied): schemathesis's transport sends with them
    connection: Connection = field(default_factory=Connection)


def build_schema(settings: FuzzSettings, *, phases: Iterable[str],
                 operation_ids: Iterable[str] | None = None, throttle: Throttle | None = None):
    """The engine's schema; ``throttle`` (the run's rate limit and 429 handling) is applied to
    every call by ``contract.before_call``, which finds it by the name kept in the spec."""
    doc = openapi.load_combined(strict=settings.strict)
    doc["info"]["x-strict"] = settings.strict
    if throttle is not None:
        doc["info"][THROTTLE_KEY] = throttle.name
    config = schemathesis.Config()
    if settings.seed is not None:
        config.update(seed=settings.seed, max_failures=None)
    schema = schemathesis.openapi.from_dict(doc, config=config)
    conn = settings.connection
    tls = conn.tls
    schema.config.update(
        base_url=settings.base_url,
        basic_auth=(settings.username, settings.password),
        headers={**conn.headers, "X-CAP-API-AUTH-ORG-ID": settings.org_id,
                 "X-CAP-UI-AUTH-TOKEN": settings.ui_token},
        tls_verify=tls.requests_verify,
        request_cert=None if tls.client_cert is None else str(tls.client_cert),
        request_cert_key=None if tls.client_key is None else str(tls.client_key),
        proxy=conn.proxy,
        request_timeout=settings.timeout_s,
        max_redirects=0,  # a redirect is never followed: credentials stay with the target
        workers=settings.workers,
        continue_on_failure=True,
    )
    schema.config.phases.update(phases=list(phases))
    schema.config.generation.update(max_examples=settings.max_examples)
    schema.config.checks.update(included_check_names=list(CHECK_IDS))
    if operation_ids is not None:
        schema = schema.include(operation_id=list(operation_ids))
    if not settings.allow_mutations:
        schema = schema.exclude(operation_id=sorted(MUTATING_OPERATIONS))
    if throttle is not None and throttle.limiter is not None:
        schema.config.rate_limit = Pacer(throttle)
    return schema


class Pacer(Limiter):
    """The run's rate limit where schemathesis's transport applies its own (``rate_limit``):
    right before each call it sends, whichever part of the engine sends it. The slot is
    released by the answer's hook (``contract.before_call``) or the thread's next call."""

    def __init__(self, throttle: Throttle) -> None:  # no pyrate bucket: the throttle's
        self.throttle = throttle

    def try_acquire(self, name: str = "", weight: int = 1, blocking: bool = True,
                    timeout: float = -1) -> bool:
        self.throttle.begin()
        return True


def _exchange(recorder, case_id: str) -> dict | None:
    interaction = recorder.interactions.get(case_id)
    if interaction is None or interaction.response is None:
        return None
    req = interaction.request
    return _exchange_record(req.method, req.uri, req.headers, req.body, interaction.response)


def response_exchange(response) -> dict:
    """The exchange record of an answer schemathesis's transport received."""
    req = response.request
    return _exchange_record(req.method, req.url, req.headers, req.body, response)


def _exchange_record(method, url, headers, body, resp) -> dict:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    sent = {k: v[0] if isinstance(v, list) else v for k, v in (headers or {}).items()}
    authorization = next((v for k, v in sent.items() if k.lower() == "authorization"), None)
    return {
        "id": uuid.uuid4().hex[:12],
        "auth": REDACTOR.basic_kind(authorization),
        "method": method,
        "url": url,
        "request_headers": REDACTOR.headers(sent),
        "request_body": REDACTOR.text(body),
        "status": resp.status_code,
        "response_headers": REDACTOR.headers({k: v[0] if isinstance(v, list) else v
                                              for k, v in resp.headers.items()}),
        "response_body": REDACTOR.text(resp.content.decode("utf-8", "replace")[:16384]),
        "elapsed_ms": round(resp.elapsed * 1000, 1),
    }


def run(settings: FuzzSettings, *, phases: Iterable[str],
        operation_ids: Iterable[str] | None = None,
        progress: Callable[[str], None] | None = None,
        throttle: Throttle | None = None) -> FuzzOutcome:
    """Run the engine and return what it found, failures mapped to requirement ids."""
    phases = list(phases)
    stateful = phases == ["stateful"]
    schema = build_schema(settings, phases=phases, operation_ids=operation_ids,
                          throttle=throttle)
    # The engine's first calls (its probes of the HTTP server) go out on a session of their
    # own, past the transport: their slots are taken here and released once they are done.
    probes = [throttle.acquire() for _ in PROBES] if throttle is not None else []
    try:
        return _run(schema, stateful, probes, throttle, progress)
    finally:
        for slot in probes:
            throttle.release(slot)


def _run(schema, stateful: bool, probes: list, throttle: Throttle | None,
         progress: Callable[[str], None] | None) -> FuzzOutcome:
    outcome = FuzzOutcome()
    seen: set[tuple[str, str, str, str]] = set()
    stream = from_schema(schema).execute()
    unanswered = NoAnswerStreak(NO_ANSWER_LIMIT, "fuzzed calls", "no usable answer")
    for event in stream:
        interrupt.raise_if_requested()
        if isinstance(event, events.PhaseFinished) and event.phase.name == PhaseName.PROBING:
            for slot in probes:
                throttle.release(slot)
        if isinstance(event, events.ScenarioFinished):
            label = event.label or STATEFUL_LABEL
            recorder = event.recorder
            if any(recorder.checks.values()):
                unanswered.answered()
            outcome.operations[label] = outcome.operations.get(label, 0) + len(recorder.cases)
            if event.skip_reason:
                outcome.skipped[label] = event.skip_reason
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None:
                    case = recorder.cases.get(case_id)
                    outcome.seen.observe_response(
                        case.value.operation.label if case is not None else label,
                        interaction.response)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    req_id = (STATEFUL_IDS.get(check.name) if stateful else None) or \
                        CHECK_IDS.get(check.name)
                    if req_id is None:
                        continue
                    if check.failure_info is None:
                        if check.status.value == "success":
                            outcome.checks_run[req_id] = outcome.checks_run.get(req_id, 0) + 1
                            per_op = outcome.checks_by_operation.setdefault(label, {})
                            per_op[req_id] = per_op.get(req_id, 0) + 1
                        continue
                    failure = check.failure_info.failure
                    message = REDACTOR.text(f"{failure.title}: {failure.message}".strip()) or ""
                    case = recorder.cases.get(case_id)
                    op_label = case.value.operation.label if case is not None else label
                    key = (req_id, op_label, check.name, failure.title)
                    if key in seen:
                        continue
                    seen.add(key)
                    outcome.failures.append(FuzzFailure(
                        req_id=req_id, operation=op_label, check=check.name, message=message,
                        curl=REDACTOR.text(check.failure_info.code_sample) or "",
                        exchange=_exchange(recorder, case_id),
                    ))
            if progress and recorder.cases:
                phase = getattr(event.phase, "value", event.phase)
                progress(f"{phase} phase, {label}: {outcome.operations[label]} cases so far, "
                         f"{len(outcome.failures)} failures")
        elif isinstance(event, events.Interrupted):
            if outcome.gone is not None:
                continue  # we stopped it ourselves
            # The engine swallows Ctrl-C to end its own run; the whole suite must stop too.
            raise KeyboardInterrupt
        elif isinstance(event, events.NonFatalError):
            message = REDACTOR.text(str(event.info.message)) or ""
            outcome.add_error(event.label if event.related_to_operation else "", message)
            if _no_answer(event.value):
                unanswered.missed(" ".join(message.split())[:200])
            else:
                unanswered.answered()
            if unanswered.gone is not None and outcome.gone is None:
                outcome.gone = unanswered.gone
                stream.stop()
        elif isinstance(event, events.FatalError):
            outcome.add_error("", REDACTOR.text(str(event.exception)) or "")
    interrupt.raise_if_requested()
    return outcome


def _no_answer(exc: BaseException | None) -> bool:
    """Whether an engine error is the target giving no usable answer (not our own bug)."""
    for _ in range(6):
        if exc is None:
            return False
        if isinstance(exc, ClientError | requests.ConnectionError | requests.Timeout):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
