"""What the running suite records, per requirement id, and its aggregation into a RunResult.

The suite's tests and checks feed a :class:`Collector` (thread-safe; xdist workers export and
merge theirs); :meth:`Collector.build` aggregates each catalog id's records into one row and
returns the :class:`~conformance.report.results.RunResult`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.checks.failure import FuzzFailure
from conformance.report import coverage
from conformance.report.baseline import Baseline
from conformance.report.baseline import judge as baseline_judge
from conformance.report.fingerprint import versions as library_versions
from conformance.report.results import (
    NO_SKIP_REASON,
    NOTHING_RECORDED,
    RECORDED,
    FuzzSummary,
    RequirementResult,
    RunResult,
    curl_of,
)
from conformance.specs import catalog
from conformance.target.exchange import Exchange
from conformance.target.seen import Seen

Evidence = Mapping[str, Any] | Exchange | str
_FUZZ_REASONS_SHOWN = 3  # a fuzz run can fail hundreds of times; the reason names the first few


def note(text: str) -> dict[str, str]:
    """An evidence item that is plain text: expected vs received, balances before and after."""
    return {"kind": "note", "text": str(text)}


def _evidence_item(item: Evidence) -> dict[str, Any]:
    if isinstance(item, Exchange):
        return item.to_dict()
    if isinstance(item, str):
        return note(item)
    if isinstance(item, Mapping):
        data = copy.deepcopy(dict(item))  # the caller may keep mutating its own dict
        if data.get("kind") == "note" and isinstance(data.get("text"), str):
            return data
        if "kind" not in data and isinstance(data.get("method"), str) and "url" in data:
            data.setdefault("curl", curl_of(data))
            return data
    raise ValueError(f"evidence must be an Exchange, Exchange.to_dict() or "
                     f"{{'kind': 'note', 'text': ...}}, not {item!r:.80}")


def _exchange_dict(exchange: Mapping[str, Any] | Exchange | None) -> dict[str, Any] | None:
    if exchange is None:
        return None
    return _evidence_item(exchange)


# --- what the suite records -------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One outcome reported by one test for one requirement."""

    req_id: str
    status: str
    reason: str = ""
    evidence: tuple[dict[str, Any], ...] = ()
    source: str = ""


