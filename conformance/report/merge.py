"""`points-conformance merge`: the report folders of one run's shards (``--shard I/N``) as one.

Each shard's results.json is read back into the one results model; the requirement rows are
aggregated as the collector aggregates a test's outcomes (failed > error > passed >
not-applicable > skipped), the shards being the records, so an id judged in several shards is
failed if any shard failed it and passed only if every shard that judged it passed. The merged
RunResult derives the verdict itself, and the writer writes its reports.

Shards are refused (MergeError, one line) unless they are all the shards of one run: the same
seed, options but --shard, profile, spec files, document and library versions.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conformance.report import coverage as coverage_mod
from conformance.report import writer
from conformance.report.collector import Record, aggregate
from conformance.report.exchange_log import FILE_NAME as EXCHANGES_FILE
from conformance.report.results import (
    FuzzSummary,
    ResultsError,
    RunResult,
    scrub,
)
from conformance.specs import catalog

# The fingerprint's parts that must be equal for results to be shards of one run.
SAME_RUN = ("seed", "options", "profile", "specs", "documents", "versions")


class MergeError(Exception):
    """The folders given are not the shards of one run: exit 2 with this one line."""


@dataclass
class Shard:
    index: int
    count: int
    path: Path
    result: RunResult

    @property
    def name(self) -> str:
        return f"{self.index}/{self.count}"


def load(report_dir: Path) -> Shard:
    """One shard's report folder, read back (results.json)."""
    path = Path(report_dir) / writer.RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MergeError(f"{report_dir}: no {writer.RESULTS_FILE} (not the report folder of a "
                         f"run)") from None
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path}: cannot be read ({exc})") from None
    try:
        result = RunResult.from_json(data)
    except ResultsError as exc:
        raise MergeError(f"{path}: {exc}") from None
    shard = result.fingerprint.get("options", {}).get("shard")
    if not shard:
        raise MergeError(f"{report_dir}: not a shard (the run was not given --shard)")
    try:
        index, count = (int(n) for n in shard)
    except (TypeError, ValueError):
        raise MergeError(f"{path}: fingerprint.options.shard is {shard!r}, not [I, N]") from None
    return Shard(index, count, Path(report_dir), result)


def _identity(result: RunResult) -> dict[str, Any]:
    fp = copy.deepcopy(result.fingerprint)
    fp.get("options", {}).pop("shard", None)
    return {key: fp.get(key) for key in SAME_RUN}


def check(shards: Sequence[Shard]) -> None:
    """MergeError unless ``shards`` are every shard of one run, each once."""
    if not shards:
        raise MergeError("no report folder given")
    first = shards[0]
    mine = _identity(first.result)
    for other in shards[1:]:
        theirs = _identity(other.result)
        differ = [key for key in SAME_RUN if theirs[key] != mine[key]]
        if other.count != first.count:
            differ.insert(0, f"shard count ({first.name} and {other.name})")
        if differ:
            detail = differ[0] if differ[0].startswith("shard") else _first_difference(
                differ[0], mine[differ[0]], theirs[differ[0]])
            raise MergeError(f"{first.path} and {other.path} are shards of different runs: "
                             f"their fingerprints differ in {detail}")
    by_index: dict[int, Shard] = {}
    for shard in shards:
        if shard.index in by_index:
            raise MergeError(f"shard {shard.name} given twice: {by_index[shard.index].path} "
                             f"and {shard.path}")
        by_index[shard.index] = shard
    missing = [i for i in range(1, first.count + 1) if i not in by_index]
    if missing:
        raise MergeError(f"shard{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(f'{i}/{first.count}' for i in missing)} missing: merge "
                         f"needs all {first.count} report folders of the run")


def _first_difference(key: str, mine: Any, theirs: Any) -> str:
    # Names the option or spec file, never its value: a value may be a URL with credentials.
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for name in sorted(set(mine) | set(theirs)):
            if mine.get(name) != theirs.get(name):
                return f"{key}.{name}"
    return key


