"""pytest plugin (``pytest11`` entry point): target options, the requirement marker, run state.

`points-conformance run` is a thin wrapper around ``pytest --pyargs conformance.suite`` with
these options, so a user can also run the suite with plain pytest and ``-k``. Outcomes are
aggregated per requirement id into the one results model (conformance.report.results).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from conformance import __version__
from conformance.core import interrupt
from conformance.report import results
from conformance.report.baseline import Baseline
from conformance.report.collector import Collector
from conformance.specs import catalog
from conformance.suite import options
from conformance.target.redaction import REDACTOR

if TYPE_CHECKING:
    from conformance.suite.progress import Progress
    from conformance.target.profile import Profile
    from conformance.target.throttle import Throttle


@dataclass
class RunState:
    """Everything a run shares: the target, its client and what the run has done to it."""

    profile: object
    client: object
    collector: object
    budget: object
    undo: object
    otp: object | None
    balances: object
    clock: object
    options: dict
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    progress_writer: object = None
    display: object = None  # progress.Progress when the runner keeps pytest's output aside
    prefetch: object = None  # the contract phase running in the background, if any
    # id -> why no selected test carries it (--only, --suite), set at collection
    not_selected: dict[str, str] = field(default_factory=dict)
    answers: object = None  # judge.AnswerLog: the scenarios' answers, judged as the fuzzer's
    exchanges: object = None  # report.exchange_log.ExchangeLog when the run writes reports
    _local: threading.local = field(default_factory=threading.local)
    _pending: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)

    @property
    def evidence(self) -> list:
        """Exchanges and notes gathered by the test running on this thread."""
        if not hasattr(self._local, "evidence"):
            self._local.evidence = []
        return self._local.evidence

    def drain(self) -> None:
        """Write out the progress lines other threads left (main thread only)."""
        while True:
            try:
                message = self._pending.get_nowait()
            except queue.Empty:
                return
            self.progress(message)

    def reset_evidence(self) -> None:
        self._local.evidence = []

    def progress(self, message: str, *, always: bool = False) -> None:
        """News of the run for the terminal; ``always`` keeps it even in a quiet log."""
        if self.display is not None:
            self.display.note(REDACTOR.text(message) or "", always=always)
            return
        writer = self.progress_writer
        if writer is None:
            return
        if threading.current_thread() is not threading.main_thread():
            # The background contract phase: output is captured while a test runs and the
            # capture manager belongs to the main thread, which writes these out (drain).
            self._pending.put(message)
            return
        # Tests run with output captured; progress must reach the terminal while they run.
        capture = writer.config.pluginmanager.getplugin("capturemanager")
        line = f"[points-conformance] {REDACTOR.text(message)}"
        if capture is None:
            writer.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            writer.write_line(line)


STATE_KEY = pytest.StashKey[RunState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_to_pytest(parser.getgroup("points-conformance", "points-conformance target"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(*ids, explicit=False): catalog ids the test verifies; with "
        "explicit=True the test records its own outcomes per id")
    config.addinivalue_line(
        "markers", "contract_phase: a schema-driven (fuzzing) test rather than a scenario")
    # pytest-xdist's own marker, which the scenarios carry; declared here too for runs without
    # the xdist plugin (points-conformance run), where it would be an "unknown mark" warning.
    config.addinivalue_line("markers", "xdist_group(name): run the group on one xdist worker")
    config.addinivalue_line(
        "markers", "suites(*names): the --suite values that select the test (default: by kind)")
    given = options.from_pytest(config)
    if given.profile is None:
        return
    if given.shard is not None:
        try:
            options.parse_shard(given.shard)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    from conformance.checks import judge
    from conformance.core import astguard
    from conformance.target import client as client_mod
    from conformance.target import hooks, spending
    from conformance.target.profile import load_profile

    astguard.install()  # the contract phase parses in background threads (see astguard)
    handover = _handover(config)
    if handover is not None and handover.profile is not None:
        profile = handover.profile  # the runner applied the connection flags already
    else:
        try:
            profile = given.connect(load_profile(given.profile, base_url=given.base_url))
        except options.OptionError as exc:
            raise pytest.UsageError(str(exc)) from None
    state_holder: dict = {}

    def recorder(exchange) -> None:
        state = state_holder.get("state")
        if state is not None:
            state.evidence.append(exchange.to_dict())
            if state.exchanges is not None:
                state.exchanges.write(exchange.to_dict())

    def observer(method, path, response, exchange) -> None:
        state = state_holder.get("state")
        if state is not None:
            state.collector.seen.observe_response(f"{method.upper()} {path}", response)
        if state is not None and state.answers is not None:
            state.answers.observe(method, path, response, exchange)

    if not profile.connection.tls.verify:
        # Asked for (--tls-verify false): the run says so once, not with a warning per call
        config.addinivalue_line("filterwarnings",
                                "ignore::urllib3.exceptions.InsecureRequestWarning")
    target = client_mod.TargetClient(
        profile, allow_mutations=given.allow_mutations, recorder=recorder, observer=observer,
        throttle=handover.throttle if handover is not None else None)
    state = RunState(
        profile=profile, client=target, collector=Collector(),
        budget=spending.Budget(profile.budget_max_points), undo=spending.UndoLog(),
        otp=hooks.OtpSource(profile, target) if profile.otp else None,
        balances=hooks.BalanceSource(profile, target),
        clock=hooks.Clock(profile, target),
        options=given.as_state(),
    )
    state.answers = judge.AnswerLog(judge.Judge(strict=state.options["strict"]),
                                    state.collector,
                                    lambda req_id: req_id not in state.not_selected)
    if given.report_dir is not None:
        from conformance.report.exchange_log import ExchangeLog

        state.exchanges = ExchangeLog(given.report_dir)
    state_holder["state"] = state
    config.stash[STATE_KEY] = state
    config.stash[SIGNALS_KEY] = interrupt.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(SIGNALS_KEY, None)
    if previous:
        interrupt.restore(previous)


def _state(config: pytest.Config) -> RunState | None:
    return config.stash.get(STATE_KEY, None)


@pytest.fixture(scope="session")
def pc(request: pytest.FixtureRequest) -> RunState:
    """The run's shared state; the suite's tests skip when no target profile was given."""
    state = _state(request.config)
    if state is None:
        pytest.skip("no target: pass --pc-profile (points-conformance run does)")
    return state


def _ids(item: pytest.Item) -> tuple[list[str], bool]:
    marker = item.get_closest_marker("requirement")
    if marker is None:
        return [], False
    return list(marker.args), bool(marker.kwargs.get("explicit", False))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = _state(config)
    if state is None:
        return
    for item in items:
        if not item.get_closest_marker("contract_phase"):
            # Scenarios read and change shared customers' balances: under pytest-xdist
            # (--dist loadgroup) they all run on one worker, one after another.
            item.add_marker(pytest.mark.xdist_group("scenarios"))
    only, suite = state.options["only"], state.options["suite"]
    unknown = only - {r.id for r in catalog.requirements()}
    if unknown:
        raise pytest.UsageError(f"--only: unknown requirement id(s) {', '.join(sorted(unknown))}")
    keep, drop = [], []
    for item in items:
        ids, _ = _ids(item)
        selected = not only or bool(set(ids) & only)
        kind = "contract" if item.get_closest_marker("contract_phase") else "scenarios"
        suites = item.get_closest_marker("suites")
        if suites is not None:
            selected = selected and suite in suites.args
        elif suite == "contract" or suite == "fuzz":
            selected = selected and kind == "contract"
        elif suite == "scenarios":
            selected = selected and kind == "scenarios"
        (keep if selected else drop).append(item)
    elsewhere: dict[str, set[int]] = {}  # id -> the other shards whose tests carry it
    if state.options["shard"]:
        from conformance.suite import shard

        index, count = state.options["shard"]
        mine = []
        for item in keep:
            owner = shard.owner(item, count)
            if owner == index:
                mine.append(item)
                continue
            drop.append(item)
            for req_id in _ids(item)[0]:
                elsewhere.setdefault(req_id, set()).add(owner)
        keep = mine
    if drop:
        config.hook.pytest_deselected(items=drop)
    # Ids no selected test carries are not-selected, with the option that left them out.
    carried = {req_id for item in keep for req_id in _ids(item)[0]}
    state.not_selected = {
        r.id: "not selected (--only)" if only and r.id not in only
        else shard.reason(index, count, elsewhere[r.id]) if r.id in elsewhere
        else f"not selected (--suite {suite})"
        for r in catalog.requirements() if r.id not in carried}
    # Scenarios first: the contract phase runs behind them in the background (contract_phase).
    items[:] = sorted(keep, key=lambda item: bool(item.get_closest_marker("contract_phase")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[None]:
    state = _state(session.config)
    # An xdist worker fuzzes only what it is handed, so it runs each contract test inline.
    if state is not None and getattr(session.config, "workerinput", None) is None \
            and not session.config.getoption("collectonly"):
        from conformance.suite import contract_phase

        contract = [item for item in session.items if item.get_closest_marker("contract_phase")]
        state.prefetch = contract_phase.prefetch(state, contract)
    outcome = yield
    if state is not None and outcome.excinfo is not None \
            and isinstance(outcome.excinfo[1], KeyboardInterrupt):
        # Ends the session as pytest.exit does: pytest formats a KeyboardInterrupt's traceback,
        # and on Python 3.11 parsing its source while the engine's threads parse theirs can
        # fail with "AST constructor recursion depth mismatch".
        interrupt.note()
        outcome.force_exception(pytest.exit.Exception(
            "interrupted", returncode=pytest.ExitCode.INTERRUPTED))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    state = _state(item.config)
    gone = state.client.gone if state is not None else None
    if gone is not None:
        # The target stopped answering: every test left would wait out the same timeout.
        abort_run(item.config, f"target {state.profile.base_url} stopped answering: {gone}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = _state(item.config)
    if state is not None:
        state.reset_evidence()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A safety stop is a skip with its reason, not a failure of the target."""
    outcome = yield
    if _state(item.config) is None or outcome.excinfo is None:
        return
    from conformance.target.client import MUTATIONS_REFUSED, MutationRefused, TargetThrottled
    from conformance.target.spending import BudgetExceeded

    exc = outcome.excinfo[1]
    if isinstance(exc, MutationRefused):
        outcome.force_exception(pytest.skip.Exception(MUTATIONS_REFUSED))
    elif isinstance(exc, TargetThrottled):
        # A gateway's throttling is never the API's failure: unverified, with the reason
        outcome.force_exception(pytest.skip.Exception(f"throttled: {exc}"))
    elif isinstance(exc, BudgetExceeded):
        outcome.force_exception(pytest.skip.Exception(f"budget.max_points reached: {exc}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = _state(item.config)
    if state is not None and state.display is not None:
        state.display.report(item.nodeid, report.when, report.outcome)
    if state is not None and report.when == "teardown":
        state.drain()  # the background contract phase's progress, between tests
    ids, explicit = _ids(item)
    if state is None or not ids or explicit:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        status, reason = _status(report, call)
        for req_id in ids:
            state.collector.record(req_id, status, reason=reason, evidence=list(state.evidence),
                                   source=item.nodeid)


def _status(report: pytest.TestReport, call: pytest.CallInfo) -> tuple[str, str]:
    if report.outcome == "passed":
        return "passed", ""
    if report.outcome == "skipped":
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(results.NOT_APPLICABLE_PREFIX):
            return "not-applicable", reason.removeprefix(results.NOT_APPLICABLE_PREFIX)
        return "skipped", reason
    excinfo = call.excinfo
    if excinfo is not None and excinfo.errisinstance(AssertionError):
        return "failed", REDACTOR.text(str(excinfo.value).strip()) or "assertion failed"
    if excinfo is not None:
        text = f"{excinfo.typename}: {excinfo.value}"
        return "error", REDACTOR.text(text) or excinfo.typename
    return "failed", "failed"


def pytest_sessionstart(session: pytest.Session) -> None:
    state = _state(session.config)
    if state is not None:
        state.progress_writer = session.config.pluginmanager.get_plugin("terminalreporter")
        handover = _handover(session.config)
        state.display = handover.progress if handover is not None else None
        state.progress(f"target {state.profile.base_url}", always=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = _state(session.config)
    if state is not None and state.display is not None:
        state.display.start(len(session.items))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _state(session.config)
    if state is None:
        return
    if state.undo.outstanding:
        state.progress("undoing the run's redemptions", always=True)
    for line in state.undo.undo_all(state.client):
        state.collector.undone(line)
    state.answers.close()
    if state.exchanges is not None:
        state.exchanges.close()
    if (exitstatus == pytest.ExitCode.INTERRUPTED or interrupt.requested()) \
            and ABORT_KEY not in session.config.stash:
        session.config.stash[ABORT_KEY] = "interrupted (SIGINT or SIGTERM); results up to then"
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # An xdist worker: its share goes to the controller, which writes the one report.
        workeroutput["pc_collector"] = state.collector.export()
        return
    report_dir = session.config.getoption("pc_report_dir")
    if report_dir is None:
        return
    from conformance.report import fingerprint, selftest_score, writer
    from conformance.specs import openapi

    counts = state.client.throttle.counts
    if counts.answers_429:
        state.collector.note(counts.line())
    baseline_path = session.config.getoption("pc_baseline")
    baseline = Baseline.load(baseline_path) if baseline_path else None
    result = state.collector.build(
        target=state.profile.base_url, started_at=state.started_at,
        finished_at=datetime.now(UTC), suite_version=__version__,
        spec_version=openapi.spec_version(), strict=state.options["strict"],
        aborted_reason=session.config.stash.get(ABORT_KEY, None), baseline=baseline,
        not_selected=state.not_selected, selftest=selftest_score.last_score(),
        min_coverage=state.options["min_coverage"],
        throttling={**counts.to_json(), "rate_limit": state.client.throttle.rate_limit},
        fingerprint=fingerprint.of_run(seed=state.options["seed"], options=_fingerprint_options(
            state.options, session.config), profile=state.profile.redacted_dict()),
    )
    update = session.config.getoption("pc_baseline_update")
    if update:
        _update_baseline(result, Path(update), baseline, state.started_at)
    writer.write_reports(result, Path(report_dir), pytest_html="pytest-report.html")
    handover = _handover(session.config)
    if handover is not None:
        handover.result = result


def _update_baseline(result: results.RunResult, path: Path, previous: Baseline | None,
                     started_at: datetime) -> None:
    """--baseline-update: the run's MUST failures written as a baseline file; what happened
    goes into results.json's ``baseline.written`` (the terminal and the report show it)."""
    from conformance.report import baseline as baseline_file

    judged = result.baseline or {"excused": [], "stale": [], "expired": []}
    if result.verdict == "aborted":
        judged["written"] = {"file": str(path), "entries": None,
                             "why_not": "the run was aborted: its failures are not all known"}
    else:
        entries = baseline_file.updated(result.requirements, previous,
                                        started_at.astimezone(UTC).date())
        try:
            baseline_file.write(path, entries)
        except OSError as exc:
            judged["written"] = {"file": str(path), "entries": None,
                                 "why_not": exc.strerror or str(exc)}
        else:
            judged["written"] = {"file": str(path), "entries": len(entries)}
    result.baseline = judged


def _fingerprint_options(options: dict, config: pytest.Config) -> dict:
    """The run's options as the fingerprint shows them (what `run` was given, or defaulted)."""
    shown = {key: sorted(value) if isinstance(value, set) else value
             for key, value in options.items()}
    shown["base_url"] = config.getoption("pc_base_url")
    baseline = config.getoption("pc_baseline")
    shown["baseline"] = str(baseline) if baseline else None
    update = config.getoption("pc_baseline_update")
    shown["baseline_update"] = str(update) if update else None
    return shown


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist: fold a finished worker's outcomes into the controller's collector."""
    state = _state(node.config)
    exported = getattr(node, "workeroutput", {}).get("pc_collector")
    if state is not None and exported:
        state.collector.merge(exported)
    if error:
        node.config.stash[ABORT_KEY] = f"an xdist worker stopped: {error}"


@dataclass(eq=False)  # a plugin object: pytest keeps its plugins in a set
class Handover:
    """What the runner and the session pass each other (``pytest.main(plugins=[handover])``):
    the profile the runner loaded and checked, and the session's RunResult, so that neither
    loads the profile again nor reads results.json back from disk."""

    profile: Profile | None = None
    result: results.RunResult | None = None
    progress: Progress | None = None  # where progress goes while pytest's output is kept aside
    throttle: Throttle | None = None  # the run's rate limit and 429 count, preflight's included


def _handover(config: pytest.Config) -> Handover | None:
    for registered in config.pluginmanager.get_plugins():
        if isinstance(registered, Handover):
            return registered
    return None


ABORT_KEY = pytest.StashKey[str]()
SIGNALS_KEY = pytest.StashKey[dict]()


def abort_run(config: pytest.Config, reason: str) -> NoReturn:
    """End the run now, verdict aborted with ``reason``: a target not worth going on with."""
    config.stash[ABORT_KEY] = reason
    pytest.exit(f"aborted: {reason}", returncode=pytest.ExitCode.INTERRUPTED)


def not_applicable(reason: str) -> NoReturn:
    """End the test: the profile's own program rules make its requirement moot (``reason``).

    Unlike a skip for a missing hook or budget, this never makes a run incomplete.
    """
    pytest.skip(f"{results.NOT_APPLICABLE_PREFIX}{reason}")
