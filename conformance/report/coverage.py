"""Coverage of a run: what it exercised of what the specs and catalogs document.

Built from the run's :class:`~conformance.target.seen.Seen` (docs/coverage.md). Four
dimensions, per operation and in total, each ``seen/documented``:

- ``statuses``: the HTTP statuses the operation documents, received at least once;
- ``codes``: business codes of specs/error-codes.yaml read from a body (an ``http`` code also
  when it came as the HTTP status). An operation documents the codes some requirement expects
  of it; the total counts every entry of the catalog, whichever operation it came from;
- ``parameters``: each documented query parameter and JSON body field sent with a valid value,
  and with an invalid one (the latter only where an invalid value can be sent at all: a query
  parameter whose schema takes any string has none);
- ``formats``: JSON, and XML where the operation documents it.

The total percentage, which ``--min-coverage`` compares, is every item seen over every item
documented, all dimensions together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from conformance.paths import specs_dir
from conformance.specs import catalog
from conformance.target import seen as seen_mod
from conformance.target.seen import INVALID, VALID, Seen

DIMENSIONS = ("statuses", "codes", "parameters", "formats")
SCHEMA_FILE = "coverage.schema.json"
SCHEMA_ID = "https://points-conformance.invalid/coverage.schema.json"
# The code tables an operation's family answers with, in the order a code number is looked up.
FAMILY_TABLES = {"points-v1.1": ("v1.1", "http"), "points-v2": ("v2", "v1.1", "http"),
                 "goodwill": ("http",)}
# Requirements of these areas name HTTP statuses (the catalog's http family), not item codes.
HTTP_AREAS = ("contract", "security", "goodwill")


def percent(seen: int, documented: int) -> float:
    """``seen`` of ``documented`` in percent, one decimal; 100 when nothing is documented."""
    return 100.0 if documented == 0 else round(100.0 * seen / documented, 1)


@dataclass(frozen=True)
class CodeEntry:
    family: str
    code: int
    kind: str
    meaning: str

    @property
    def key(self) -> str:
        return f"{self.family}:{self.code}"


@cache
def code_entries() -> tuple[CodeEntry, ...]:
    return tuple(CodeEntry(str(e["family"]), int(e["code"]), str(e["kind"]),
                           " ".join(str(e.get("meaning", "")).split()))
                 for e in catalog.error_codes())


def _entry_for(code: int, families: Sequence[str]) -> CodeEntry | None:
    """The catalog entry of ``code`` in the first of ``families`` that lists it, else any."""
    candidates = [e for e in code_entries() if e.code == code]
    for family in families:
        for entry in candidates:
            if entry.family == family:
                return entry
    return candidates[0] if candidates else None


def expected_codes(requirements: Iterable[catalog.Requirement]
                   ) -> dict[str, dict[str, list[str]]]:
    """Operation label -> catalog key ("v1.1:807") -> the requirement ids expecting it there."""
    by_id = {spec.operation_id: spec for spec in seen_mod.operations().values()}
    found: dict[str, dict[str, list[str]]] = {}
    for req in requirements:
        for operation_id in req.operations:
            spec = by_id.get(operation_id)
            if spec is None:
                continue
            tables = FAMILY_TABLES.get(spec.family, ())
            if req.area in HTTP_AREAS:
                tables = ("http", *tables)
            for code in req.codes:
                entry = _entry_for(code, tables)
                if entry is not None:
                    ids = found.setdefault(spec.label, {}).setdefault(entry.key, [])
                    if req.id not in ids:
                        ids.append(req.id)
    return found


def _matched_codes(spec: seen_mod.OperationSpec, raw: Iterable[str], statuses: Iterable[int],
                   documented: Iterable[str]) -> set[str]:
    """The catalog entries an operation's observed codes stand for.

    A code is the entry of its own table ("v2:418"); a code a table does not list but the
    operation documents from another one (reversal's 812 comes from the v1.1 table) is that
    entry; an HTTP status is the http entry of the same number.
    """
    keys = {e.key for e in code_entries()}
    documented = set(documented)
    found = set()
    for item in raw:
        family, _, number = item.partition(":")
        if item in keys:
            found.add(item)
            continue
        code = int(number)
        mine = [key for key in documented if key.endswith(f":{code}")]
        if mine:
            found.add(sorted(mine)[0])
            continue
        entry = _entry_for(code, FAMILY_TABLES.get(spec.family, ()))
        if entry is not None:
            found.add(entry.key)
    found.update(f"http:{status}" for status in statuses if f"http:{status}" in keys)
    return found


def _code_item(key: str, requirements: Sequence[str]) -> dict[str, Any]:
    family, _, code = key.partition(":")
    return {"family": family, "code": int(code), "requirements": list(requirements)}


@dataclass
class Dimension:
    seen: int
    documented: int
    never_seen: list[Any] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return percent(self.seen, self.documented)

    def to_json(self) -> dict[str, Any]:
        return {"seen": self.seen, "documented": self.documented, "percent": self.percent,
                "never_seen": list(self.never_seen)}


def _total_percent(dimensions: Mapping[str, Dimension]) -> float:
    return percent(sum(d.seen for d in dimensions.values()),
                   sum(d.documented for d in dimensions.values()))


@dataclass
class OperationCoverage:
    operation: str  # label
    operation_id: str
    dimensions: dict[str, Dimension]
    undocumented_statuses: list[int] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return _total_percent(self.dimensions)

    def to_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "operation_id": self.operation_id,
                "percent": self.percent,
                **{name: self.dimensions[name].to_json() for name in DIMENSIONS},
                "undocumented_statuses": list(self.undocumented_statuses)}


@dataclass
class Coverage:
    """coverage.json: per operation, in total, and every catalog code with who expects it."""

    operations: list[OperationCoverage]
    total: dict[str, Dimension]
    codes: list[dict[str, Any]]

    @property
    def percent(self) -> float:
        """Every item seen over every item documented, all dimensions together."""
        return _total_percent(self.total)

    def line(self) -> str:
        """The terminal's line: ``coverage: statuses 31/34, codes 58/84, ...``."""
        return "coverage: " + ", ".join(f"{name} {self.total[name].seen}/"
                                        f"{self.total[name].documented}" for name in DIMENSIONS)

    def summary(self) -> dict[str, Any]:
        """What results.json carries of it."""
        return {"percent": self.percent,
                **{name: {"seen": self.total[name].seen,
                          "documented": self.total[name].documented} for name in DIMENSIONS}}

    def to_json(self) -> dict[str, Any]:
        return {"$schema": SCHEMA_ID, "percent": self.percent,
                "total": {name: self.total[name].to_json() for name in DIMENSIONS},
                "operations": [op.to_json() for op in self.operations],
                "codes": [dict(entry) for entry in self.codes]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Coverage:
        """The model of a coverage.json document (results.json carries one: re-rendering)."""
        def dims(entry: Mapping[str, Any]) -> dict[str, Dimension]:
            return {name: Dimension(int(entry[name]["seen"]), int(entry[name]["documented"]),
                                    list(entry[name]["never_seen"])) for name in DIMENSIONS}

        return cls(operations=[OperationCoverage(op["operation"], op["operation_id"], dims(op),
                                                 list(op["undocumented_statuses"]))
                               for op in data["operations"]],
                   total=dims(data["total"]), codes=[dict(c) for c in data["codes"]])


def build(seen: Seen, requirements: Sequence[catalog.Requirement] | None = None) -> Coverage:
    """The coverage of a run that saw ``seen``, against the specs and the catalogs."""
    requirements = catalog.requirements() if requirements is None else requirements
    expected = expected_codes(requirements)
    observed = seen.to_dict()
    operations: list[OperationCoverage] = []
    codes_seen: dict[str, list[str]] = {}
    never: dict[str, list[Any]] = {name: [] for name in DIMENSIONS}
    totals = {name: [0, 0] for name in DIMENSIONS}
    for label, spec in seen_mod.operations().items():
        got = observed.get(label, {})
        statuses = set(got.get("statuses", ()))
        documented_codes = expected.get(label, {})
        matched = _matched_codes(spec, got.get("codes", ()), statuses, documented_codes)
        for key in matched:
            codes_seen.setdefault(key, []).append(label)
        sent = seen.params(label)
        param_items = [(f.name, how) for f in spec.fields
                       for how in ((VALID, INVALID) if f.can_be_invalid else (VALID,))]
        formats = set(got.get("formats", ()))
        dims = {
            "statuses": Dimension(len(statuses & set(spec.statuses)), len(spec.statuses),
                                  [s for s in spec.statuses if s not in statuses]),
            "codes": Dimension(
                sum(1 for key in documented_codes if key in matched), len(documented_codes),
                [_code_item(key, ids) for key, ids in sorted(
                    documented_codes.items(), key=lambda kv: _sort_key(kv[0]))
                 if key not in matched]),
            "parameters": Dimension(
                sum(1 for name, how in param_items if how in sent.get(name, ())),
                len(param_items),
                [f"{name} ({how})" for name, how in param_items
                 if how not in sent.get(name, ())]),
            "formats": Dimension(len(formats & set(spec.formats)), len(spec.formats),
                                 [f for f in spec.formats if f not in formats]),
        }
        operations.append(OperationCoverage(label, spec.operation_id, dims,
                                            sorted(statuses - set(spec.statuses))))
        for name in ("statuses", "parameters"):
            totals[name][0] += dims[name].seen
            totals[name][1] += dims[name].documented
            never[name] += [f"{label}: {item}" for item in dims[name].never_seen]
    by_code: dict[str, list[str]] = {}
    for ids_by_key in expected.values():
        for key, ids in ids_by_key.items():
            by_code.setdefault(key, [])
            by_code[key] += [i for i in ids if i not in by_code[key]]
    codes = []
    for entry in sorted(code_entries(), key=lambda e: _sort_key(e.key)):
        codes.append({"family": entry.family, "code": entry.code, "kind": entry.kind,
                      "meaning": entry.meaning, "requirements": sorted(by_code.get(entry.key, [])),
                      "seen": entry.key in codes_seen,
                      "seen_on": sorted(codes_seen.get(entry.key, []))})
    formats_documented = sorted({f for spec in seen_mod.operations().values()
                                 for f in spec.formats})
    formats_seen = {f for op in observed.values() for f in op.get("formats", ())}
    total = {
        "statuses": Dimension(*totals["statuses"], never["statuses"]),
        "codes": Dimension(sum(1 for c in codes if c["seen"]), len(codes),
                           [_code_item(f"{c['family']}:{c['code']}", c["requirements"])
                            for c in codes if not c["seen"]]),
        "parameters": Dimension(*totals["parameters"], never["parameters"]),
        "formats": Dimension(len(formats_seen & set(formats_documented)),
                             len(formats_documented),
                             [f for f in formats_documented if f not in formats_seen]),
    }
    return Coverage(operations, total, codes)


_FAMILY_ORDER = {"http": 0, "v1.1": 1, "v2": 2}


def _sort_key(key: str) -> tuple[int, int]:
    family, _, code = key.partition(":")
    return _FAMILY_ORDER.get(family, 9), int(code)


# --- schema -----------------------------------------------------------------------------------

@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of coverage.json (specs/coverage.schema.json)."""
    with (specs_dir() / SCHEMA_FILE).open(encoding="utf-8") as fh:
        return json.load(fh)


def schema_errors(data: Any) -> list[str]:
    """Every way ``data`` differs from the coverage.json schema, one line each."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))]


def union(parts: Sequence[Coverage]) -> Coverage:
    """The coverage of runs taken together (the shards of one run): an item is seen when any
    part saw it, so what is never seen is what every part has under never_seen."""
    if not parts:
        raise ValueError("union of no coverage")

    def key(item: Any) -> Any:
        return (item["family"], item["code"]) if isinstance(item, Mapping) else item

    def dimension(dims: Sequence[Dimension]) -> Dimension:
        never = [item for item in dims[0].never_seen
                 if all(key(item) in {key(i) for i in d.never_seen} for d in dims[1:])]
        documented = dims[0].documented
        return Dimension(documented - len(never), documented, never)

    def dimensions(dims: Sequence[Mapping[str, Dimension]]) -> dict[str, Dimension]:
        return {name: dimension([d[name] for d in dims]) for name in DIMENSIONS}

    operations = []
    for op in parts[0].operations:
        same = [next(o for o in part.operations if o.operation == op.operation)
                for part in parts]
        undocumented = sorted({s for o in same for s in o.undocumented_statuses})
        operations.append(OperationCoverage(op.operation, op.operation_id,
                                            dimensions([o.dimensions for o in same]),
                                            undocumented))
    codes = []
    for entry in parts[0].codes:
        same = [next(c for c in part.codes if key(c) == key(entry)) for part in parts]
        codes.append({**entry, "seen": any(c["seen"] for c in same),
                      "seen_on": sorted({label for c in same for label in c["seen_on"]})})
    return Coverage(operations, dimensions([part.total for part in parts]), codes)
