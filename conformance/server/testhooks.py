"""Test hooks under /_test/: loopback clients only, no credentials.

Real targets have no such hooks; they let the suite read a customer's code and balance and
move the server's clock, so that OTP and conservation rules can be checked end to end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.server.ledger import Customer
from conformance.server.otp import PURPOSES, active
from conformance.server.params import Invalid, as_id, parse_json
from conformance.server.redemption import IDENTIFIERS, identify
from conformance.server.replies import json_response
from conformance.server.state import ServerState

Hook = Callable[[Request, ServerState], Awaitable[Response]]


def is_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class LoopbackOnly:
    """ASGI wrapper: a client not on loopback gets the 404 of a path that does not exist."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_loopback(Request(scope)):
            await PlainTextResponse("Not Found", 404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _hook(handler: Hook) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, request.app.state.server)
        except Invalid as exc:
            return json_response({"error": exc.message}, 400)
    endpoint.__name__ = handler.__name__
    return endpoint


def _not_found(what: str) -> Response:
    return json_response({"error": what}, 404)


def _customer(request: Request, state: ServerState) -> Customer | None:
    for kind in IDENTIFIERS:
        value = request.query_params.get(kind)
        if value is not None:
            return identify(state.ledger, kind, value).customer
    raise Invalid(f"name the customer with one of {', '.join(IDENTIFIERS)}")


async def current_otp(request: Request, state: ServerState) -> Response:
    purpose = request.query_params.get("purpose", "redeem")
    if purpose not in PURPOSES:
        raise Invalid(f"purpose must be one of {', '.join(PURPOSES)}")
    customer = _customer(request, state)
    if customer is None:
        return _not_found("no such customer")
    # The code as the server itself sees it: under otp.no-expiry an old code is still "sent".
    code = active(state.ledger, state.clock, customer.user_id, purpose, state.faults)
    if code is None:
        return _not_found(f"no active {purpose} code")
    return json_response({"code": code.code})


async def balance(request: Request, state: ServerState) -> Response:
    group_id = request.query_params.get("group_id")
    if group_id is not None:
        key = as_id(group_id)
        group = None if key is None else state.ledger.find_group("id", key)
        account = None if group is None else group.account
    else:
        customer = _customer(request, state)
        account = None if customer is None else customer.account
    if account is None:
        return _not_found("no such customer or group")
    return json_response({"balance": state.ledger.balance(account)})


async def advance_clock(request: Request, state: ServerState) -> Response:
    body = parse_json(await request.body())
    seconds = body.get("advance_s") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            0 <= seconds <= 10 * 365 * 86400):
        raise Invalid("advance_s must be a number of seconds, 0 or more")
    state.clock.advance(seconds)
    return json_response({"now": state.clock.iso(), "offset_s": state.clock.offset_s})


async def approve_goodwill(request: Request, state: ServerState) -> Response:
    ledger = state.ledger
    with ledger.transaction():
        pending = ledger.goodwill(request.path_params["request_id"])
        if pending is None:
            return _not_found("no such goodwill request")
        if pending.state != "AdminTask":
            return json_response({"error": f"the request is already {pending.state}"}, 409)
        ledger.approve_goodwill(pending, state.clock.iso())
        credited_balance = ledger.balance(pending.account)
    return json_response({"requestId": pending.id, "state": "Approved",
                          "pointsCredited": pending.points, "balance": credited_balance})


PREFIX = "/_test"
app = LoopbackOnly(Router([
    Route("/otp", _hook(current_otp), methods=["GET"]),
    Route("/balance", _hook(balance), methods=["GET"]),
    Route("/clock", _hook(advance_clock), methods=["POST"]),
    Route("/goodwill/{request_id}/approve", _hook(approve_goodwill), methods=["POST"]),
]))
