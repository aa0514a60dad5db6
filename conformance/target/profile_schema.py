"""The profile format: specs/profile.schema.json, and its errors as one line naming the key.

The schema is what editors complete and check a profile with and what docs/profile.md is made
from. This module reads values from the environment as the types the schema expects and turns
the first schema error into the dotted key and a message worded by the schema's
``errorMessage`` or ``x-messages`` (never jsonschema's own text, which would quote a secret).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import jsonschema

from conformance.paths import specs_dir
from conformance.target.bodies import as_int

SCHEMA_FILE = "profile.schema.json"
# The published schema lets an editor accept "${VAR}" in a number or true/false key; the
# loader validates after substitution, where such a string is an error.
ENV_REF = "#/definitions/envRef"
TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


@cache
def schema() -> dict[str, Any]:
    """specs/profile.schema.json: the profile's keys, types, defaults and descriptions."""
    return json.loads((specs_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.protocols.Validator:
    loaded = copy.deepcopy(schema())
    _, container, name = ENV_REF.split("/")
    loaded[container][name] = False
    cls = jsonschema.validators.validator_for(loaded)
    cls.check_schema(loaded)
    return cls(loaded)


def first_problem(data: dict[str, Any]) -> tuple[str, str] | None:
    """The first schema error in reading order as (dotted key, message); None when valid."""
    problems = sorted(_validator().iter_errors(data), key=_document_order)
    return _explain(problems[0]) if problems else None


def coerce(data: dict[str, Any]) -> dict[str, Any]:
    """Strings (as every ``${VAR}`` arrives) read as the number or boolean the schema expects;
    numbers where the schema takes text (an unquoted org id) read as that text."""
    return _coerce(data, schema())


def dotted(parts: Sequence[Any]) -> str:
    return ".".join(str(part) for part in parts)


def _resolve(node: Any) -> dict[str, Any]:
    """A schema node with its local ``$ref`` chain followed (``#/definitions/<name>`` only)."""
    while isinstance(node, dict) and "$ref" in node:
        _, container, name = node["$ref"].split("/")
        node = schema()[container][name]
    return node if isinstance(node, dict) else {}


def _types(node: dict[str, Any]) -> set[str]:
    if "anyOf" in node:
        return set().union(*(_types(_resolve(branch)) for branch in node["anyOf"]
                             if branch.get("$ref") != ENV_REF))
    kind = node.get("type")
    return set() if kind is None else {kind} if isinstance(kind, str) else set(kind)


def _child(node: dict[str, Any], key: Any) -> dict[str, Any]:
    properties = node.get("properties") or {}
    if key in properties:
        return _resolve(properties[key])
    return _resolve(node.get("additionalProperties"))


def _coerce(value: Any, node: Any) -> Any:
    node = _resolve(node)
    kinds = _types(node)
    if isinstance(value, dict):
        return {k: _coerce(v, _child(node, k)) for k, v in value.items()}
    if isinstance(value, str) and "string" not in kinds:
        if "integer" in kinds and as_int(value) is not None:
            return as_int(value)
        if "number" in kinds and as_number(value) is not None:
            return as_number(value)
        if "boolean" in kinds and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
    if (isinstance(value, int) and not isinstance(value, bool)
            and {"string", "integer"} <= kinds):
        return str(value)
    return value


def _location(error: jsonschema.ValidationError) -> list[Any]:
    """The dotted key an error is about: the missing, unknown or misnamed key included."""
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [key for key in error.validator_value if key not in instance]
        return path + missing[:1]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties") or {}
        return path + [key for key in instance if key not in known][:1]
    if list(error.absolute_schema_path)[-2:-1] == ["propertyNames"]:
        return [*path, instance]
    return path


def _document_order(error: jsonschema.ValidationError) -> list[int]:
    # Section by section in the schema's order, unknown keys before known ones, so that the
    # first error is the one a reader of the file meets first.
    ranks = []
    node = schema()
    for part in _location(error):
        properties = list(_resolve(node).get("properties") or {})
        ranks.append(properties.index(part) + 1 if part in properties else 0)
        node = _child(_resolve(node), part)
    return ranks


def _explain(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(dotted key, message) for a schema error, worded by the schema's ``errorMessage`` or
    ``x-messages``.

    Never jsonschema's own message: it quotes the value, which may be a secret.
    """
    node = error.schema if isinstance(error.schema, dict) else {}
    keyword = str(error.validator)
    # errorMessage (one text, which editors show too) or x-messages (keyword -> text).
    custom = node.get("errorMessage")
    wording = (node.get("x-messages") or {}).get(keyword) or (
        custom if isinstance(custom, str) else None)
    instance = error.instance
    where = dotted(_location(error))
    if keyword == "required":
        return where, wording or "required key is missing"
    if keyword == "additionalProperties":
        allowed = list(node.get("properties") or {})
        listed = f"one of {', '.join(allowed)}" if len(allowed) > 1 else ", ".join(allowed)
        return where, f"{wording or 'unknown key'}; expected {listed}"
    if keyword in ("minProperties", "maxProperties"):
        keys = ", ".join(map(str, instance)) or "none"
        return where, f"{wording or 'wrong number of keys'}, got {len(instance)} ({keys})"
    if wording is None:
        wording = _DEFAULT_WORDING.get(keyword, "not allowed here")
        if keyword == "type":
            kinds = node.get("type")
            wording = "expected " + " or ".join(
                _KINDS.get(kind, kind) for kind in ([kinds] if isinstance(kinds, str) else kinds))
    if wording.startswith("expected "):
        wording += f", got {describe(instance, secret=bool(node.get('writeOnly')))}"
    return where, wording


_KINDS = {"object": "a mapping", "string": "a quoted string", "integer": "an integer",
          "number": "a number", "boolean": "true or false", "array": "a list"}
_DEFAULT_WORDING = {"pattern": "has the wrong form", "enum": "expected one of the listed values"}


def describe(value: Any, *, secret: bool = False) -> str:
    """How a bad value is shown in an error; secrets only by their kind."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean" if secret else str(value).lower()
    if isinstance(value, int | float):
        return "a number" if secret else str(value)
    if isinstance(value, str):
        return "a string" if secret else f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__




def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
