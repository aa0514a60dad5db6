"""The gateway.validates-schema variant: a request-validating gateway in front of the service.

Many deployments put an API gateway before the service that checks each request against the
operation's schema and answers 422 itself, with a body of its own and no business code; a
correct service behind it never sees those requests. That is a legitimate deployment, so the
suite must not mistake it for a broken target.

What this gateway checks, from the request's shape alone and by the STRICT spec (the tables
below are hand-written like the rest of the server; tests/server/test_variants.py holds them
equal to specs/ so they cannot drift):

- query parameters: the required ones present; integers, booleans (``true``/``false``) and
  enumerations well-formed; minimum values;
- a JSON body (JSON media type, or none declared): it parses (no NaN), it is an object, its
  required top-level members are there, and top-level members have the declared JSON type.

It does not look deeper into a body, nor at XML bodies (redeem's XML goes to the service as
is), nor at bodies over endpoints.MAX_BODY or of another media type (the service refuses
those itself). Like the API gateways whose authorizer runs before request validation, it
authenticates first: a request without valid credentials goes on to the service's 401.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.server.auth import Authenticator
from conformance.server.endpoints import MAX_BODY

GOODWILL = ("/api_gateway/v2/request-workflow/GOODWILL-POINTS",
            "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS")
_INT = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Param:
    """A query parameter: ``kind`` is integer, boolean, or a tuple of allowed values."""

    kind: str | tuple[str, ...]
    required: bool = False
    minimum: int | None = None


@dataclass(frozen=True)
class Body:
    """A JSON object body: required members and the JSON type of top-level members.

    Kinds: integer, number, string, boolean, object, array, and flag (a boolean or the
    strings "true"/"false", which the strict spec still allows for groupProgramTransfer).
    """

    required: tuple[str, ...]
    members: Mapping[str, str]


INTEGER, BOOLEAN = Param("integer"), Param("boolean")
FORMAT = Param(("json", "xml"))
VALIDATION_TYPE = Param(("MISSED_CALL", "SMS", "INVALID"))
_GROUP_QUERY = {"user_group2_primary_user_id": INTEGER, "user_group2_id": INTEGER}
_CUSTOMER_TRANSFER = {"pointsTobeTransferred": "integer", "groupProgramTransfer": "flag",
                      "notes": "string", "programId": "integer",
                      "fromCustomerIdentifier": "object", "toCustomerIdentifier": "object"}
_GROUP_TRANSFER = Body(("transferredBy", "toEntity", "fromEntity"),
                       {"pointsTobeTransferred": "integer", "notes": "string",
                        "programId": "integer", "transferredBy": "object", "toEntity": "object",
                        "fromEntity": "object"})
_GOODWILL = Body(("entityInfo", "payload"), {"entityInfo": "object", "payload": "object"})

# Parameters whose value can be wrong: string parameters that are optional are left out.
QUERY: dict[tuple[str, str], dict[str, Param]] = {
    ("GET", "/v1.1/points/isredeemable"): {
        "program_id": INTEGER, "group_redemption": BOOLEAN, "points": Param("integer", True),
        "issue_otp": BOOLEAN, "skip_validation": BOOLEAN, "validation_type": VALIDATION_TYPE,
        **_GROUP_QUERY, "use_default_user_group2": BOOLEAN, "currency_input": BOOLEAN,
        "format": FORMAT},
    ("GET", "/v1.1/points/validationcode"): {
        "points": Param("integer", True, minimum=1), "format": FORMAT},
    ("POST", "/v1.1/points/redeem"): {
        "validation_type": VALIDATION_TYPE, "program_id": INTEGER, **_GROUP_QUERY,
        "format": FORMAT},
    ("GET", "/v2/points/transfer"): {
        "identifierName": Param(("mobile", "email", "externalId", "cardnumber", "wechat",
                                 "martjackId", "fbId", "id"), True),
        "identifierValue": Param("string", True),
        "source": Param(("FACEBOOK", "WEB_ENGAGE", "WECHAT", "INSTORE", "MARTJACK", "TMALL",
                         "TAOBAO", "JD", "ECOMMERCE", "WEBSITE", "LINE", "MOBILE_APP")),
        "programId": INTEGER,
        "userEntityType": Param(("CUSTOMER", "USERGROUP2"))},
}

BODY: dict[tuple[str, str], Body] = {
    ("POST", "/v1.1/points/redeem"): Body(("root",), {"root": "object"}),
    ("POST", "/v2/points/isTransferrable"): Body(
        ("pointsTobeTransferred", "fromCustomerIdentifier", "toCustomerIdentifier"),
        {**_CUSTOMER_TRANSFER, "issueOtp": "boolean"}),
    ("POST", "/v2/points/userGroup2/isTransferrable"): _GROUP_TRANSFER,
    ("POST", "/v2/points/transfer"): Body(
        ("pointsTobeTransferred", "fromCustomerIdentifier", "toCustomerIdentifier", "code"),
        {**_CUSTOMER_TRANSFER, "code": "string"}),
    ("POST", "/v2/points/userGroup2/transfer"): _GROUP_TRANSFER,
    ("POST", "/v2/points/reverse"): Body(
        ("redemptionId",), {"redemptionId": "integer", "pointsToBeReversed": "integer",
                            "identifier": "object"}),
    **{("POST", path): _GOODWILL for path in GOODWILL},
}


class Refused(Exception):
    """What the gateway says about a request the strict schema refuses."""


def check_query(rules: Mapping[str, Param], query: str) -> None:
    pairs = parse_qsl(query, keep_blank_values=True)
    given = {name for name, _ in pairs}
    for name, rule in rules.items():
        if rule.required and name not in given:
            raise Refused(f"query parameter {name} is required")
    for name, value in pairs:
        rule = rules.get(name)
        if rule is None:
            continue
        if isinstance(rule.kind, tuple):
            if value not in rule.kind:
                raise Refused(f"query parameter {name} must be one of {', '.join(rule.kind)}")
        elif rule.kind == "integer":
            if not _INT.fullmatch(value):
                raise Refused(f"query parameter {name} must be an integer")
            if rule.minimum is not None and int(value) < rule.minimum:
                raise Refused(f"query parameter {name} must be at least {rule.minimum}")
        elif rule.kind == "boolean" and value not in ("true", "false"):
            raise Refused(f"query parameter {name} must be true or false")


def _is(kind: str, value: object) -> bool:
    if kind == "integer":
        # JSON Schema's integer: a number with no fractional part (10.0 is one).
        return not isinstance(value, bool) and (
            isinstance(value, int) or isinstance(value, float) and value.is_integer())
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, (int, float))
    if kind == "flag":
        return isinstance(value, bool) or value in ("true", "false")
    return isinstance(value, {"string": str, "boolean": bool, "object": dict,
                              "array": list}[kind])


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def check_body(rule: Body, content: bytes) -> None:
    try:
        document = json.loads(content, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise Refused("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Refused("the body must be a JSON object")
    for name in rule.required:
        if name not in document:
            raise Refused(f"{name} is required")
    for name, kind in rule.members.items():
        # null is not a value of any of these types
        if name in document and not _is(kind, document[name]):
            raise Refused(f"{name} must be of type {kind}")


def _json_media(headers: Headers) -> bool:
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


class SchemaGateway:
    """ASGI middleware: 422 before the service for requests the strict schema refuses."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = (scope.get("method", ""), scope.get("path", ""))
        if scope["type"] != "http" or (key not in QUERY and key not in BODY):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authenticated = (self.auth.workflow_ok(headers) if key[1] in GOODWILL
                         else self.auth.basic_ok(headers.get("authorization")))
        if not authenticated:
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        try:
            if key in QUERY:
                check_query(QUERY[key], scope.get("query_string", b"").decode("latin-1"))
            if key in BODY and _json_media(headers):
                content, buffered = await _read(receive)
                if content is not None:
                    check_body(BODY[key], content)
        except Refused as exc:
            response = JSONResponse({"message": f"Request validation failed: {exc}"}, 422)
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            # The service reads the body the gateway read, then whatever follows.
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


async def _read(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """The whole body and the messages it came in; None for the body past MAX_BODY."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages  # the client went away: the service will see it too
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return None, messages
        if not message.get("more_body"):
            return b"".join(m.get("body", b"") for m in messages), messages
