"""Test hooks under /_test/: what they answer, and that only loopback clients reach them."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from conformance.server import RunningServer
from conformance.server.testhooks import is_loopback

from .support import CUSTOMERS, GROUP_ID, MOBILE, Api

SPENDER = MOBILE["spender"]


def asgi_call(app: object, method: str, path: str, client: tuple[str, int] | None,
              query: bytes = b"", body: bytes = b"") -> tuple[int, bytes]:
    """Call the ASGI app directly, as a client at ``client`` would reach it."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query, "root_path": "", "client": client,
             "server": ("127.0.0.1", 80), "headers": [(b"host", b"reference")]}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize(("method", "path", "query"), [
    ("GET", "/_test/otp", b"mobile=447700900001&purpose=redeem"),
    ("GET", "/_test/balance", b"mobile=447700900001"),
    ("POST", "/_test/clock", b""),
    ("POST", "/_test/goodwill/abc/approve", b""),
    ("GET", "/_test/clock", b""),
])
@pytest.mark.parametrize("client", [("203.0.113.7", 40000), ("10.0.0.2", 1), ("::2", 5), None])
def test_hooks_are_not_found_from_other_addresses(server: RunningServer, method: str, path: str,
                                                  query: bytes, client: object) -> None:
    status, body = asgi_call(server.app, method, path, client, query, b'{"advance_s": 5}')
    assert (status, body) == (404, b"Not Found")
    assert server.state.clock.offset_s == 0


def test_same_hook_answers_loopback(server: RunningServer) -> None:
    status, body = asgi_call(server.app, "GET", "/_test/balance", ("127.0.0.9", 1),
                             b"mobile=447700900001")
    assert (status, body) == (200, b'{"balance":20000}')


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.0.1", True),
                                                ("::1", True), ("::ffff:127.0.0.1", True),
                                                ("192.0.2.1", False), ("::ffff:192.0.2.1", False),
                                                ("testclient", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(Request({"type": "http", "client": (host, 1)})) is loopback


def test_otp_hook(api: Api) -> None:
    assert api.otp(mobile=SPENDER) is None
    api.validationcode(mobile=SPENDER, points=100)
    code = api.otp(mobile=SPENDER)
    for identifier in ("email", "external_id", "card_number", "user_id"):
        assert api.otp(**{identifier: str(CUSTOMERS["spender"][identifier])}) == code
    assert api.otp(purpose="transfer", mobile=SPENDER) is None


def test_otp_hook_refusals(api: Api) -> None:
    base = api.base_url + "/_test/otp"
    assert api.session.get(base, params={"mobile": "447700999999"}).status_code == 404
    assert api.session.get(base, params={"mobile": SPENDER, "purpose": "x"}).status_code == 400
    assert api.session.get(base).status_code == 400


def test_balance_hook(api: Api) -> None:
    assert api.balance(mobile=SPENDER) == CUSTOMERS["spender"]["balance"]
    assert api.balance(group_id=GROUP_ID) == 5000
    for params in ({"mobile": "447700999999"}, {"group_id": "77"}, {"group_id": "x"}):
        assert api.session.get(api.base_url + "/_test/balance", params=params).status_code == 404


def test_clock_hook_moves_the_clock_forward_only(api: Api, server: RunningServer) -> None:
    api.advance_clock(30)
    assert server.state.clock.offset_s == 30
    for body in ({"advance_s": -1}, {"advance_s": "5"}, {"advance_s": True}, {}, [], "x"):
        response = api.session.post(api.base_url + "/_test/clock", json=body)
        assert response.status_code == 400
    response = api.session.post(api.base_url + "/_test/clock", data=b"{")
    assert response.status_code == 400
    assert server.state.clock.offset_s == 30