class Collector:
    """Thread-safe sink the running suite feeds; ``build`` turns it into a RunResult."""

    def __init__(self, requirements: Sequence[catalog.Requirement] | None = None) -> None:
        self._requirements = tuple(catalog.requirements() if requirements is None
                                   else requirements)
        self._ids = {req.id for req in self._requirements}
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._fuzz_cases: dict[str, int] = {}
        self._fuzz_failures: list[FuzzFailure] = []
        self._fuzz_seen: set[tuple[str, str, str, str]] = set()
        self._undone: list[str] = []
        self._notes: list[str] = []
        # What the run sent and received per operation (thread-safe itself): its coverage
        self.seen = Seen()

    @property
    def requirements(self) -> tuple[catalog.Requirement, ...]:
        """The catalog this collector aggregates over."""
        return self._requirements

    def _check_id(self, req_id: str) -> None:
        # A record under an unknown id would silently vanish from the matrix: fail loudly.
        if req_id not in self._ids:
            raise ValueError(f"unknown requirement id {req_id!r} (not in specs/requirements.yaml)")

    def record(self, req_id: str, status: str, *, reason: str = "",
               evidence: Iterable[Evidence] = (), source: str = "") -> None:
        """Record one test's outcome for a requirement."""
        self._check_id(req_id)
        if status not in RECORDED:
            raise ValueError(f"status must be one of {', '.join(RECORDED)}, not {status!r}")
        entry = Record(req_id, status, str(reason or ""),
                       tuple(_evidence_item(item) for item in evidence), str(source or ""))
        with self._lock:
            self._records.append(entry)

    def fuzz_operation(self, label: str) -> None:
        """Declare an operation as fuzzed, so it shows in coverage even with no test cases."""
        with self._lock:
            self._fuzz_cases.setdefault(label, 0)

    def fuzz_cases(self, label: str, n: int) -> None:
        """Add ``n`` generated test cases to an operation's count."""
        if n < 0:
            raise ValueError(f"fuzz_cases: n must not be negative, not {n}")
        with self._lock:
            self._fuzz_cases[label] = self._fuzz_cases.get(label, 0) + n

    def fuzz_failure(self, req_id: str, *, operation: str, check: str, message: str,
                     exchange: Mapping[str, Any] | Exchange | None = None) -> bool:
        """Record a contract failure found by fuzzing; False when the same one was already seen."""
        self._check_id(req_id)
        failure = FuzzFailure(req_id, operation, check, str(message),
                              exchange=_exchange_dict(exchange))
        with self._lock:
            # Hypothesis finds the same failure from many examples; one entry is enough.
            if failure.key in self._fuzz_seen:
                return False
            self._fuzz_seen.add(failure.key)
            self._fuzz_failures.append(failure)
            self._fuzz_cases.setdefault(operation, 0)
        return True

    def undone(self, line: str) -> None:
        """Record something the run changed on the target and could not undo."""
        with self._lock:
            if line not in self._undone:
                self._undone.append(line)

    def note(self, text: str) -> None:
        """Record a run-level note for the report."""
        with self._lock:
            if text not in self._notes:
                self._notes.append(text)

    def export(self) -> dict[str, Any]:
        """Everything recorded, as plain data: what an xdist worker hands to the controller."""
        with self._lock:
            return {
                "records": [asdict(entry) for entry in self._records],
                "fuzz_cases": dict(self._fuzz_cases),
                "fuzz_failures": [asdict(failure) for failure in self._fuzz_failures],
                "undone": list(self._undone), "notes": list(self._notes),
                "seen": self.seen.to_dict(),
            }

    def merge(self, data: Mapping[str, Any]) -> None:
        """Add what another collector exported (an xdist worker's share of the run)."""
        for entry in data.get("records", ()):
            self.record(entry["req_id"], entry["status"], reason=entry["reason"],
                        evidence=entry["evidence"], source=entry["source"])
        for label, n in data.get("fuzz_cases", {}).items():
            self.fuzz_cases(label, n)
        for failure in data.get("fuzz_failures", ()):
            self.fuzz_failure(failure["id"], operation=failure["operation"],
                              check=failure["check"], message=failure["message"],
                              exchange=failure["exchange"])
        for line in data.get("undone", ()):
            self.undone(line)
        for text in data.get("notes", ()):
            self.note(text)
        self.seen.merge(data.get("seen", {}))

    def build(self, *, target: str, started_at: datetime, finished_at: datetime,
              suite_version: str, spec_version: str, strict: bool,
              aborted_reason: str | None = None, baseline: Baseline | None = None,
              not_selected: Mapping[str, str] | None = None,
              selftest: Mapping[str, Any] | None = None,
              fingerprint: Mapping[str, Any] | None = None,
              min_coverage: float | None = None,
              throttling: Mapping[str, Any] | None = None) -> RunResult:
        """Aggregate everything recorded into one RunResult, one row per catalog id."""
        with self._lock:
            records = list(self._records)
            fuzz_failures = list(self._fuzz_failures)
            fuzz_cases = dict(self._fuzz_cases)
            undone = list(self._undone)
            notes = list(self._notes)

        by_id: dict[str, list[Record]] = {}
        for entry in records:
            by_id.setdefault(entry.req_id, []).append(entry)
        fuzz_by_id: dict[str, list[FuzzFailure]] = {}
        for failure in fuzz_failures:
            fuzz_by_id.setdefault(failure.id, []).append(failure)
        today = _utc(started_at).date()  # an entry's `until` is read against the run's day
        known = baseline.active(today) if baseline is not None else {}
        expired = baseline.expired(today) if baseline is not None else {}

        rows = []
        for req in self._requirements:
            if req.id in (not_selected or {}) and req.id not in by_id:
                unrecorded = ("not-selected", (not_selected or {})[req.id])
            elif aborted_reason:
                unrecorded = ("skipped", f"not run: {aborted_reason}")
            else:
                unrecorded = ("skipped", NOTHING_RECORDED)
            row = aggregate(req, by_id.get(req.id, ()), fuzz_by_id.get(req.id, ()), unrecorded)
            if row.status == "failed" and req.id in known:
                row.known = True
                row.reason = _join([f"known failure (baseline: {known[req.id]})", row.reason])
            elif row.status == "failed" and req.id in expired:
                until = baseline.until[req.id].isoformat() if baseline else ""
                row.reason = _join([f"baseline entry expired on {until} ({expired[req.id]})",
                                    row.reason])
            rows.append(row)
        judged = (baseline_judge(baseline, {row.id: row.status for row in rows}, today)
                  if baseline is not None else None)
        stale = [entry["id"] for entry in judged["stale"]] if judged else []

        per_operation = {label: {"test_cases": n, "failures": 0} for label, n in fuzz_cases.items()}
        for failure in fuzz_failures:
            per_operation[failure.operation]["failures"] += 1

        started = _utc(started_at)
        return RunResult(
            suite_version=suite_version, spec_version=spec_version, target=target,
            strict=bool(strict), started_at=started.isoformat(timespec="seconds").replace(
                "+00:00", "Z"),
            duration_s=round(max(0.0, (_utc(finished_at) - started).total_seconds()), 3),
            aborted_reason=aborted_reason, requirements=rows,
            fuzz=FuzzSummary(per_operation, fuzz_failures),
            undone=undone, notes=notes, baseline_stale=stale, baseline=judged,
            selftest=dict(selftest) if selftest is not None else None,
            fingerprint=dict(fingerprint) if fingerprint is not None else {
                "versions": library_versions()},
            coverage=coverage.build(self.seen, self._requirements),
            min_coverage=min_coverage,
            throttling=dict(throttling) if throttling is not None else None,
        )


