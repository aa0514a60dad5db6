"""What a run sent and received, per documented operation: the raw facts of its coverage.

Every answer the run gets (the scenarios' through ``TargetClient``'s observer, the fuzzer's and
the link walk's from schemathesis) is handed to :meth:`Seen.observe` with the request that
caused it. Per operation label (``"GET /v1.1/points/isredeemable"``) it keeps, as plain sets:
the HTTP statuses received; the business codes read from the bodies (``"v1.1:808"``: the
item_status code, ``"http:200"``: a v1.1 response.status.code, ``"v2:418"``: errors[] and
warnings[]), read with the same functions the checks use (``target.bodies``); the formats of
the answers (``json``, ``xml``); and, for every documented query parameter and JSON body field
sent, whether it was sent with a ``valid`` value and with an ``invalid`` one (by the lenient
spec's schema of that parameter or field). ``report.coverage`` compares these with what the
specs and catalogs document.

A ``Seen`` is plain data: it pickles (CON-08's child process hands its own back), exports to
a dict and merges (xdist workers), and merging the same facts twice changes nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance.specs import openapi
from conformance.target import bodies

VALID, INVALID = "valid", "invalid"
JSON_FORMAT, XML_FORMAT = "json", "xml"
_KINDS = ("statuses", "codes", "formats")
_BODY_LIMIT = 1 << 20  # codes are read from answers up to 1 MB; a larger one is not an answer


# --- what the specs say about an operation's requests -------------------------------------

@dataclass(frozen=True)
class Field:
    """One documented request parameter or JSON body field."""

    name: str  # "points", or a body field's path: "fromCustomerIdentifier.type", "redeem[].notes"
    where: str  # "query", "header" or "body"
    schema: Any  # JSON Schema (refs resolve in the combined document)
    text: bool  # sent as text (query, header): its value is read from a string

    @property
    def can_be_invalid(self) -> bool:
        """Whether some value sent for it is invalid: a text parameter whose schema accepts
        any string cannot be (every query value is a string)."""
        return not (self.text and _any_string(self.schema))


@dataclass(frozen=True)
class OperationSpec:
    label: str  # "GET /v1.1/points/isredeemable"
    operation_id: str
    family: str  # "points-v1.1", "points-v2", "goodwill"
    statuses: tuple[int, ...]
    formats: tuple[str, ...]
    fields: tuple[Field, ...]


@cache
def _doc() -> dict:
    """The combined lenient document, built once: it is only read here."""
    return openapi.load_combined()


@cache
def operations() -> dict[str, OperationSpec]:
    """Every documented operation of the lenient specs, by label."""
    doc = _doc()
    found = {}
    for op in openapi.iter_operations(doc):
        label = f"{op.method.upper()} {op.path}"
        definition = op.definition
        statuses, formats = set(), {JSON_FORMAT}
        for status, response in (definition.get("responses") or {}).items():
            if str(status).isdigit():
                statuses.add(int(status))
            for media in (openapi.resolve(doc, response) or {}).get("content") or {}:
                if media.split(";")[0].strip().endswith("xml"):
                    formats.add(XML_FORMAT)
        fields = []
        for parameter in definition.get("parameters") or ():
            parameter = openapi.resolve(doc, parameter)
            if parameter.get("in") in ("query", "header"):
                fields.append(Field(parameter["name"], parameter["in"],
                                    parameter.get("schema") or {}, text=True))
        body = openapi.resolve(doc, definition.get("requestBody")) or {}
        json_body = (body.get("content") or {}).get("application/json")
        if json_body and json_body.get("schema"):
            for name, schema in _leaves(doc, json_body["schema"], "", frozenset()).items():
                fields.append(Field(name, "body", schema, text=False))
        found[label] = OperationSpec(label, op.operation_id, op.family, tuple(sorted(statuses)),
                                     tuple(sorted(formats)), tuple(fields))
    return found


def _leaves(doc: dict, schema: Any, prefix: str, visiting: frozenset[str]) -> dict[str, Any]:
    """The leaf fields of a body schema by path ("a.b", "list[].c"), objects and arrays walked
    through, combinators merged; a schema that refers back to itself is walked once."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if ref is not None:
        if ref in visiting:
            return {}
        visiting = visiting | {ref}
        schema = openapi.resolve(doc, schema)
    found: dict[str, Any] = {}
    for key in ("allOf", "oneOf", "anyOf"):
        for member in schema.get(key) or ():
            found.update(_leaves(doc, member, prefix, visiting))
    for name, sub in (schema.get("properties") or {}).items():
        path = prefix + name
        resolved = openapi.resolve(doc, sub) if isinstance(sub, dict) else {}
        if resolved.get("type") == "array" or "items" in resolved:
            inner = _leaves(doc, resolved.get("items") or {}, path + "[].", visiting)
        else:
            inner = _leaves(doc, sub, path + ".", visiting)
        if inner:
            found.update(inner)
        else:
            found[path] = sub
    return found


