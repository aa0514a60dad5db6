"""Reading request input: query parameters, JSON bodies and customer identifiers.

Whatever the strict spec refuses raises ``Invalid``, which the routes answer with HTTP 400
and the most specific documented code. The lenient forms the vendor documents use (numbers
and flags sent as strings, DC-01) are accepted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_INT = re.compile(r"-?[0-9]{1,40}")
_ID = re.compile(r"[0-9]{1,40}")
_MOBILE = re.compile(r"\+?[0-9]{6,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_TEXT = 256


class Invalid(Exception):
    """Input the spec does not allow; ``code`` goes in the 400 body."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- scalars --------------------------------------------------------------------------------

def loose_int(value: Any, name: str, code: int = 400) -> int:
    """An integer, or digits in a string (DC-01); never a boolean or a fraction."""
    if isinstance(value, bool):
        raise Invalid(f"{name} must be an integer", code)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    raise Invalid(f"{name} must be an integer", code)


def whole_number(value: Any, name: str, code: int = 400) -> int:
    """A JSON number with no fractional part (10 or 10.0); the ledger counts whole points."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{name} must be a number", code)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise Invalid(f"{name} must be a whole number of points", code)
        return int(value)
    return value


def loose_bool(value: Any, name: str) -> bool:
    """A boolean, or "true"/"false" in a string (DC-01)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Invalid(f"{name} must be true or false")


def text(value: Any, name: str, code: int = 400) -> str:
    """A string field's value; absent is the empty string."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string", code)
    return value


# --- query parameters -----------------------------------------------------------------------

def query_int(query: Mapping[str, str], name: str, code: int = 400,
              required: bool = False) -> int | None:
    value = query.get(name)
    if value is None:
        if required:
            raise Invalid(f"query parameter {name} is required", code)
        return None
    return loose_int(value, f"query parameter {name}", code)


def query_bool(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    return None if value is None else loose_bool(value, f"query parameter {name}")


def query_enum(query: Mapping[str, str], name: str, allowed: tuple[str, ...],
               required: bool = False) -> str | None:
    value = query.get(name)
    if value is None:
        if required:
            raise Invalid(f"query parameter {name} is required")
        return None
    if value not in allowed:
        raise Invalid(f"query parameter {name} must be one of {', '.join(allowed)}")
    return value


# --- JSON bodies ----------------------------------------------------------------------------

def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; anything unreadable (or NaN, or a lone surrogate) is Invalid."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise Invalid("the body is not valid JSON") from None
    _check_text(value, 0)
    return value


def _check_text(value: Any, depth: int) -> None:
    # SQLite and the XML writer need encodable text; JSON lets "\ud800" through.
    if depth > 64:
        raise Invalid("the body is nested too deeply")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("the body holds text that is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, depth + 1)
            _check_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, depth + 1)


def obj(node: Any, name: str, required: bool = True) -> dict | None:
    """``node[name]`` as an object."""
    if not isinstance(node, dict):
        raise Invalid(f"{name.rpartition('.')[0] or 'the body'} must be an object")
    value = node.get(name.rpartition(".")[2])
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return None
    if not isinstance(value, dict):
        raise Invalid(f"{name} must be an object")
    return value


def field_str(node: dict, name: str, required: bool = False, min_length: int = 0,
              enum: tuple[str, ...] | None = None) -> str | None:
    key = name.rpartition(".")[2]
    value = node.get(key)
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    if len(value) < min_length:
        raise Invalid(f"{name} must not be empty")
    if enum is not None and value not in enum:
        raise Invalid(f"{name} must be one of {', '.join(enum)}")
    return value


def field_int(node: dict, name: str, required: bool = False) -> int | None:
    value = node.get(name.rpartition(".")[2])
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer")
    return value


def field_bool(node: dict, name: str, loose: bool = False) -> bool | None:
    value = node.get(name.rpartition(".")[2])
    if value is None:
        return None
    if loose:
        return loose_bool(value, name)
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false")
    return value


# --- customer identifiers -------------------------------------------------------------------

def identifier_is_wellformed(kind: str, value: str) -> bool:
    """Whether a v1.1 identifier value could name a customer (802 when not)."""
    if not value or len(value) > MAX_TEXT or not value.isprintable():
        return False
    if kind == "mobile":
        return _MOBILE.fullmatch(value) is not None
    if kind == "email":
        return _EMAIL.fullmatch(value) is not None
    if kind == "user_id":
        return as_id(value) is not None
    return True


def as_id(value: str) -> int | None:
    """A numeric id written in ASCII digits, or None."""
    return int(value) if _ID.fullmatch(value) else None


def lookup_value(kind: str, value: str) -> str | int | None:
    """The form the ledger stores an identifier in (mobile without +, user id as a number)."""
    if kind == "mobile":
        return value.removeprefix("+")
    if kind == "user_id":
        return as_id(value)
    return value
