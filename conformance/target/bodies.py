"""Read business outcomes from bodies, whatever form the target chose (DC-01, DC-04, DC-13).

Outcomes are judged by the codes in the body, never by the HTTP status alone (DC-11).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def as_int(value: Any) -> int | None:
    """An integer from a JSON number or a string of digits (DC-01); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(float(text)) if text and float(text).is_integer() else None
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def redeemable_block(body: Any) -> dict | None:
    """The isredeemable answer under either documented nesting (DC-04)."""
    for path in (("response", "points", "redeemable"),
                 ("response", "responses", "points", "response", "points", "redeemable")):
        block = _dig(body, *path)
        if isinstance(block, dict):
            return block
    return None


def redeemed_block(body: Any) -> dict | None:
    block = _dig(body, "response", "responses", "points")
    return block if isinstance(block, dict) else None


def validation_block(body: Any) -> dict | None:
    block = _dig(body, "response", "validation_code", "code")
    return block if isinstance(block, dict) else None


def item_code(body: Any) -> int | None:
    """The item_status code of a v1.1 answer, or None."""
    for block in (redeemable_block(body), redeemed_block(body), validation_block(body)):
        if block is not None:
            code = as_int(_dig(block, "item_status", "code"))
            if code is not None:
                return code
    return None


def status_code(body: Any) -> int | None:
    """The response.status.code of a v1.1 answer, or None."""
    return as_int(_dig(body, "response", "status", "code"))


def v11_code(body: Any) -> int | None:
    """The item_status code of a v1.1 answer, else its status code."""
    code = item_code(body)
    return code if code is not None else status_code(body)


def v2_codes(body: Any) -> list[int]:
    """Every code in errors[] and warnings[] of a v2 answer (901-905 may be in either, DC-13)."""
    codes = []
    if isinstance(body, dict):
        for key in ("errors", "warnings"):
            for entry in body.get(key) or []:
                code = as_int(entry.get("code")) if isinstance(entry, dict) else None
                if code is not None:
                    codes.append(code)
    return codes


def v2_refused(body: Any) -> bool:
    return bool(isinstance(body, dict) and (body.get("errors") or []))


def xml_to_data(element: ET.Element) -> object:
    """The JSON shape of a v1.1 XML element: wrapper arrays of <element>, text leaves."""
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "element" for child in children):
        return [xml_to_data(child) for child in children]
    return {child.tag: xml_to_data(child) for child in children}


def parse_xml(content: bytes) -> dict | None:
    """A v1.1 XML answer in its JSON shape (``{"response": …}``), or None when not XML."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    return {root.tag: xml_to_data(root)}
