"""Variants that change only how an answer is written: applied on its way out.

The handlers build every answer one way (numbers as JSON numbers, success as "true"/"false",
amounts as integers, 901-905 in errors[], <response> as the XML root); the documents allow
the other way too (DC-01, DC-08, DC-13, DC-15). Writing the other form once here, over the
finished answer, keeps the handlers single-minded and makes each variant one small function.
This middleware is installed only when one of variants.ANSWER_REWRITES is on.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.server import variants as v
from conformance.server.rewriting import Headers, send_rewritten
from conformance.server.testhooks import PREFIX as HOOKS_PREFIX

V11_PREFIX = "/v1.1/points/"
V2_PREFIX = "/v2/points/"
REDEEM = "/v1.1/points/redeem"
# Amounts of points in v2 answers: the spec's Points schema, a number (DC-08).
V2_POINTS = frozenset({"pointsTobeTransferred", "pointsTransferred", "pointsToBeReversed",
                       "pointsReversed"})
WARNING_CODES = range(901, 906)  # listed among the v2 warnings, describing refusals (DC-13)
_XML_DECLARATION_END = b"?>\n"


def _v11_strings(node: Any) -> Any:
    """Every number and flag of a v1.1 body as a string: the samples' form (DC-01).

    Every scalar of the v1.1 answers is typed LooseInt, LooseNumber, LooseBool or
    SuccessFlag in the lenient spec, which takes either form.
    """
    if isinstance(node, dict):
        return {key: _v11_strings(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_v11_strings(item) for item in node]
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, (int, float)):
        return str(node)
    return node


def _success_booleans(node: Any) -> Any:
    """``success`` as a JSON boolean, where it is "true"/"false" (DC-01, SuccessFlag)."""
    if isinstance(node, dict):
        return {key: (value == "true" if key == "success" and value in ("true", "false")
                      else _success_booleans(value)) for key, value in node.items()}
    if isinstance(node, list):
        return [_success_booleans(item) for item in node]
    return node


def _message_codes_as_strings(body: Any) -> Any:
    """errors[]/warnings[] codes as strings (DC-01: the Message code is a LooseInt)."""
    if isinstance(body, dict):
        for name in ("errors", "warnings"):
            for message in body.get(name) or []:
                if isinstance(message, dict) and isinstance(message.get("code"), int):
                    message["code"] = str(message["code"])
    return body


def _points_as_decimals(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (float(value) if key in V2_POINTS and isinstance(value, int)
                      and not isinstance(value, bool) else _points_as_decimals(value))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_points_as_decimals(item) for item in node]
    return node


def _refusals_as_warnings(body: Any) -> Any:
    """901-905 moved from errors[] to warnings[]; errors[] stays, empty (DC-13)."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return body
    moved = [m for m in body["errors"] if isinstance(m, dict) and m.get("code") in WARNING_CODES]
    if moved:
        body["errors"] = [m for m in body["errors"] if m not in moved]
        body["warnings"] = [*(body.get("warnings") or []), *moved]
    return body


def _goodwill_org_id_as_string(body: Any) -> Any:
    """The echoed X-CAP-API-AUTH-ORG-ID header as a string, as the sample sends it (DC-01)."""
    try:
        headers = body["data"]["details"]["IntouchAPITask-Payload"]["headers"]
    except (KeyError, TypeError):
        return body
    for name, value in headers.items():
        if name.lower() == "x-cap-api-auth-org-id" and isinstance(value, int):
            headers[name] = str(value)
    return body


def rewrite_json(path: str, body: Any, chosen: frozenset[str]) -> Any:
    if path.startswith(V11_PREFIX):
        if v.JSON_NUMBERS_AS_STRINGS in chosen:
            body = _v11_strings(body)
        if v.JSON_SUCCESS_AS_BOOLEAN in chosen:
            body = _success_booleans(body)
        return body
    if path.startswith(V2_PREFIX):
        if v.V2_POINTS_AS_DECIMALS in chosen:
            body = _points_as_decimals(body)
        if v.V2_REFUSALS_AS_WARNINGS in chosen:
            body = _refusals_as_warnings(body)
    if v.JSON_NUMBERS_AS_STRINGS in chosen:  # v2 and goodwill: the codes
        body = _goodwill_org_id_as_string(_message_codes_as_strings(body))
    return body


def rewrite_xml(path: str, status: int, body: bytes, chosen: frozenset[str]) -> bytes:
    # DC-15: the redeem sample's <root><response>; declared as an alternate root of the
    # redeem answer (RedeemBody) only, so refusals of unreadable input (400) keep <response>.
    if v.XML_ROOT_WRAPPER in chosen and path == REDEEM and status == 200:
        head, sep, rest = body.partition(_XML_DECLARATION_END)
        if sep and rest.startswith(b"<response>"):
            return head + sep + b"<root>" + rest + b"</root>"
    return body


class VariantAnswers:
    """ASGI middleware writing every API answer in the form the chosen variants say."""

    def __init__(self, app: ASGIApp, variants: frozenset[str]) -> None:
        self.app = app
        self.variants = variants & v.ANSWER_REWRITES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(HOOKS_PREFIX):
            await self.app(scope, receive, send)
            return
        def rewrite(status: int, headers: Headers, body: bytes) -> tuple[int, Headers, bytes]:
            media = dict(headers).get(b"content-type", b"").partition(b";")[0].strip()
            if media == b"application/json":
                try:
                    data = json.loads(body)
                except ValueError:
                    pass
                else:
                    data = rewrite_json(scope["path"], data, self.variants)
                    body = json.dumps(data, separators=(",", ":")).encode("ascii")
            elif media.endswith(b"xml"):
                body = rewrite_xml(scope["path"], status, body, self.variants)
            return status, headers, body

        await send_rewritten(self.app, scope, receive, send, rewrite)
