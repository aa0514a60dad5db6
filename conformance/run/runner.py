"""`points-conformance run`: pick the target, run the packaged suite under pytest, report."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import random
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.paths import fixtures_dir
from conformance.suite import options as run_options
from conformance.suite.options import RunOptions
from conformance.target.redaction import REDACTOR

if TYPE_CHECKING:
    from conformance.report.results import RunResult


class RunUsageError(Exception):
    """A problem with the command line or the profile: exit 2 with this one line."""


def default_report_dir(root: Path = Path("reports")) -> Path:
    return root / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@contextlib.contextmanager
def _target(options: RunOptions) -> Iterator[tuple[str | None, Path]]:
    """The base URL and profile to use; with no URL, the reference server on a free port."""
    if options.base_url is not None or options.profile is not None:
        if options.profile is None:
            raise RunUsageError("--base-url needs --profile: the profile names the target's "
                                "customers, program rules and credentials (see "
                                "fixtures/profiles/staging-example.yaml)")
        yield options.base_url, options.profile
        return
    from conformance import server

    with tempfile.TemporaryDirectory(prefix="points-conformance-") as tmp:
        with server.run_in_thread(db=Path(tmp) / "reference.sqlite3") as running:
            yield running.base_url, fixtures_dir() / "profiles" / "reference.yaml"


def _validate(options: RunOptions) -> None:
    from conformance.specs import catalog

    if options.max_examples < 1:
        raise RunUsageError(f"--max-examples {options.max_examples}: must be at least 1")
    if options.min_coverage is not None and not 0 <= options.min_coverage <= 100:
        raise RunUsageError(f"--min-coverage {options.min_coverage:g}: must be a percentage "
                            f"from 0 to 100")
    if options.workers < 1:
        raise RunUsageError(f"--workers {options.workers}: must be at least 1")
    if options.max_wait < 0:
        raise RunUsageError(f"--max-wait {options.max_wait}: must not be negative")
    if options.shard is not None:
        try:
            run_options.parse_shard(options.shard)
        except ValueError as exc:
            raise RunUsageError(str(exc)) from None
        if options.seed is None:
            raise RunUsageError(f"--shard {options.shard} needs --seed: the shards of one run "
                                "must generate the same data to be merged")
    known = {r.id for r in catalog.requirements()}
    unknown = [i for i in options.only if i not in known]
    if unknown:
        raise RunUsageError(f"--only: unknown requirement id(s) {', '.join(unknown)}; "
                            "`points-conformance requirements` lists them")
    if options.profile is not None and not options.profile.is_file():
        raise RunUsageError(f"--profile {options.profile}: no such file")
    if options.baseline is not None:
        from conformance.report import baseline

        try:
            baseline.Baseline.load(options.baseline)
        except baseline.BaselineError as exc:
            raise RunUsageError(str(exc)) from None
    update = options.baseline_update
    if update is not None and (update.is_dir() or not update.parent.is_dir()):
        why = "is a directory" if update.is_dir() else f"no such directory {update.parent}"
        raise RunUsageError(f"--baseline-update {update}: {why}")


def _check_profile(profile: Path, base_url: str | None, options: RunOptions):
    """The profile loaded, with the connection flags (--rate-limit, --header, --proxy, TLS,
    --request-timeout) applied over its target section."""
    from conformance.target.profile import ProfileError, load_profile

    try:
        return options.connect(load_profile(profile, base_url=base_url))
    except (ProfileError, run_options.OptionError) as exc:
        raise RunUsageError(str(exc)) from None


def _unusable(profile, throttle) -> str | None:
    """Why the run cannot start against the target, or None.

    Any HTTP answer to the base URL will do, as long as it comes within the timeout and under
    the client's body cap: a target that hangs, hangs up or floods would only make every test
    wait for the same error. It goes as every call does: through the proxy, with the TLS
    settings, the extra headers and the rate limit; a TLS failure is named as such.
    """
    from urllib.parse import urlsplit

    import requests

    from conformance.target import client
    from conformance.target.throttle import Throttled

    url, timeout = profile.base_url, profile.timeout_s
    conn = profile.connection
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 443}"
    slot = throttle.acquire()
    try:
        with requests.get(url, timeout=timeout, allow_redirects=False, stream=True,
                          headers=dict(conn.headers),
                          hooks={"response": [throttle.hook(slot)]},
                          **conn.requests_settings()) as answer:
            client.capped_body(answer, timeout=timeout)
    except requests.exceptions.SSLError as exc:
        return client.tls_problem(exc, where) or f"TLS: handshake with {where} failed"
    except requests.exceptions.ProxyError:
        return (f"the proxy {_proxy_host(conn.proxy)} cannot be reached or refused to connect "
                f"to {url}")
    except requests.Timeout:
        return f"target {url} did not answer within {timeout:g} s"
    except requests.exceptions.ConnectionError as exc:
        if parts.scheme == "https" and conn.tls.client_cert is None:
            # Under TLS 1.3 a server wanting a client certificate hangs up after the handshake
            return (f"target {url} is unreachable ({client.why_no_answer(exc, timeout)}; if it "
                    f"asks for a client certificate, use --client-cert PEM)")
        return f"target {url} is unreachable ({client.why_no_answer(exc, timeout)})"
    except Throttled as exc:
        return f"target {url} throttles every call: {exc}"
    except client.ResponseTooLarge as exc:
        return f"target {url} answers too much: {exc}"
    except client.ClientError as exc:
        return f"target {url} gave no complete answer: {exc}"
    except requests.RequestException as exc:
        return f"target {url} is unreachable ({client.why_no_answer(exc, timeout)})"
    finally:
        throttle.release(slot)
    return None


def _proxy_host(proxy: str | None) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(proxy or "")
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _write_aborted(profile, report_dir: Path, reason: str, strict: bool) -> None:
    from conformance import __version__
    from conformance.report import collector, writer
    from conformance.specs import openapi

    now = datetime.now(UTC)
    result = collector.Collector().build(
        target=profile.base_url, started_at=now, finished_at=now, suite_version=__version__,
        spec_version=openapi.spec_version(), strict=strict, aborted_reason=reason)
    writer.write_reports(result, report_dir)
    writer.make_readable(report_dir)  # junit.xml too, when a broken session left one


def _preflight(profile, options: RunOptions, throttle) -> str | None:
    """The profile checked against the target, read-only; a mismatch is exit 2 (one line).

    Returns why the run must be aborted when the target gives no usable answer, else None.
    """
    from conformance.run import preflight
    from conformance.target import client

    try:
        preflight.check(profile, client.TargetClient(profile, throttle=throttle,
                                                     allow_mutations=options.allow_mutations))
    except preflight.Unanswered as exc:
        return f"target {profile.base_url} gave the preflight no usable answer: {exc}"
    except preflight.PreflightError as exc:
        where = f"profile {profile.path}: " if profile.path else ""
        raise RunUsageError(f"{where}{exc}") from None
    return None


def _pytest_args(options: RunOptions, report_dir: Path) -> list[str]:
    suite_dir = Path(__file__).resolve().parent.parent / "suite"
    return ["--pyargs", "conformance.suite", "-p", "no:cacheprovider", "-q",
            "-c", str(suite_dir / "pytest.ini"), "--rootdir", str(suite_dir),
            "--noconftest",  # a conftest.py where the user stands must not join the run
            # The suite's failures carry their own messages (steps.expect): rewriting asserts
            # would only cost a second or more at every start.
            "--assert=plain", "-p", "no:anyio", "-p", "no:schemathesis",
            "-p", "no:hypothesispytest", "-p", "no:xdist",
            "-o", "console_output_style=classic", "-W", "ignore::DeprecationWarning",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            f"--html={report_dir / 'pytest-report.html'}", "--self-contained-html",
            # Without --verbose no warning is recorded, so none reaches a summary or the page.
            *([] if options.verbose else ["-W", "ignore"]),
            *run_options.pytest_args(options)]


def run(options: RunOptions) -> int:
    _validate(options)
    if options.seed is None:
        # Every run is seeded, so that any fuzz failure can be sent again with --seed.
        options = dataclasses.replace(options, seed=random.randrange(2**32))
    print(f"seed: {options.seed}  (--seed {options.seed} generates the same data again)",
          flush=True)
    report_dir = options.report_dir or default_report_dir()
    with _warnings_kept_off(options.verbose):
        return _run(options, report_dir)


@contextlib.contextmanager
def _warnings_kept_off(verbose: bool) -> Iterator[None]:
    """Libraries' warnings (deprecations, xmlschema's notes) stay off the terminal for the
    whole run, background threads included; --verbose shows them in pytest's summary."""
    if verbose:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _make_report_dir(report_dir: Path) -> None:
    """Create the report folder (and missing parents, world-readable): only once the
    configuration has proved valid, so that a usage error leaves nothing behind."""
    missing = [d for d in (report_dir, *report_dir.parents) if not d.exists()]
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        for made in missing:
            os.chmod(made, 0o755)  # whatever the umask: the files inside are 0644
    except OSError as exc:
        for made in missing:  # deepest first
            with contextlib.suppress(OSError):
                made.rmdir()
        raise RunUsageError(f"--report-dir {report_dir}: {exc.strerror}") from None