_STRING_CONSTRAINTS = ("pattern", "enum", "const", "format", "minLength", "maxLength", "not")


def _any_string(schema: Any) -> bool:
    schema = openapi.resolve(_doc(), schema) if isinstance(schema, dict) else schema
    if not isinstance(schema, dict):
        return True
    if any(key in schema for key in ("allOf", "oneOf", "anyOf")):
        return False
    kind = schema.get("type")
    return kind in (None, "string") and not any(key in schema for key in _STRING_CONSTRAINTS)


@cache
def _validator(label: str, name: str):
    from jsonschema import Draft202012Validator

    spec = next(f for f in operations()[label].fields if f.name == name)
    return Draft202012Validator(openapi.validation_schema(_doc(), spec.schema),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _text_forms(value: str) -> Iterator[Any]:
    """A query string as each JSON value it may stand for: "10" may be the integer 10."""
    yield value
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        yield lowered == "true"
    try:
        number = float(value)
    except ValueError:
        return
    if number.is_integer() and "." not in value and "e" not in lowered:
        yield int(number)
    yield number


def _valid(label: str, spec: Field, value: Any) -> bool:
    validator = _validator(label, spec.name)
    if spec.text and isinstance(value, str):
        return any(validator.is_valid(form) for form in _text_forms(value))
    return validator.is_valid(value)


def _body_values(data: Any, wanted: Mapping[str, Field], prefix: str = ""
                 ) -> Iterator[tuple[str, Any]]:
    """(path, value) of every documented field present in a sent JSON body."""
    if isinstance(data, dict):
        for key, value in data.items():
            path = prefix + str(key)
            if path in wanted:
                yield path, value
            else:
                yield from _body_values(value, wanted, path + ".")
    elif isinstance(data, list):
        for item in data:
            yield from _body_values(item, wanted, prefix[:-1] + "[]." if prefix else "[].")


# --- what a run saw ---------------------------------------------------------------------------

def _media(headers: Mapping[str, Any] | None) -> str:
    value = ""
    for key, item in (headers or {}).items():
        if str(key).lower() == "content-type":
            value = item[0] if isinstance(item, list) and item else item
            break
    return str(value or "").split(";")[0].strip().lower()


class Seen:
    """Thread-safe record of what the run sent and received, per operation label."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops: dict[str, dict[str, set]] = {}

    def __getstate__(self) -> dict:
        return {"ops": self.to_dict()}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        self.merge(state["ops"])

    def _op(self, label: str) -> dict[str, set]:
        return self._ops.setdefault(label, {"statuses": set(), "codes": set(),
                                            "formats": set(), "params": set()})

    def observe(self, label: str, *, url: str, request_headers: Mapping[str, Any] | None,
                request_body: bytes | str | None, status: int,
                response_headers: Mapping[str, Any] | None, content: bytes | None) -> None:
        """Record one exchange of the operation ``label`` (no-op for an undocumented one)."""
        spec = operations().get(label)
        if spec is None:
            return
        media = _media(response_headers)
        fmt = JSON_FORMAT if media.endswith("json") else XML_FORMAT if media.endswith("xml") \
            else None
        codes = _codes(spec.family, fmt, content)
        with self._lock:
            op = self._op(label)
            op["statuses"].add(int(status))
            op["codes"].update(codes)
            if fmt is not None:
                op["formats"].add(fmt)
            known = set(op["params"])
        sent = set(self._sent(spec, url, request_headers, request_body, known))
        if sent:
            with self._lock:
                self._op(label)["params"].update(sent)

    def observe_response(self, label: str, response) -> None:
        """Record a ``requests.Response`` (and the request it answered) of ``label``."""
        request = response.request
        if str(request.method).upper() != label.partition(" ")[0]:
            return  # a method the operation does not document (the fuzzer tries them)
        self.observe(label, url=request.url, request_headers=request.headers,
                     request_body=request.body, status=response.status_code,
                     response_headers=response.headers, content=response.content)

    @staticmethod
    def _sent(spec: OperationSpec, url: str, headers: Mapping[str, Any] | None,
              body: bytes | str | None, known: set) -> Iterator[str]:
        # A field already sent both ways needs no more validating: that bounds the cost.
        fields = {f.name: f for f in spec.fields
                  if not {f"{f.name}|{VALID}", f"{f.name}|{INVALID}"} <= known}
        if not fields:
            return
        values: list[tuple[str, Any]] = []
        query = [f for f in fields.values() if f.where == "query"]
        if query:
            given = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
            values += [(f.name, given[f.name]) for f in query if f.name in given]
        lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
        values += [(f.name, lowered[f.name.lower()]) for f in fields.values()
                   if f.where == "header" and f.name.lower() in lowered]
        body_fields = {name: f for name, f in fields.items() if f.where == "body"}
        if body_fields and body and "json" in _media(headers):
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                data = None
            values += list(_body_values(data, body_fields))
        for name, value in values:
            yield f"{name}|{VALID if _valid(spec.label, fields[name], value) else INVALID}"

    def labels(self) -> list[str]:
        with self._lock:
            return sorted(self._ops)

    def for_label(self, label: str) -> Seen:
        """Only what was seen of ``label``."""
        part = Seen()
        part.merge({key: value for key, value in self.to_dict().items() if key == label})
        return part

    def to_dict(self) -> dict[str, dict[str, list]]:
        """Plain, sorted data (JSON-ready): label -> statuses, codes, formats, params."""
        with self._lock:
            return {label: {kind: sorted(values) for kind, values in op.items()}
                    for label, op in sorted(self._ops.items())}

    def merge(self, other: Seen | Mapping[str, Mapping[str, Iterable]]) -> Seen:
        """Add what another ``Seen`` (or its ``to_dict()``) holds; returns self."""
        data = other.to_dict() if isinstance(other, Seen) else other
        with self._lock:
            for label, op in data.items():
                mine = self._op(label)
                for kind, values in op.items():
                    mine.setdefault(kind, set()).update(values)
        return self

    def params(self, label: str) -> dict[str, set[str]]:
        """Field name -> {"valid", "invalid"} as sent so far."""
        with self._lock:
            found: dict[str, set[str]] = {}
            for item in self._ops.get(label, {}).get("params", ()):
                name, _, how = item.rpartition("|")
                found.setdefault(name, set()).add(how)
            return found


def _codes(family: str, fmt: str | None, content: bytes | None) -> set[str]:
    """The business codes of one answer body (``"family:code"``)."""
    if fmt is None or not content or len(content) > _BODY_LIMIT:
        return set()
    if fmt == XML_FORMAT:
        body = bodies.parse_xml(content)
    else:
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            return set()
    found = set()
    if family == "points-v1.1":
        item, status = bodies.item_code(body), bodies.status_code(body)
        if item is not None:
            found.add(f"v1.1:{item}")
        if status is not None:
            found.add(f"http:{status}")
    else:
        found.update(f"v2:{code}" for code in bodies.v2_codes(body))
    return found
