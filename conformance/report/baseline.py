"""The baseline of known failures: a CI gate's accepted MUST failures, read from JSON or YAML."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.specs import catalog


class BaselineError(Exception):
    """A baseline file cannot be read or does not have the documented shape (one line)."""




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

