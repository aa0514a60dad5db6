"""`points-conformance run`: pick the target, run the packaged suite under pytest, report."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.paths import fixtures_dir
from conformance.suite import options as run_options
from conformance.suite.options import RunOptions

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
            f"--junitxml={report_dir / 'junit.xml'}", "-o", "junit_family=xunit2",
            f"--html={report_dir / 'pytest-report.html'}", "--self-contained-html",
            *run_options.pytest_args(options)]


def run(options: RunOptions) -> int:
    _validate(options)
    if options.seed is None:
        # Every run is seeded, so that any fuzz failure can be sent again with --seed.
        options = dataclasses.replace(options, seed=random.randrange(2**32))
    print(f"seed: {options.seed}  (--seed {options.seed} generates the same data again)",
          flush=True)
    report_dir = options.report_dir or default_report_dir()
    created = not report_dir.exists()
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunUsageError(f"--report-dir {report_dir}: {exc.strerror}") from None
    try:
        return _run(options, report_dir)
    except RunUsageError:
        if created:  # a configuration error leaves nothing behind
            with contextlib.suppress(OSError):
                report_dir.rmdir()
        raise


def _run(options: RunOptions, report_dir: Path) -> int:
    import pytest

    from conformance.core import interrupt
    from conformance.report import fingerprint, results, writer
    from conformance.suite import plugin
    from conformance.target.throttle import Throttle, ThrottleCounts

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
        if reason is not None:
            _write_aborted(loaded, report_dir, reason, options.strict)
            print(f"points-conformance: aborted: {reason}", file=sys.stderr)
            print(f"report: {report_dir / 'index.html'}")
            return results.EXIT_CODES["aborted"]
        # The session gets the profile loaded here and hands its RunResult back the same way.
        handover = plugin.Handover(profile=loaded, throttle=throttle)
        session_options = dataclasses.replace(options, base_url=base_url, profile=profile,
                                              report_dir=report_dir)
        try:
            exit_status = pytest.main(_pytest_args(session_options, report_dir),
                                      plugins=[handover])
        except SystemError:
            # Python 3.11 can fail this way while formatting an interrupt (see plugin); the
            # session has finished by then and written its aborted report.
            if not interrupt.requested():
                raise
            exit_status = pytest.ExitCode.INTERRUPTED
        result = handover.result
        if result is None:
            reason = f"the run could not finish (pytest exit {int(exit_status)})"
            _write_aborted(loaded, report_dir, reason, options.strict)
            print(f"points-conformance: aborted: {reason}; see the output above",
                  file=sys.stderr)
            return results.EXIT_CODES["aborted"]
    writer.seal(result, report_dir)  # pytest has closed junit.xml and the HTML by now
    if result.verdict == "aborted":
        print(f"points-conformance: aborted: {result.aborted_reason}", file=sys.stderr)
    if options.report_dir is None:
        writer.update_latest(report_dir.parent, report_dir)
    versions = result.fingerprint.get("versions")
    if versions:
        print(f"\n{fingerprint.versions_line(versions)}", end="")
    if result.coverage is not None:
        print(f"\n{result.coverage.line()}", end="")
    print(f"\nverdict: {result.verdict}  ({_counts(result.summary)})")
    partial = result.partial
    if partial:
        print(f"partial: {partial['selected']} of {partial['total']} MUST requirements "
              f"selected; a partial run is never a certification run")
    for line in _why_not_conformant(result) or _why_incomplete(result):
        print(line)
    if result.throttling is not None and result.throttling.get("answers_429"):
        print(ThrottleCounts.from_json(result.throttling).line())
    print(f"report: {report_dir / 'index.html'}")
    return result.exit_code


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
    """For an incomplete run: each selected MUST that could not be verified, and why."""
    if result.verdict != "incomplete":
        return []
    rows = result.unverified
    lines = [f"why: {len(rows)} MUST requirement{'s' if len(rows) != 1 else ''} could not be "
             f"verified:"]
    return lines + [f"  {row.id} {row.status}: {_one_line(row.reason, 140)}" for row in rows]


def _why_not_conformant(result: RunResult) -> list[str]:
    """One line naming what made the run non-conformant, and how many more MUSTs did.

    A failure comes before an error, and the contract before the scenarios: when the answers
    are not the API's at all, that is the reason, and the scenarios' failures follow from it.
    """
    from conformance.specs import catalog

    if result.verdict != "non-conformant":
        return []
    shortfall = [f"why: {result.coverage_shortfall}"] if result.coverage_shortfall else []
    if not result.blocking:
        return shortfall
    contract = {r.id for r in catalog.requirements() if r.area == "contract"}
    rows = sorted(result.blocking, key=lambda r: (r.status != "failed", r.id not in contract))
    first = rows[0]
    more = f" (and {len(rows) - 1} more MUST requirements)" if len(rows) > 1 else ""
    return [f"why: {first.id} {first.status}: {_one_line(first.reason)}{more}", *shortfall]

