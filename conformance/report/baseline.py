"""The baseline of known failures: a CI gate's accepted MUST failures, read from JSON or YAML.

A baseline file (README, "Known failures")::

    known_failures:
      - id: RDM-03
        reason: vendor ticket PTS-12
        until: 2026-12-31      # optional: from the next day on the entry no longer excuses

``--baseline-update FILE`` writes the run's MUST failures in this shape; ``lines`` names the
entries a run found stale (the requirement passed or no longer applies) or expired.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from conformance.specs import catalog
from conformance.target.redaction import REDACTOR


class BaselineError(Exception):
    """A baseline file cannot be read or does not have the documented shape (one line)."""


_BASELINE_KEYS = ("known_failures",)
_ENTRY_KEYS = ("id", "reason", "until")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Statuses that say a listed failure no longer happens: the entry can go.
STALE_STATUSES = ("passed", "not-applicable")
# Statuses that judged the requirement: --baseline-update drops an entry whose id was judged
# and did not fail; an entry for an id the run did not judge is carried over unchanged.
JUDGED_STATUSES = ("passed", "failed", "not-applicable")
_REASON_CHARS = 120


@dataclass(frozen=True)
class Baseline:
    """Known failures a CI gate accepts: listed ids that fail do not fail the run."""

    known: dict[str, str] = field(default_factory=dict)  # id -> why the failure is accepted
    path: Path | None = None
    until: dict[str, date] = field(default_factory=dict)  # id -> last day the entry excuses

    def expired(self, today: date) -> dict[str, str]:
        """The entries whose ``until`` day is before ``today``: they excuse nothing."""
        return {i: r for i, r in self.known.items() if i in self.until and self.until[i] < today}

    def active(self, today: date) -> dict[str, str]:
        """The entries that excuse a failure on ``today``."""
        expired = self.expired(today)
        return {i: r for i, r in self.known.items() if i not in expired}

    def entry(self, req_id: str) -> dict[str, Any]:
        """One entry as results.json shows it: {"id", "reason", "until"} (until may be null)."""
        until = self.until.get(req_id)
        return {"id": req_id, "reason": self.known[req_id],
                "until": until.isoformat() if until else None}

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
        known, until = _known_failures(path, data, valid_ids)
        return cls(known, path, until)


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
    except ValueError as exc:  # PyYAML builds dates itself: 2025-02-30 fails in date()
        raise BaselineError(f"{path}: not a real date: {exc} (until: YYYY-MM-DD)") from None


def _until(where: str, value: Any) -> date:
    # YAML reads an unquoted 2026-12-31 as a date; JSON (and a quoted YAML value) as text.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    shown = value.isoformat() if isinstance(value, date) else value  # a datetime: say so plainly
    raise BaselineError(f"{where}.until {shown!r} is not a date (YYYY-MM-DD)")


def _known_failures(path: Path, data: Any,
                    valid_ids: set[str]) -> tuple[dict[str, str], dict[str, date]]:
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
    until: dict[str, date] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: known_failures[{index}]"
        if not isinstance(entry, Mapping):
            raise BaselineError(f"{where} must be a mapping with 'id' and 'reason'")
        extra = [str(k) for k in entry if k not in _ENTRY_KEYS]
        if extra:
            raise BaselineError(f"{where}: unknown key {extra[0]!r} (expected 'id', 'reason', "
                                f"'until')")
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
        if entry.get("until") is not None:
            until[req_id] = _until(where, entry["until"])
    return known, until


# --- what a run made of its baseline ---------------------------------------------------------

def judge(baseline: Baseline, statuses: Mapping[str, str], today: date) -> dict[str, list]:
    """results.json's ``baseline``: the entries that excused a failure, the stale ones (the
    requirement passed or no longer applies) and the expired ones, each as ``entry()`` gives it.

    ``statuses`` is every requirement's status in the run; ``today`` the run's (UTC) day.
    """
    expired = baseline.expired(today)
    excused, stale = [], []
    for req_id in baseline.known:
        status = statuses.get(req_id)
        if req_id in expired:
            continue
        if status == "failed":
            excused.append(baseline.entry(req_id))
        elif status in STALE_STATUSES:
            stale.append({**baseline.entry(req_id), "status": status})
    return {"excused": excused, "stale": stale,
            "expired": [{**baseline.entry(i), "status": statuses.get(i) or "skipped"}
                        for i in expired]}


def lines(judged: Mapping[str, Any] | None) -> list[str]:
    """One terminal line per stale or expired baseline entry, and one for the file
    --baseline-update wrote (none without either flag); ``judged`` is RunResult.baseline."""
    if not judged:
        return []
    out = []
    for entry in judged.get("stale", ()):
        why = "passed" if entry["status"] == "passed" else "is not applicable"
        out.append(f"baseline: {entry['id']} is stale: it {why} in this run; remove it from "
                   f"the baseline")
    for entry in judged.get("expired", ()):
        still = " and failed" if entry["status"] == "failed" else ""
        out.append(f"baseline: {entry['id']} expired on {entry['until']}: it no longer excuses "
                   f"a failure{still}")
    written = judged.get("written")
    if written and written.get("entries") is not None:
        noun = "entry" if written["entries"] == 1 else "entries"
        out.append(f"baseline written: {written['file']} ({written['entries']} {noun})")
    elif written:
        out.append(f"baseline not written to {written['file']}: {written.get('why_not')}")
    return [REDACTOR.text(line) for line in out]


# --- --baseline-update ------------------------------------------------------------------------

def updated(rows: Iterable[Any], previous: Baseline | None, today: date) -> list[dict[str, Any]]:
    """The entries --baseline-update writes: every MUST that failed in the run, and every entry
    of the previous baseline whose requirement the run did not judge (not selected, skipped).

    A failure already listed keeps its reason and ``until`` (an expired entry stays expired:
    rewriting the file never extends a deadline); a new one gets the run's reason.
    """
    previous = previous or Baseline()
    entries: list[dict[str, Any]] = []
    for row in rows:
        listed = row.id in previous.known
        if row.level == "MUST" and row.status == "failed":
            if listed:
                entries.append(previous.entry(row.id))
            else:
                entries.append({"id": row.id, "reason": _new_reason(row.reason, today),
                                "until": None})
        elif listed and row.status not in JUDGED_STATUSES:
            entries.append(previous.entry(row.id))
    return entries


def _new_reason(reason: str, today: date) -> str:
    # The first line says what was expected; the rest (received, balances) is in the report.
    first = REDACTOR.text(reason).strip().splitlines()[0] if reason.strip() else ""
    text = " ".join(first.split())
    if len(text) > _REASON_CHARS:
        text = text[:_REASON_CHARS - 3] + "..."
    return f"failing on {today.isoformat()}: {text}" if text else \
        f"failing on {today.isoformat()}"


def dumps(entries: Iterable[Mapping[str, Any]], *, json_format: bool = False) -> str:
    """A baseline file holding ``entries`` (YAML, or JSON for a .json file)."""
    listed = [{key: entry[key] for key in _ENTRY_KEYS if entry.get(key) is not None}
              for entry in entries]
    if json_format:
        return json.dumps({"known_failures": listed}, indent=2, ensure_ascii=False) + "\n"
    header = ("# Known failures (points-conformance --baseline): a listed MUST requirement that\n"
              "# fails does not fail the run. Say why in `reason`; `until: YYYY-MM-DD` makes an\n"
              "# entry stop excusing after that day.\n")
    if not listed:
        return header + "known_failures: []\n"
    body = yaml.safe_dump({"known_failures": listed}, sort_keys=False, allow_unicode=True,
                          width=100)
    return header + body


def write(path: Path, entries: Iterable[Mapping[str, Any]]) -> None:
    """Write a baseline file atomically (a half-written baseline would break the next run)."""
    path = Path(path)
    text = dumps(entries, json_format=path.suffix.lower() == ".json")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