def _utc(moment: datetime) -> datetime:
    # astimezone() reads a naive datetime as local time, which is what datetime.now() gives.
    return moment.astimezone(UTC)


def _join(parts: Iterable[str]) -> str:
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return "; ".join(seen)


def _labelled(entry: Record) -> str:
    # For failures and errors the user needs to find the test; for skips the reason is enough.
    reason = entry.reason or entry.status
    return f"{entry.source}: {reason}" if entry.source else reason


def _fuzz_reason(failures: Sequence[FuzzFailure]) -> str:
    if not failures:
        return ""
    shown = "; ".join(f.describe() for f in failures[:_FUZZ_REASONS_SHOWN])
    more = len(failures) - _FUZZ_REASONS_SHOWN
    extra = f"; and {more} more" if more > 0 else ""
    noun = "failure" if len(failures) == 1 else "failures"
    return f"fuzzing found {len(failures)} {noun} (see fuzz failures): {shown}{extra}"



def aggregate(req: catalog.Requirement, records: Sequence[Record],
              fuzz_failures: Sequence[FuzzFailure] = (),
              unrecorded: tuple[str, str] = ("skipped", NOTHING_RECORDED)) -> RequirementResult:
    """One requirement's status: failed > error > passed > not-applicable > skipped.

    ``unrecorded`` is the status and reason of a requirement no test recorded anything for:
    not selected, not run because the run was aborted, or (a defect) no test at all.
    """
    by_status = {status: [r for r in records if r.status == status] for status in RECORDED}
    if by_status["failed"] or fuzz_failures:
        status, deciding = "failed", by_status["failed"]
        reason = _join([*(_labelled(r) for r in deciding), _fuzz_reason(fuzz_failures)])
    elif by_status["error"]:
        status, deciding = "error", by_status["error"]
        reason = _join(_labelled(r) for r in deciding)
    elif by_status["passed"]:
        status, deciding = "passed", by_status["passed"]
        reason = _join(r.reason for r in deciding)
    elif by_status["not-applicable"]:
        status, deciding = "not-applicable", by_status["not-applicable"]
        reason = _join(r.reason for r in deciding)
    elif by_status["skipped"]:
        status, deciding = "skipped", by_status["skipped"]
        reason = _join(r.reason for r in deciding) or NO_SKIP_REASON
    else:
        (status, reason), deciding = unrecorded, []
    evidence = [copy.deepcopy(item) for r in deciding for item in r.evidence]
    return RequirementResult(id=req.id, level=req.level, status=status, title=req.title,
                             reason=reason, evidence=evidence, seeds=list(req.seeds))