def _run(options: RunOptions, report_dir: Path) -> int:
    from conformance.checks import linkwalk

    # Before any thread starts (the embedded server's, the contract phase's): CON-08's
    # process is forked from this one, its libraries already imported. Whether the run needs
    # it is the session's to decide (suite, --only, shard, rate limit); one it does not take
    # is ended unused, which costs a fork.
    linkwalk.prepare()
    try:
        return _run_session(options, report_dir)
    finally:
        linkwalk.release()


def _run_session(options: RunOptions, report_dir: Path) -> int:
    import pytest

    from conformance.core import interrupt
    from conformance.report import results, writer
    from conformance.suite import plugin
    from conformance.target.throttle import Throttle

    with _target(options) as (base_url, profile):
        loaded = _check_profile(profile, base_url, options)
        if not loaded.connection.tls.verify:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            print("TLS: the target's certificate is not verified (--tls-verify false or "
                  "target.tls.verify: false)")
        # One rate limit and one 429 count for the whole run, the preflight's calls included
        throttle = Throttle(loaded.connection.rate_limit, stale_after=2 * loaded.timeout_s)
        reason = _unusable(loaded, throttle) or _preflight(loaded, options, throttle)
        _make_report_dir(report_dir)
        if reason is not None:
            _write_aborted(loaded, report_dir, reason, options.strict)
            print(f"points-conformance: aborted: {reason}", file=sys.stderr)
            print(f"report: {report_dir / 'index.html'}")
            return results.EXIT_CODES["aborted"]
        # The session gets the profile loaded here and hands its RunResult back the same way.
        handover = plugin.Handover(profile=loaded, throttle=throttle)
        session_options = dataclasses.replace(options, base_url=base_url, profile=profile,
                                              report_dir=report_dir)
        with _pytest_output(options.verbose, handover) as kept:
            try:
                exit_status = pytest.main(_pytest_args(session_options, report_dir),
                                          plugins=[handover])
            except SystemError:
                # Python 3.11 can fail this way while formatting an interrupt (see plugin);
                # the session has finished by then and written its aborted report.
                if not interrupt.requested():
                    raise
                exit_status = pytest.ExitCode.INTERRUPTED
        result = handover.result
        if result is None:
            reason = f"the run could not finish (pytest exit {int(exit_status)})"
            _write_aborted(loaded, report_dir, reason, options.strict)
            tail = kept.getvalue().rstrip().splitlines()[-PYTEST_TAIL_LINES:]
            if tail:  # without --verbose pytest's words were kept aside: they say what broke
                print("\n".join(tail), file=sys.stderr)
            print(f"points-conformance: aborted: {reason}; see pytest's output above",
                  file=sys.stderr)
            return results.EXIT_CODES["aborted"]
    writer.seal(result, report_dir)  # pytest has closed its HTML report by now
    if result.verdict == "aborted":
        print(f"points-conformance: aborted: {result.aborted_reason}", file=sys.stderr)
    if options.report_dir is None:
        writer.update_latest(report_dir.parent, report_dir)
    print("\n".join(summary_lines(result, report_dir)))
    return result.exit_code


