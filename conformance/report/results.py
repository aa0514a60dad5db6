"""The one results model: what a run found, per requirement, in the shape of results.json.

The running suite feeds a :class:`Collector`; :meth:`Collector.build` aggregates it into a
:class:`RunResult`, whose ``to_json()`` is what results.json holds and what the HTML page, the
verdict and the exit code are derived from (docs/results.md).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from conformance.paths import specs_dir
from conformance.report.fingerprint import versions as library_versions
from conformance.specs import catalog
from conformance.target.exchange import Exchange
from conformance.target.redaction import REDACTOR

# What a test can record; "not-selected" is given by the run to the ids it left out.
RECORDED = ("passed", "failed", "skipped", "error", "not-applicable")
STATUSES = (*RECORDED, "not-selected")
VERDICTS = ("conformant", "non-conformant", "incomplete", "aborted")
# Same numbers as the CLI's EXIT_* constants; 2 (usage) never comes from a run.
EXIT_CODES = {"conformant": 0, "non-conformant": 1, "aborted": 3, "incomplete": 4}
NOTHING_RECORDED = "no test recorded an outcome for it"
NO_SKIP_REASON = "skipped without a reason"
# The reason of a requirement a test found moot under the profile's own program rules.
NOT_APPLICABLE_PREFIX = "not applicable: "
SCHEMA_FILE = "results.schema.json"
SCHEMA_ID = "https://points-conformance.invalid/results.schema.json"
_FUZZ_REASONS_SHOWN = 3  # a fuzz run can fail hundreds of times; the reason names the first few

Evidence = Mapping[str, Any] | Exchange | str


class BaselineError(Exception):
    """A baseline file cannot be read or does not have the documented shape (one line)."""


class ResultsError(ValueError):
    """A results.json document does not have the documented shape."""


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
            data.setdefault("curl", _curl(data))
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


@dataclass(frozen=True)
class FuzzFailure:
    """A contract failure found by fuzzing one operation."""

    id: str
    operation: str
    check: str
    message: str
    exchange: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two failures the same one."""
        return (self.id, self.operation, self.check, self.message)

    def describe(self) -> str:
        """One line: operation, check, message."""
        return f"{self.operation}: {self.check}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The entry of results.json fuzz.failures."""
        return {"id": self.id, "operation": self.operation, "check": self.check,
                "message": self.message, "exchange": self.exchange}


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
        failure = FuzzFailure(req_id, operation, check, str(message), _exchange_dict(exchange))
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

    def build(self, *, target: str, started_at: datetime, finished_at: datetime,
              suite_version: str, spec_version: str, strict: bool,
              aborted_reason: str | None = None, baseline: Baseline | None = None,
              not_selected: Mapping[str, str] | None = None,
              selftest: Mapping[str, Any] | None = None,
              fingerprint: Mapping[str, Any] | None = None) -> RunResult:
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
        known = baseline.known if baseline is not None else {}

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
            rows.append(row)
        stale = [row.id for row in rows if row.id in known and row.status == "passed"]

        per_operation = {label: {"test_cases": n, "failures": 0} for label, n in fuzz_cases.items()}
        for failure in fuzz_failures:
            per_operation[failure.operation]["failures"] += 1

        started = _utc(started_at)
        return RunResult(
            suite_version=suite_version, spec_version=spec_version, target=target,
            strict=bool(strict), started_at=started.isoformat(timespec="seconds").replace(
                "+00:00", "Z"),
            duration_s=round(max(0.0, (_utc(finished_at) - started).total_seconds()), 3),
            verdict=verdict(rows, aborted_reason), aborted_reason=aborted_reason,
            requirements=rows, fuzz=FuzzSummary(per_operation, fuzz_failures),
            undone=undone, notes=notes, baseline_stale=stale,
            selftest=dict(selftest) if selftest is not None else None,
            fingerprint=dict(fingerprint) if fingerprint is not None else {
                "versions": library_versions()},
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


# --- aggregation ------------------------------------------------------------------------------

@dataclass
class RequirementResult:
    """The aggregated outcome of one catalog requirement."""

    id: str
    level: str
    status: str
    title: str
    reason: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    known: bool = False

    def to_json(self) -> dict[str, Any]:
        """The entry of results.json requirements."""
        return {"id": self.id, "level": self.level, "status": self.status, "title": self.title,
                "reason": self.reason, "evidence": copy.deepcopy(self.evidence),
                "seeds": list(self.seeds), "known": self.known}


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


def blocking(rows: Iterable[RequirementResult]) -> list[RequirementResult]:
    """The rows that make a run non-conformant: a MUST that failed, outside the baseline."""
    return [r for r in rows if r.level == "MUST" and r.status == "failed" and not r.known]


def unverified(rows: Iterable[RequirementResult]) -> list[RequirementResult]:
    """Selected MUST rows that could not be judged (skipped or error): the run is incomplete.

    not-selected and not-applicable rows are neither verified nor unverified.
    """
    return [r for r in rows if r.level == "MUST" and r.status in ("skipped", "error")]


def verdict(rows: Iterable[RequirementResult], aborted_reason: str | None = None) -> str:
    """aborted; else non-conformant when a row is ``blocking``; else incomplete when a selected
    MUST is ``unverified``; else conformant."""
    if aborted_reason:
        return "aborted"
    rows = list(rows)
    if blocking(rows):
        return "non-conformant"
    return "incomplete" if unverified(rows) else "conformant"


# --- the run's result -------------------------------------------------------------------------

@dataclass
class FuzzSummary:
    """Per-operation fuzz coverage and the distinct contract failures found."""

    per_operation: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[FuzzFailure] = field(default_factory=list)

    @property
    def operations(self) -> int:
        """How many operations were fuzzed."""
        return len(self.per_operation)

    @property
    def test_cases(self) -> int:
        """Generated test cases over all operations."""
        return sum(entry["test_cases"] for entry in self.per_operation.values())

    def to_json(self) -> dict[str, Any]:
        """The fuzz section of results.json."""
        return {"operations": self.operations, "test_cases": self.test_cases,
                "per_operation": copy.deepcopy(self.per_operation),
                "failures": [f.to_json() for f in self.failures]}


@dataclass
class RunResult:
    """Everything one run found; the source of results.json, the HTML page and the exit code."""

    suite_version: str
    spec_version: str
    target: str
    strict: bool
    started_at: str
    duration_s: float
    verdict: str
    aborted_reason: str | None
    requirements: list[RequirementResult]
    fuzz: FuzzSummary = field(default_factory=FuzzSummary)
    undone: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline_stale: list[str] = field(default_factory=list)
    # {"caught", "total", "false_failures", "version"} from the suite's self-test, when run
    selftest: dict[str, Any] | None = None
    # What the result depends on besides the target: {"versions": {library: version}}
    fingerprint: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 conformant, 1 non-conformant, 3 aborted, 4 incomplete."""
        return EXIT_CODES[self.verdict]

    @property
    def partial(self) -> dict[str, int] | None:
        """{"selected", "total"} MUST requirements when --only/--suite narrowed the run."""
        if all(r.status != "not-selected" for r in self.requirements):
            return None
        must = [r for r in self.requirements if r.level == "MUST"]
        return {"selected": sum(1 for r in must if r.status != "not-selected"),
                "total": len(must)}

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        """Requirement counts per level and status (known failures count as failed)."""
        counts = {level: dict.fromkeys(STATUSES, 0) for level in catalog.LEVELS}
        for row in self.requirements:
            counts[row.level][row.status] += 1
        return counts

    def requirement(self, req_id: str) -> RequirementResult:
        """The aggregated row of one requirement id."""
        for row in self.requirements:
            if row.id == req_id:
                return row
        raise KeyError(req_id)

    def to_json(self) -> dict[str, Any]:
        """results.json as a dict, every string passed through the redactor."""
        data: dict[str, Any] = {
            "$schema": SCHEMA_ID,
            "suite_version": self.suite_version,
            "spec_version": self.spec_version,
            "target": self.target,
            "strict": self.strict,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "verdict": self.verdict,
            "aborted_reason": self.aborted_reason,
            "requirements": [row.to_json() for row in self.requirements],
            "summary": self.summary,
            "fuzz": self.fuzz.to_json(),
            "undone": list(self.undone),
            "notes": list(self.notes),
            "baseline_stale": list(self.baseline_stale),
            "fingerprint": copy.deepcopy(self.fingerprint),
        }
        if self.partial is not None:
            data["partial"] = self.partial
        if self.selftest is not None:
            data["selftest"] = copy.deepcopy(self.selftest)
        # Evidence was redacted when it was recorded; this is the second belt, for anything
        # that slipped past (a secret registered late, a hand-built evidence dict).
        return scrub(data)

    def dumps(self) -> str:
        """results.json as text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        """Rebuild a RunResult from results.json (for re-rendering the report)."""
        problems = schema_errors(data)
        if problems:
            raise ResultsError(f"not a points-conformance results document: {problems[0]}")
        fuzz = data["fuzz"]
        return cls(
            suite_version=data["suite_version"], spec_version=data["spec_version"],
            target=data["target"], strict=data["strict"], started_at=data["started_at"],
            duration_s=data["duration_s"], verdict=data["verdict"],
            aborted_reason=data["aborted_reason"],
            requirements=[RequirementResult(**copy.deepcopy(dict(row)))
                          for row in data["requirements"]],
            fuzz=FuzzSummary(copy.deepcopy(dict(fuzz["per_operation"])),
                             [FuzzFailure(**copy.deepcopy(dict(f))) for f in fuzz["failures"]]),
            undone=list(data["undone"]), notes=list(data["notes"]),
            baseline_stale=list(data["baseline_stale"]),
            selftest=copy.deepcopy(data.get("selftest")),
            fingerprint=copy.deepcopy(data.get("fingerprint", {})),
        )


_HEADER_KEYS = ("request_headers", "response_headers")


def scrub(value: Any) -> Any:
    """A deep copy of ``value`` with every secret the redactor knows masked."""
    if isinstance(value, str):
        return REDACTOR.text(value)
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _HEADER_KEYS and isinstance(item, Mapping):
            item = REDACTOR.headers(dict(item))
        out[REDACTOR.text(str(key))] = scrub(item)
    if "curl" in out and "kind" not in out and isinstance(out.get("method"), str):
        # Rebuild the curl line from the scrubbed parts so a credential header that reached
        # the evidence unmasked cannot survive in it.
        out["curl"] = _curl(out)
    return out


def _curl(exchange: Mapping[str, Any]) -> str:
    return Exchange(method=str(exchange["method"]), url=str(exchange.get("url") or ""),
                    request_headers=dict(exchange.get("request_headers") or {}),
                    request_body=exchange.get("request_body")).curl()


# --- schema -----------------------------------------------------------------------------------

@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of results.json (specs/results.schema.json)."""
    with (specs_dir() / SCHEMA_FILE).open(encoding="utf-8") as fh:
        return json.load(fh)


def schema_errors(data: Any) -> list[str]:
    """Every way ``data`` differs from the results.json schema, one line each."""
    from jsonschema import Draft202012Validator  # only re-rendering and tests need it

    validator = Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


# --- baseline of known failures ---------------------------------------------------------------

_BASELINE_KEYS = ("known_failures",)
_ENTRY_KEYS = ("id", "reason")


@dataclass(frozen=True)
class Baseline:
    """Known failures a CI gate accepts: listed ids that fail do not fail the run."""

    known: dict[str, str] = field(default_factory=dict)  # id -> why the failure is accepted
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | str, *, ids: Iterable[str] | None = None) -> Baseline:
        """Read a JSON or YAML baseline; any problem is a BaselineError naming the file and key."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BaselineError(f"{path}: cannot read baseline: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise BaselineError(f"{path}: not UTF-8 text") from None
        data = _parse_baseline(path, text)
        valid_ids = set(ids) if ids is not None else {r.id for r in catalog.requirements()}
        return cls(_known_failures(path, data, valid_ids), path)


def _parse_baseline(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}: not valid JSON (line {exc.lineno}, column "
                                f"{exc.colno}): {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BaselineError(f"{path}: not valid YAML{where}: {problem}") from None


def _known_failures(path: Path, data: Any, valid_ids: set[str]) -> dict[str, str]:
    if not isinstance(data, Mapping):
        raise BaselineError(f"{path}: expected a mapping with the key 'known_failures'")
    unknown = [str(k) for k in data if k not in _BASELINE_KEYS]
    if unknown:
        raise BaselineError(f"{path}: unknown key {unknown[0]!r} (expected 'known_failures')")
    if "known_failures" not in data:
        raise BaselineError(f"{path}: missing key 'known_failures'")
    entries = data["known_failures"] or []  # an empty `known_failures:` means none
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: known_failures must be a list of {{id, reason}}")
    known: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: known_failures[{index}]"
        if not isinstance(entry, Mapping):
            raise BaselineError(f"{where} must be a mapping with 'id' and 'reason'")
        extra = [str(k) for k in entry if k not in _ENTRY_KEYS]
        if extra:
            raise BaselineError(f"{where}: unknown key {extra[0]!r} (expected 'id', 'reason')")
        req_id, reason = entry.get("id"), entry.get("reason")
        if not isinstance(req_id, str) or not req_id.strip():
            raise BaselineError(f"{where}.id is missing or not a string")
        if req_id not in valid_ids:
            raise BaselineError(f"{where}.id {req_id!r} is not a requirement id")
        if req_id in known:
            raise BaselineError(f"{where}.id {req_id!r} is listed twice")
        if not isinstance(reason, str) or not reason.strip():
            raise BaselineError(f"{where}.reason is missing (say why {req_id} may fail)")
        known[req_id] = reason.strip()
    return known
