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


UNJUDGED_WHY = ("vendor-side", "org-setting", "undocumented", "general-form")


@cache
def unjudged() -> dict:
    """specs/unjudged-codes.yaml: {"codes": [...], "rules": [...]}, each with its reason."""
    raw = openapi.read_yaml(openapi.specs_dir() / "unjudged-codes.yaml")
    return {"codes": tuple(raw.get("codes") or ()), "rules": tuple(raw.get("rules") or ())}


def code_accounts() -> list[dict]:
    """Every documented code (error-codes.yaml order, one row per number): its families and
    meaning, the requirements that expect it, and the reason from unjudged-codes.yaml."""
    expected: dict[int, list[str]] = {}
    for req in requirements():
        for code in req.codes:
            expected.setdefault(code, []).append(req.id)
    reasons = {entry.get("code"): entry for entry in unjudged()["codes"]}
    rows: dict[int, dict] = {}
    for entry in error_codes():
        row = rows.setdefault(entry["code"], {
            "code": entry["code"], "families": [], "meaning": entry["meaning"],
            "requirements": expected.get(entry["code"], []),
            "why": (reasons.get(entry["code"]) or {}).get("why"),
            "reason": (reasons.get(entry["code"]) or {}).get("reason")})
        row["families"].append(entry["family"])
    return list(rows.values())


def code_problems() -> list[str]:
    """Codes no requirement expects and no reason accounts for, and stale or doubled reasons."""
    problems = []
    for row in code_accounts():
        if not row["requirements"] and not row["reason"]:
            problems.append(f"code {row['code']} ({row['meaning']}): no requirement expects it "
                            "and specs/unjudged-codes.yaml gives no reason")
        if row["requirements"] and row["reason"]:
            problems.append(f"code {row['code']}: expected by {', '.join(row['requirements'])}"
                            " yet listed in specs/unjudged-codes.yaml")
    known = {entry["code"] for entry in error_codes()}
    listed = [entry.get("code") for entry in unjudged()["codes"]]
    for entry in unjudged()["codes"]:
        where = f"unjudged-codes.yaml: {entry.get('code')}"
        if entry.get("code") not in known:
            problems.append(f"{where}: not in error-codes.yaml")
        if listed.count(entry.get("code")) > 1:
            problems.append(f"{where}: listed twice")
        if entry.get("why") not in UNJUDGED_WHY:
            problems.append(f"{where}: why must be one of {', '.join(UNJUDGED_WHY)}")
        if not str(entry.get("reason") or "").strip():
            problems.append(f"{where}: reason is empty")
    for rule in unjudged()["rules"]:
        if not str(rule.get("rule") or "").strip() or not str(rule.get("reason") or "").strip():
            problems.append(f"unjudged-codes.yaml: rule {rule.get('rule')!r} needs a reason")
    return sorted(set(problems))


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
    return problems + code_problems()