PYTEST_TAIL_LINES = 40  # of pytest's kept-aside output, shown when the session broke down


@contextlib.contextmanager
def _pytest_output(verbose: bool, handover) -> Iterator[io.StringIO]:
    """Without --verbose pytest's own output (dots, tracebacks, FAILED lines, its totals) is
    kept aside and the run's progress goes to the terminal instead; yields what was kept."""
    kept = io.StringIO()
    if verbose:
        yield kept
        return
    from conformance.suite.progress import Progress

    terminal = _own_stdout()
    handover.progress = Progress(terminal)
    try:
        with contextlib.redirect_stdout(kept), contextlib.redirect_stderr(kept):
            yield kept
    finally:
        handover.progress.finish()
        if terminal is not sys.stdout:
            terminal.close()


def _own_stdout():
    """A stream on the terminal that pytest's output capture (which redirects file descriptor
    1 while a test runs) does not reach, so that progress shows while the tests run."""
    sys.stdout.flush()
    try:
        fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return sys.stdout
    return os.fdopen(fd, "w", buffering=1, encoding=sys.stdout.encoding or "utf-8",
                     errors="replace")


def summary_lines(result: RunResult, report_dir: Path) -> list[str]:
    """What the terminal shows once the tests are over, in this order; a new kind of line
    (about the baseline, say) goes here and nowhere else.

    One line per failed requirement and per MUST left unverified, the fingerprint's short
    lines, the verdict with the suite's counts, why, and where the report is.
    """
    from conformance.report import baseline, fingerprint
    from conformance.target.throttle import ThrottleCounts

    lines = _requirement_lines(result)
    versions = result.fingerprint.get("versions")
    if versions:
        lines.append(fingerprint.versions_line(versions))
    if result.coverage is not None:
        lines.append(result.coverage.line())
    lines.append(f"verdict: {result.verdict}  ({_counts(result.summary)})")
    partial = result.partial
    if partial:
        lines.append(f"partial: {partial['selected']} of {partial['total']} MUST requirements "
                     f"selected; a partial run is never a certification run")
    lines += _why_not_conformant(result) or _why_incomplete(result)
    lines += baseline.lines(result.baseline)  # stale and expired entries, the update
    if result.throttling is not None and result.throttling.get("answers_429"):
        lines.append(ThrottleCounts.from_json(result.throttling).line())
    lines.append(f"report: {report_dir / 'index.html'}")
    return [REDACTOR.text(line) or "" for line in lines]