def merge(shards: Sequence[Shard]) -> RunResult:
    """The one RunResult of every shard of a run (checked first)."""
    check(shards)
    shards = sorted(shards, key=lambda s: s.index)
    first = shards[0].result
    rows = []
    for req in catalog.requirements():
        judged, reasons = [], []
        for shard in shards:
            row = shard.result.requirement(req.id)
            if row.status == "not-selected":
                reasons.append(row.reason)
                continue
            judged.append((shard, row))
        records = [Record(req.id, row.status, row.reason, tuple(row.evidence),
                          source=f"shard {shard.name}") for shard, row in judged]
        # Not selected anywhere: by --only or --suite, the same reason in every shard.
        unrecorded = ("not-selected", next((r for r in reasons if "--shard" not in r),
                                           reasons[0] if reasons else ""))
        merged = aggregate(req, records, (), unrecorded)
        merged.known = merged.status == "failed" and any(
            row.known for _, row in judged if row.status == "failed")
        rows.append(merged)
    passed = {row.id for row in rows if row.status == "passed"}

    per_operation: dict[str, dict[str, int]] = {}
    failures, seen = [], set()
    for shard in shards:
        for label, counts in shard.result.fuzz.per_operation.items():
            mine = per_operation.setdefault(label, {"test_cases": 0, "failures": 0})
            for name in mine:
                mine[name] += counts.get(name, 0)
        for failure in shard.result.fuzz.failures:
            if failure.key not in seen:
                seen.add(failure.key)
                failures.append(failure)

    starts = [_moment(s.result.started_at) for s in shards]
    ends = [start + timedelta(seconds=s.result.duration_s)
            for start, s in zip(starts, shards, strict=True)]
    aborted = [f"shard {s.name}: {s.result.aborted_reason}" for s in shards
               if s.result.aborted_reason]
    coverages = [s.result.coverage for s in shards if s.result.coverage is not None]
    fingerprint = copy.deepcopy(first.fingerprint)
    fingerprint["options"]["shard"] = None
    fingerprint["shards"] = [{"shard": s.name, "verdict": s.result.verdict,
                              "started_at": s.result.started_at,
                              "duration_s": s.result.duration_s} for s in shards]
    return RunResult(
        suite_version=first.suite_version, spec_version=first.spec_version,
        target=first.target, strict=first.strict,
        started_at=min(starts).isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=round((max(ends) - min(starts)).total_seconds(), 3),
        aborted_reason="; ".join(aborted) or None,
        requirements=rows,
        fuzz=FuzzSummary(per_operation, failures),
        undone=[f"shard {s.name}: {line}" for s in shards for line in s.result.undone],
        notes=[f"shard {s.name}: {text}" for s in shards for text in s.result.notes],
        baseline_stale=sorted({i for s in shards for i in s.result.baseline_stale} & passed),
        selftest=copy.deepcopy(first.selftest),
        fingerprint=fingerprint,
        coverage=coverage_mod.union(coverages) if coverages else None,
        min_coverage=first.min_coverage,
    )


def write(shards: Sequence[Shard], report_dir: Path) -> RunResult:
    """Merge ``shards`` into ``report_dir``: results.json, index.html, coverage.json,
    exchanges.ndjson (every shard's, in shard order), sealed as a run's folder is."""
    result = merge(shards)
    report_dir = Path(report_dir)
    writer.write_reports(result, report_dir)
    lines = []
    for shard in sorted(shards, key=lambda s: s.index):
        log = shard.path / EXCHANGES_FILE
        if log.is_file():
            for line in log.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    lines.append(json.dumps(scrub(json.loads(line)), ensure_ascii=False,
                                            sort_keys=True))
    writer.write_text(report_dir / EXCHANGES_FILE, "".join(f"{line}\n" for line in lines))
    writer.seal(result, report_dir)
    return result


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
