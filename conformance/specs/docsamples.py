"""Validate the vendor documents' sample payloads (fixtures/doc-samples) against the specs.

A sample that follows the documents' tables passes both the lenient and the strict spec. A
sample that hits a recorded conflict passes lenient and fails strict, and the conflicts it hits
are found by applying one conflict's strict form at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

import jsonschema

from conformance.paths import fixtures_dir
from conformance.specs import openapi, xsd

JSON_MEDIA = "application/json"


@dataclass
class SampleResult:
    file: str
    expected_conflicts: list[str]
    lenient_errors: list[str]
    strict_errors: list[str]
    hits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        if self.lenient_errors:
            return False
        if not self.expected_conflicts:
            return not self.strict_errors
        return bool(self.strict_errors) and sorted(self.hits) == sorted(self.expected_conflicts)

    def describe(self) -> str:
        if self.lenient_errors:
            return f"{self.file}: fails the lenient spec: {self.lenient_errors[0]}"
        if not self.expected_conflicts and self.strict_errors:
            return (f"{self.file}: fails the strict spec but lists no conflict: "
                    f"{self.strict_errors[0]}")
        if self.expected_conflicts and not self.strict_errors:
            return f"{self.file}: passes the strict spec though it lists {self.expected_conflicts}"
        if sorted(self.hits) != sorted(self.expected_conflicts):
            return (f"{self.file}: hits conflicts {sorted(self.hits)}, "
                    f"manifest lists {sorted(self.expected_conflicts)}")
        hit = f" (strict fails on {', '.join(self.hits)})" if self.hits else ""
        return f"{self.file}: ok{hit}"


def samples_dir() -> Path:
    return fixtures_dir() / "doc-samples"


def manifest(directory: Path | None = None) -> list[dict]:
    return openapi.read_yaml((directory or samples_dir()) / "manifest.yaml")["samples"]


@cache
def _family_of(operation_id: str) -> str:
    for family in openapi.FAMILIES:
        doc = openapi.load_family(family)
        if any(op.operation_id == operation_id for op in openapi.iter_operations(doc)):
            return family
    raise openapi.SpecError(f"no spec defines operation {operation_id!r}")


@cache
def _doc(family: str, variant: frozenset[str] | None) -> dict:
    """``variant`` None: lenient; a set: those conflicts strict; the full set: strict."""
    if variant is None:
        return openapi.load_family(family)
    return openapi.load_family(family, only=variant)


def _json_errors(doc: dict, schema: dict | None, instance: object) -> list[str]:
    if schema is None:
        return ["the spec documents no JSON body here"]
    validator = jsonschema.Draft202012Validator(openapi.validation_schema(doc, schema))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)]


def _coerce(value: str, schema: dict) -> object:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def _query_errors(doc: dict, operation_id: str, query: str) -> list[str]:
    op = next(o for o in openapi.iter_operations(doc) if o.operation_id == operation_id)
    params = {}
    for param in op.definition.get("parameters", []):
        param = openapi.resolve(doc, param)
        if param.get("in") == "query":
            params[param["name"]] = param
    errors = []
    given = dict(parse_qsl(query, keep_blank_values=True))
    for name, value in given.items():
        if name not in params:
            errors.append(f"{name}: not a documented query parameter")
            continue
        schema = openapi.resolve(doc, params[name].get("schema", {}))
        errors += [f"{name}={value}: {msg.split(': ', 1)[-1]}"
                   for msg in _json_errors(doc, schema, _coerce(value, schema))]
    errors += [f"{name}: required query parameter missing"
               for name, param in params.items() if param.get("required") and name not in given]
    return errors


def _xml_errors(entry: dict, path: Path, variant: frozenset[str] | None) -> list[str]:
    target = xsd.XsdTarget(entry["operation"], entry["direction"], strict=variant is not None)
    schema = xsd.from_text(xsd.generate(target, only=variant))
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(str(path))]


def _errors(entry: dict, path: Path, variant: frozenset[str] | None) -> list[str]:
    media, operation = entry["media"], entry["operation"]
    if media == "xml":
        return _xml_errors(entry, path, variant)
    doc = _doc(_family_of(operation), variant)
    text = path.read_text(encoding="utf-8")
    if media == "query":
        return _query_errors(doc, operation, text.strip())
    instance = json.loads(text)
    if entry["direction"] == "request":
        return _json_errors(doc, openapi.request_schema(doc, operation, JSON_MEDIA), instance)
    return _json_errors(doc, openapi.response_schema(doc, operation, "200", JSON_MEDIA), instance)


def check_sample(entry: dict, directory: Path | None = None) -> SampleResult:
    path = (directory or samples_dir()) / entry["file"]
    every = frozenset(_conflict_catalog())
    result = SampleResult(
        file=entry["file"],
        expected_conflicts=list(entry.get("conflicts") or []),
        lenient_errors=_errors(entry, path, None),
        strict_errors=_errors(entry, path, every),
    )
    if result.strict_errors:
        result.hits = sorted(c for c in every if _errors(entry, path, frozenset({c})))
    return result


@cache
def _conflict_catalog() -> tuple[str, ...]:
    data = openapi.read_yaml(openapi.specs_dir() / "conflicts.yaml")
    return tuple(c["id"] for c in data["conflicts"])


def check_all(directory: Path | None = None) -> list[SampleResult]:
    return [check_sample(entry, directory) for entry in manifest(directory)]
