"""The requirement, error-code and conflict catalogs under specs/, and their consistency checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from conformance.specs import openapi

LEVELS = ("MUST", "SHOULD")
AREAS = ("redemption", "otp", "reversal", "transfer", "goodwill", "contract", "security")
CODE_FAMILIES = ("http", "v1.1", "v2")
CODE_KINDS = ("success", "error", "warning")
_ID = re.compile(r"^[A-Z]{2,3}-[0-9]{2}$")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    area: str
    title: str
    rule: str
    codes: tuple[int, ...]
    operations: tuple[str, ...]
    seeds: tuple[str, ...]
    conflicts: tuple[str, ...] = field(default=())


@cache
def requirements() -> tuple[Requirement, ...]:
    raw = openapi.read_yaml(openapi.specs_dir() / "requirements.yaml")["requirements"]
    return tuple(
        Requirement(
            id=r["id"], level=r["level"], area=r["area"], title=r["title"],
            rule=" ".join(str(r["rule"]).split()), codes=tuple(r.get("codes") or ()),
            operations=tuple(r.get("operations") or ()), seeds=tuple(r.get("seeds") or ()),
            conflicts=tuple(r.get("conflicts") or ()),
        )
        for r in raw
    )


def requirement(req_id: str) -> Requirement:
    for req in requirements():
        if req.id == req_id:
            return req
    raise KeyError(req_id)


@cache
def error_codes() -> tuple[dict, ...]:
    return tuple(openapi.read_yaml(openapi.specs_dir() / "error-codes.yaml")["codes"])


@cache
def conflicts() -> tuple[dict, ...]:
    return tuple(openapi.read_yaml(openapi.specs_dir() / "conflicts.yaml")["conflicts"])


def check() -> list[str]:
    """Every inconsistency between the catalogs and the specs, as one message each."""
    problems: list[str] = []
    conflict_ids = [c["id"] for c in conflicts()]
    problems += [f"conflicts.yaml: id {cid} listed twice"
                 for cid in sorted({c for c in conflict_ids if conflict_ids.count(c) > 1})]

    seen_codes: set[tuple[str, int]] = set()
    for entry in error_codes():
        where = f"error-codes.yaml: {entry.get('family')} {entry.get('code')}"
        if not isinstance(entry.get("code"), int):
            problems.append(f"{where}: code must be an integer")
        if entry.get("family") not in CODE_FAMILIES:
            problems.append(f"{where}: family must be one of {', '.join(CODE_FAMILIES)}")
        if entry.get("kind") not in CODE_KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(CODE_KINDS)}")
        if not str(entry.get("meaning") or "").strip():
            problems.append(f"{where}: meaning is empty")
        key = (entry.get("family"), entry.get("code"))
        if key in seen_codes:
            problems.append(f"{where}: listed twice for the same family")
        seen_codes.add(key)
    known_codes = {code for _, code in seen_codes}

    operation_ids = {op.operation_id for op in openapi.iter_operations(openapi.load_combined())}
    spec_conflicts = set()
    for family in openapi.FAMILIES:
        spec_conflicts |= openapi.conflict_ids(openapi.load_family(family))
    problems += [f"specs/openapi marks {cid}, which conflicts.yaml does not list"
                 for cid in sorted(spec_conflicts - set(conflict_ids))]

    ids = [r.id for r in requirements()]
    problems += [f"requirements.yaml: id {rid} listed twice"
                 for rid in sorted({r for r in ids if ids.count(r) > 1})]
    for req in requirements():
        where = f"requirements.yaml: {req.id}"
        if not _ID.match(req.id):
            problems.append(f"{where}: id must look like ABC-01")
        if req.level not in LEVELS:
            problems.append(f"{where}: level must be MUST or SHOULD")
        if req.area not in AREAS:
            problems.append(f"{where}: area must be one of {', '.join(AREAS)}")
        problems += [f"{where}: code {code} is not in error-codes.yaml"
                     for code in req.codes if code not in known_codes]
        problems += [f"{where}: operation {op} is not in the specs"
                     for op in req.operations if op not in operation_ids]
        problems += [f"{where}: conflict {cid} is not in conflicts.yaml"
                     for cid in req.conflicts if cid not in conflict_ids]
        if not req.seeds:
            problems.append(f"{where}: no seed reference")
    return problems
