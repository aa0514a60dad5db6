"""The one results model: what a run found, per requirement, in the shape of results.json.

:class:`RunResult` (built by ``report.collector.Collector``) owns the summary, the blocking and
unverified rows, the verdict and the exit code; its ``to_json()`` is what results.json holds
and what the HTML page is rendered from (docs/results.md).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from conformance.checks.failure import FuzzFailure
from conformance.paths import specs_dir
from conformance.report.coverage import Coverage
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


class ResultsError(ValueError):
    """A results.json document does not have the documented shape."""


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


def _blocking(rows: Iterable[RequirementResult]) -> list[RequirementResult]:
    """The rows that make a run non-conformant: a MUST that failed, outside the baseline."""
    return [r for r in rows if r.level == "MUST" and r.status == "failed" and not r.known]


def _unverified(rows: Iterable[RequirementResult]) -> list[RequirementResult]:
    """Selected MUST rows that could not be judged (skipped or error): the run is incomplete.

    not-selected and not-applicable rows are neither verified nor unverified.
    """
    return [r for r in rows if r.level == "MUST" and r.status in ("skipped", "error")]


def _area(req_id: str) -> str:
    try:
        return catalog.requirement(req_id).area
    except KeyError:
        return ""


def by_consequence(rows: Iterable[RequirementResult]) -> list[RequirementResult]:
    """Failed and errored rows in the order a reader should meet them.

    MUST before SHOULD, blocking before known (baseline) failures, failed before error, and
    the contract first: when the answers are not the API's shape at all, that is the root
    cause, and the scenarios' failures follow from it. The catalog's order breaks ties.
    """
    order = {row.id: n for n, row in enumerate(catalog.requirements())}
    failing = [row for row in rows if row.status in ("failed", "error")]
    return sorted(failing, key=lambda r: (r.level != "MUST", r.known, r.status != "failed",
                                          _area(r.id) != "contract", order.get(r.id, 1 << 30)))


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
    aborted_reason: str | None
    requirements: list[RequirementResult]
    fuzz: FuzzSummary = field(default_factory=FuzzSummary)
    undone: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline_stale: list[str] = field(default_factory=list)
    # With --baseline: {"excused", "stale", "expired"}, each a list of the file's entries
    baseline: dict[str, Any] | None = None
    # {"caught", "total", "false_failures", "version"} from the suite's self-test, when run
    selftest: dict[str, Any] | None = None
    # What the result depends on besides the target: {"versions": {library: version}}
    fingerprint: dict[str, Any] = field(default_factory=dict)
    # SHA-256 of the report files the run wrote beside results.json (written by the runner
    # once they are all closed): a certification package refuses files changed since.
    report_files: dict[str, str] = field(default_factory=dict)
    # What the run exercised (coverage.json), and the --min-coverage it must reach, if any
    coverage: Coverage | None = None
    min_coverage: float | None = None
    # How often a gateway throttled the run (429 answers waited out, calls that got one,
    # calls given up after the last try) and the rate limit the run kept to
    throttling: dict[str, Any] | None = None

    # The verdict and everything derived from it live here and nowhere else: the runner, the
    # terminal, the HTML page and results.json all read them from the RunResult.
    @property
    def blocking(self) -> list[RequirementResult]:
        """The rows that make the run non-conformant: a MUST failed, outside the baseline."""
        return _blocking(self.requirements)

    @property
    def unverified(self) -> list[RequirementResult]:
        """Selected MUST rows that could not be judged (skipped or error)."""
        return _unverified(self.requirements)

    @property
    def coverage_shortfall(self) -> str | None:
        """"coverage 71% below --min-coverage 80" when the run's total coverage is below the
        --min-coverage it was given, else None."""
        if self.min_coverage is None or self.coverage is None:
            return None
        found = self.coverage.percent
        if found >= self.min_coverage:
            return None
        return f"coverage {math.floor(found)}% below --min-coverage {self.min_coverage:g}"

    @property
    def verdict(self) -> str:
        """aborted; else non-conformant when a row is blocking or the coverage is below
        --min-coverage; else incomplete when a selected MUST is unverified; else conformant."""
        if self.aborted_reason:
            return "aborted"
        if self.blocking or self.coverage_shortfall:
            return "non-conformant"
        return "incomplete" if self.unverified else "conformant"

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
            "baseline": copy.deepcopy(self.baseline),
            "fingerprint": copy.deepcopy(self.fingerprint),
        }
        if self.partial is not None:
            data["partial"] = self.partial
        if self.selftest is not None:
            data["selftest"] = copy.deepcopy(self.selftest)
        if self.report_files:
            data["report_files"] = dict(sorted(self.report_files.items()))
        if self.throttling is not None:
            data["throttling"] = dict(self.throttling)
        if self.coverage is not None:
            data["coverage"] = {**self.coverage.summary(), "min_coverage": self.min_coverage,
                                "shortfall": self.coverage_shortfall,
                                "detail": self.coverage.to_json()}
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
        result = cls(
            suite_version=data["suite_version"], spec_version=data["spec_version"],
            target=data["target"], strict=data["strict"], started_at=data["started_at"],
            duration_s=data["duration_s"], aborted_reason=data["aborted_reason"],
            requirements=[RequirementResult(**copy.deepcopy(dict(row)))
                          for row in data["requirements"]],
            fuzz=FuzzSummary(copy.deepcopy(dict(fuzz["per_operation"])),
                             [FuzzFailure.from_json(copy.deepcopy(dict(f)))
                              for f in fuzz["failures"]]),
            undone=list(data["undone"]), notes=list(data["notes"]),
            baseline_stale=list(data["baseline_stale"]),
            baseline=copy.deepcopy(data.get("baseline")),
            selftest=copy.deepcopy(data.get("selftest")),
            fingerprint=copy.deepcopy(data.get("fingerprint", {})),
            report_files=dict(data.get("report_files", {})),
            coverage=Coverage.from_json(data["coverage"]["detail"]) if "coverage" in data
            else None,
            min_coverage=data["coverage"]["min_coverage"] if "coverage" in data else None,
            throttling=dict(data["throttling"]) if "throttling" in data else None,
        )
        if result.verdict != data["verdict"]:
            raise ResultsError(f"verdict {data['verdict']!r} does not follow from the "
                               f"document's requirements ({result.verdict!r}): edited by hand?")
        return result


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
        out["curl"] = curl_of(out)
    return out


def curl_of(exchange: Mapping[str, Any]) -> str:
    return Exchange(method=str(exchange["method"]), url=str(exchange.get("url") or ""),
                    request_headers=dict(exchange.get("request_headers") or {}),
                    request_body=exchange.get("request_body"),
                    auth=exchange.get("auth")).curl()


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