def _requirement_lines(result: RunResult) -> list[str]:
    """``FAIL RDM-03 MUST <reason>`` for each failed requirement outside the baseline, in the
    report's order; ``UNVERIFIED OTP-05 MUST skipped: <reason>`` for each MUST not judged
    (not for an aborted run, whose untested rows say only that the run stopped)."""
    from conformance.report.results import by_consequence

    # in the page's order: MUST first, contract root causes before the scenarios they break
    failed = by_consequence(r for r in result.requirements if r.status == "failed"
                            and not r.known)
    lines = [f"FAIL {r.id} {r.level} {_terse(r.reason or r.title, 140)}" for r in failed]
    if result.verdict != "aborted":
        lines += [f"UNVERIFIED {r.id} {r.level} {r.status}: {_terse(r.reason, 130)}"
                  for r in result.unverified]
    return lines


def _terse(reason: str, width: int) -> str:
    from conformance.report import writer

    return _one_line(writer.without_test_label(reason), width)


def _counts(summary: dict) -> str:
    def level(name: str) -> str:
        counts = summary[name]
        text = f"{name}: {counts['passed']} passed, {counts['failed']} failed"
        if counts.get("error"):
            text += f", {counts['error']} errors"
        text += f", {counts['skipped']} skipped"
        for status in ("not-applicable", "not-selected"):
            if counts.get(status):
                text += f", {counts[status]} {status}"
        return text

    return f"{level('MUST')}; {level('SHOULD')}"


def _one_line(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _why_incomplete(result: RunResult) -> list[str]:
    """For an incomplete run: how many selected MUSTs could not be verified (listed above)."""
    if result.verdict != "incomplete":
        return []
    count = len(result.unverified)
    return [f"why: {count} MUST requirement{'s' if count != 1 else ''} could not be verified "
            f"(UNVERIFIED above)"]


def _why_not_conformant(result: RunResult) -> list[str]:
    """The report's why line (report.writer.why_line: the first failure a reader should read,
    contract root causes first), and the coverage shortfall when that also failed the run."""
    from conformance.report import writer

    line = writer.why_line(result)
    if line is None:
        return []
    also = result.coverage_shortfall if result.blocking else None
    return [f"why: {line}", *([f"why: {also}"] if also else [])]

