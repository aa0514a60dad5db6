"""The link walk: every link of the specs followed a fixed number of times, for CON-08.

Schemathesis's state machine follows links with a probability (and applies each value a link
hands over with another), so whether a run ever walks isredeemable → validationcode with the
same points is luck. This walk is not: for every link in the specs it makes ``CHAINS`` chains.
Each chain calls the link's source operation with generated data until it answers the link's
status, then calls the target with exactly the values the link hands over (the rest of the
target's request generated). Both answers are checked against the JSON Schema and, for XML,
the XSD. Generation follows ``--seed`` (or a fixed seed), so a run is repeatable.

A link whose definition carries ``x-walk-skip`` (the reason) is named, not walked: redeem ->
reverse hands over a redemption id only for a redemption made with the code sent to the
customer, which generated data cannot have. Trying anyway cost a fifth of a run's CPU.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import BinaryIO

import hypothesis
import requests
from hypothesis import HealthCheck, Phase
from schemathesis.core import NOT_SET
from schemathesis.core.result import Ok
from schemathesis.core.transforms import UNRESOLVABLE
from schemathesis.core.transport import Response
from schemathesis.generation.stateful.state_machine import StepOutput
from schemathesis.specs.openapi.stateful import collect_transitions

from conformance.checks import fuzz, judge
from conformance.checks.contract import xml_valid_against_xsd
from conformance.checks.failure import FuzzFailure
from conformance.checks.fuzz import (
    FuzzOutcome,
    FuzzSettings,
    build_schema,
    response_exchange,
)
from conformance.core import astguard, interrupt
from conformance.target.client import capped_body
from conformance.target.redaction import REDACTOR
from conformance.target.throttle import Throttle, Throttled

REQ_ID = "CON-08"
LABEL = "link walk"
CHAINS = 3  # chains walked per link
# Generated source calls per chain, at most: generated data is often refused (a negative
# amount, no customer named), and only an answer with the link's status hands values over.
SOURCE_ATTEMPTS = 20
# A link none of whose first sources answered its status with its values is left: the two
# first batches of sources.
GIVE_UP_AFTER = 18
SKIP_KEY = "x-walk-skip"  # on a link of the specs: why the walk does not follow it
DEFAULT_SEED = 0


def _schema_conformance(ctx, response, case):
    """JSON Schema of the answer's status and media type (schemathesis's own validation)."""
    problems = judge.schema_problems(case.operation, response, case)
    if problems:
        raise AssertionError("; ".join(problems))


CHECKS: tuple[tuple[str, Callable], ...] = (
    ("response_schema_conformance", _schema_conformance),
    ("xml_valid_against_xsd", xml_valid_against_xsd),
)


@dataclass
class _Walk:
    settings: FuzzSettings
    outcome: FuzzOutcome
    session: requests.Session
    seen: set

    def send(self, case) -> Response | None:
        interrupt.raise_if_requested()
        try:
            response = case.call(session=self.session, timeout=self.settings.timeout_s,
                                 max_redirects=0, hooks={"response": [capped_body]})
        except (requests.RequestException, Throttled) as exc:
            self.outcome.add_error(LABEL, REDACTOR.text(f"{case.operation.label}: {exc}") or "")
            return None
        self.outcome.operations[LABEL] = self.outcome.operations.get(LABEL, 0) + 1
        self.outcome.seen.observe_response(case.operation.label, response)
        return response

    def check(self, link_name: str, case, response: Response) -> None:
        for name, check in CHECKS:
            try:
                skipped = check(None, response, case)
            except AssertionError as failure:
                self._fail(link_name, name, case, response, failure)
                continue
            if not skipped:
                self.outcome.checks_run[REQ_ID] = self.outcome.checks_run.get(REQ_ID, 0) + 1
                per_op = self.outcome.checks_by_operation.setdefault(LABEL, {})
                per_op[REQ_ID] = per_op.get(REQ_ID, 0) + 1

    def _fail(self, link_name, check_name, case, response, failure) -> None:
        message = str(failure)
        title = message.split(":", 1)[0]
        key = (link_name, case.operation.label, check_name, title)
        if key in self.seen:
            return
        self.seen.add(key)
        self.outcome.failures.append(FuzzFailure(
            req_id=REQ_ID, operation=case.operation.label, check=check_name,
            message=REDACTOR.text(f"following the link {link_name}: {message}") or "",
            curl=REDACTOR.text(case.as_curl_command()) or "",
            exchange=response_exchange(response),
        ))


def _examples(strategy, count: int, seed: int) -> list:
    """``count`` values of ``strategy``, the same ones on every run with the same seed."""
    found: list = []

    @hypothesis.seed(seed)
    @hypothesis.settings(max_examples=count, database=None, deadline=None,
                         phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(strategy)
    def collect(value):
        found.append(value)

    collect()
    return found[:count]


def _batches(strategy, seed: int, batch: int, most: int,
             wanted: Callable[[], int] | None = None) -> Iterator:
    """Values of ``strategy`` in doubling batches, generated only when needed, ``most`` in all
    (each batch is one Hypothesis run, which costs more than the values it draws). ``wanted``
    says how many values the caller may take in all: a batch is never drawn past it."""
    produced = 0
    for index in itertools.count():
        room = min(most, most if wanted is None else wanted()) - produced
        if room <= 0:
            return
        values = _examples(strategy, min(batch << index, room), seed + index)
        if not values:
            return
        for value in values:
            yield value
            produced += 1
            if produced == most:
                return


def _resolved(value) -> bool:
    """Whether a value a link hands over is all there (the source's answer had every part)."""
    if value is None or value is UNRESOLVABLE:
        return False
    if isinstance(value, dict):
        return all(_resolved(v) for v in value.values())
    if isinstance(value, list):
        return all(_resolved(v) for v in value)
    return True


def _target_case(link, source_case, response, seed: int):
    """The target's case with every value the link hands over, or None when one is missing."""
    transition = link.extract(StepOutput(response, source_case))
    overrides: dict[str, dict] = {}
    for container, values in transition.parameters.items():
        for name, extracted in values.items():
            if not isinstance(extracted.value, Ok) or extracted.value.ok() is None:
                return None
            overrides.setdefault(container, {})[name] = extracted.value.ok()
            if not _resolved(extracted.value.ok()):
                return None
    body, media_type = NOT_SET, None
    if transition.request_body is not None:
        if not isinstance(transition.request_body.value, Ok):
            return None
        body, media_type = transition.request_body.value.ok(), "application/json"
        if not _resolved(body):
            return None
    strategy = link.target.as_strategy(
        path_parameters=overrides.get("path_parameters"), query=overrides.get("query"),
        headers=overrides.get("headers"), cookies=overrides.get("cookies"), body=body,
        media_type=media_type)
    found = _examples(strategy, 1, seed)
    return found[0] if found else None


def walk(settings: FuzzSettings, *, chains: int = CHAINS,
         progress: Callable[[str], None] | None = None,
         throttle: Throttle | None = None) -> FuzzOutcome:
    """Follow every link of the specs ``chains`` times; failures are CON-08's."""
    schema = build_schema(settings, phases=["stateful"], throttle=throttle)
    operations = [result.ok() for result in schema.get_all_operations()
                  if isinstance(result, Ok)]
    transitions = collect_transitions(operations)
    outcome = FuzzOutcome()
    session = requests.Session()
    session.auth = (settings.username, settings.password)
    conn = settings.connection
    session.headers.update({**conn.headers, "X-CAP-API-AUTH-ORG-ID": settings.org_id,
                            "X-CAP-UI-AUTH-TOKEN": settings.ui_token})
    connect = conn.requests_settings()
    session.verify, session.cert = connect["verify"], connect["cert"]
    session.proxies.update(connect["proxies"])
    state = _Walk(settings, outcome, session, set())
    walked: dict[str, int] = {}
    left: dict[str, str] = {}
    try:
        for source in operations:
            links = transitions.operations.get(source.label)
            for link in links.outgoing if links else ():
                name = f"{source.label} → {link.target.label}"
                reason = skip_reason(link)
                if reason:
                    left[name] = reason
                    message = "not walked"
                else:
                    walked[name] = _walk_link(state, link, name, chains)
                    message = f"{walked[name]} of {chains} chains"
                if progress:
                    progress(f"link walk, {name}: {message}")
    finally:
        session.close()
    missing = [f"{name} ({count} of {chains})" for name, count in walked.items()
               if count < chains]
    said = [f"{name}, not walked: {reason}" for name, reason in left.items()]
    if missing:
        said.append("links not walked as often as planned, as the source never answered the "
                    "link's status with its values: " + ", ".join(missing))
    if said:
        outcome.skipped[LABEL] = "; ".join(said)
    return outcome


def skip_reason(link) -> str | None:
    """The link's ``x-walk-skip`` in the specs: why the walk leaves it (None: it is walked)."""
    response = link.source.definition.raw.get("responses", {}).get(link.status_code, {})
    definition = response.get("links", {}).get(link.name, {})
    reason = definition.get(SKIP_KEY) if isinstance(definition, dict) else None
    return " ".join(str(reason).split()) if reason else None


def _walk_link(state: _Walk, link, name: str, chains: int) -> int:
    # A fixed seed when the run has none: the walk is the same on every run.
    seed = DEFAULT_SEED if state.settings.seed is None else state.settings.seed
    # Sources are generated a few at a time: most links get their chains from the first few.
    done = 0

    def wanted() -> int:
        # Enough chains, or a link whose source never answered its status (GIVE_UP_AFTER): no
        # batch past that is generated for nothing (each costs a Hypothesis run).
        if done == chains:
            return 0
        return GIVE_UP_AFTER if done == 0 else chains * SOURCE_ATTEMPTS

    sources = _batches(link.source.as_strategy(), seed, 2 * chains, chains * SOURCE_ATTEMPTS,
                       wanted)
    for tried, source_case in enumerate(sources):
        if done == chains or (done == 0 and tried == GIVE_UP_AFTER):
            break  # enough chains; or a source generated data never gets to the link's status
        response = state.send(source_case)
        if response is None:
            continue
        state.check(name, source_case, response)
        if str(response.status_code) != link.status_code:
            continue
        target_case = _target_case(link, source_case, response, seed)
        if target_case is None:
            continue
        answer = state.send(target_case)
        if answer is None:
            continue
        state.check(name, target_case, answer)
        done += 1
    return done


# --- CON-08 in a process of its own -------------------------------------------------------------

def linked(settings: FuzzSettings, progress: Callable[[str], None] | None = None,
           throttle: Throttle | None = None) -> FuzzOutcome:
    """CON-08: schemathesis's state machine, then the link walk that follows every link."""
    stateful = fuzz.run(settings, phases=["stateful"], progress=progress, throttle=throttle)
    if stateful.gone is not None:
        return stateful
    return stateful.merge(walk(settings, progress=progress, throttle=throttle))


def _child_main(fd: int) -> None:
    """A new interpreter's side (``linked_in_process`` without a zygote): settings and secrets
    on stdin, messages on the pipe ``fd``."""
    _serve(sys.stdin.buffer, Connection(fd, readable=False))


def _serve(orders, conn: Connection) -> None:
    """The child's side: settings and secrets read from ``orders`` (a binary file the parent
    keeps open while the walk may go on), messages sent on ``conn``."""
    # The parent decides when the run stops (Ctrl-C, SIGTERM) and terminates this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        settings, secrets = pickle.load(orders)
    except EOFError:  # the run ended, or did not need this process
        os._exit(0)

    def lifeline() -> None:  # the parent gone (orders closed): stop at once
        orders.read()
        os._exit(3)

    threading.Thread(target=lifeline, daemon=True).start()
    astguard.install()
    REDACTOR.add_forms(secrets)  # the same masks, and no_credential_echo's secrets
    # Only a run without a rate limit walks here (see linked_in_process): this throttle waits
    # out 429s and counts them for the parent.
    throttle = Throttle(settings.connection.rate_limit)
    try:
        outcome = linked(settings, progress=lambda message: conn.send(("progress", message)),
                         throttle=throttle)
        conn.send(("outcome", (outcome, throttle.counts)))
    except BaseException as exc:  # handed to the parent as text
        conn.send(("error", REDACTOR.text(f"{type(exc).__name__}: {exc}")))
    conn.close()


@dataclass
class _Child:
    """CON-08's process, as the parent sees it: where orders go, where messages come from."""

    orders: BinaryIO  # pickled (settings, secrets); closing it ends the child
    messages: Connection
    wait: Callable[[float], int | None]  # its exit code, waiting up to N seconds (None: running)
    kill: Callable[[], None]


_zygote: _Child | None = None


def prepare() -> None:
    """Fork CON-08's process now, while the run's process has one thread and the walk's
    libraries are imported: started from this copy instead of a new interpreter, it does not
    import them again (about a second of CPU per run). It waits for `linked_in_process`'s
    orders; `release` ends it when the run did not need it. Without os.fork (Windows), or
    once threads run, nothing is prepared and `linked_in_process` starts an interpreter."""
    global _zygote
    if _zygote is not None or not hasattr(os, "fork") or threading.active_count() > 1:
        return
    orders_r, orders_w = os.pipe()
    messages_r, messages_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the run
        try:
            os.close(orders_w)
            os.close(messages_r)
            quiet = os.open(os.devnull, os.O_RDWR)
            for stream in (0, 1, 2):
                os.dup2(quiet, stream)
            _serve(os.fdopen(orders_r, "rb"), Connection(messages_w, readable=False))
        finally:
            os._exit(0)
    os.close(orders_r)
    os.close(messages_w)
    _zygote = _Child(os.fdopen(orders_w, "wb"), Connection(messages_r, writable=False),
                     functools.partial(_wait_pid, pid), functools.partial(_kill_pid, pid))


def release() -> None:
    """End the prepared process if `linked_in_process` did not take it."""
    global _zygote
    child, _zygote = _zygote, None
    if child is not None:
        _stop(child)


def _wait_pid(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _kill_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _spawn() -> _Child:
    """CON-08's process as a new interpreter (where no zygote was prepared)."""
    read_fd, write_fd = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from conformance.checks.linkwalk import _child_main; "
                               "_child_main(int(sys.argv[1]))", str(write_fd)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(write_fd,))
    os.close(write_fd)
    assert child.stdin is not None

    def wait(timeout: float) -> int | None:
        try:
            return child.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill() -> None:
        child.kill()
        child.wait()

    return _Child(child.stdin, Connection(read_fd, writable=False), wait, kill)


def _stop(child: _Child) -> None:
    with contextlib.suppress(OSError):
        child.messages.close()
    with contextlib.suppress(OSError):
        child.orders.close()  # the child's lifeline
    if child.wait(2) is None:
        child.kill()


def linked_in_process(settings: FuzzSettings,
                      progress: Callable[[str], None] | None = None,
                      throttle: Throttle | None = None) -> FuzzOutcome:
    """``linked`` in a child process: generating the state machine's and the walk's data is
    CPU-bound Python, and in a thread it takes the GIL from the rest of the run (the fuzz
    phases, the scenarios and, by default, the reference server). The process `prepare`
    forked when there is one, else a new interpreter (multiprocessing's spawn would import
    the parent's __main__ again).

    Not for a run with a rate limit: the limit must hold for the whole run, and one limiter
    shared by threads holds it exactly (the caller runs ``linked`` in a thread instead; a run
    kept to N calls a second waits on the network, not on the CPU). The child's 429 counts
    are added to ``throttle``."""
    global _zygote
    child, _zygote = _zygote or _spawn(), None
    try:
        child.orders.write(pickle.dumps((settings, REDACTOR.secrets)))
        child.orders.flush()  # and left open: the child's lifeline
        while True:
            interrupt.raise_if_requested()
            if not child.messages.poll(0.2):
                continue
            try:
                kind, value = child.messages.recv()
            except EOFError:
                interrupt.raise_if_requested()
                raise RuntimeError(f"the CON-08 process ended without an outcome "
                                   f"(exit code {child.wait(5)})") from None
            if kind == "progress":
                if progress is not None:
                    progress(value)
            elif kind == "outcome":
                outcome, counts = value
                if throttle is not None:
                    throttle.add(counts)
                return outcome
            else:
                raise RuntimeError(f"the CON-08 process failed: {value}")
    finally:
        _stop(child)
