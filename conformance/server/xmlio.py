"""The v1.1 XML format: responses rendered from the JSON shape, and the XML redeem request.

Arrays are a wrapper element holding one <element> per item, as in the vendor samples
(<side_effects><effect><element>...). The root of every response is <response> (DC-15,
strict form).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from conformance.server.params import Invalid

MEDIA_TYPES = ("application/xml", "text/xml")
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return escape(_NOT_XML.sub("", str(value)))


def _write(parts: list[str], name: str, value: Any) -> None:
    if isinstance(value, dict):
        parts.append(f"<{name}>")
        for key, item in value.items():
            _write(parts, key, item)
        parts.append(f"</{name}>")
    elif isinstance(value, list):
        parts.append(f"<{name}>")
        for item in value:
            _write(parts, "element", item)
        parts.append(f"</{name}>")
    else:
        text = _scalar(value)
        parts.append(f"<{name}>{text}</{name}>" if text else f"<{name}/>")


def render(body: dict) -> bytes:
    """The XML form of a v1.1 JSON body ``{"response": {...}}``."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    for key, value in body.items():
        _write(parts, key, value)
    return "".join(parts).encode("utf-8")


def _value(element: ET.Element, depth: int = 0) -> Any:
    if depth > 16:
        raise Invalid("the XML body is nested too deeply")
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "element" for child in children):
        return [_value(child, depth + 1) for child in children]
    return {child.tag: _value(child, depth + 1) for child in children}


def parse_redeem(body: bytes, nested_root: bool = True) -> dict:
    """The XML redeem request as its JSON shape ``{"root": {"redeem": [items]}}``.

    Accepts <root><redeem><element>... and the sample's <root><root><redeem><element>
    (DC-06); ``nested_root`` False (the redeem.xml-single-root variant) only the first.
    """
    # Parse text, not bytes: expat then ignores the declared encoding, so the DTD check below
    # cannot be dodged by a document in UTF-16 or EBCDIC.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the XML body must be UTF-8") from None
    # No DTDs at all: nothing documented needs one, and entities are an expansion attack.
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise Invalid("the XML body must not carry a DTD")
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise Invalid("the body is not well-formed XML") from None
    if root.tag != "root":
        raise Invalid("the XML body's root element must be <root>")
    inner = root.find("root") if nested_root else None
    if inner is not None and root.find("redeem") is None:
        root = inner
    redeem = root.find("redeem")
    if redeem is None:
        raise Invalid("root.redeem is required")
    items = [_value(child) for child in redeem if child.tag == "element"]
    return {"root": {"redeem": items}}
