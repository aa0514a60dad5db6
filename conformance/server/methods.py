"""The methods each API path serves, and the answer to any other method on it.

Starlette answers a method no route of a path serves with 405 and the ``Allow`` of the first
route on that path only: /v2/points/transfer (POST the transfer, GET the history) said
``Allow: POST``. RFC 9110 §10.2.1 wants ``Allow`` to list every method the resource
supports, so the check is made here, per path, before routing: 405 with every served method
(GET paths serve HEAD too, as RFC 9110 §9.1 asks of a general-purpose server), or 501 Not
Implemented under the http.501-unknown-method variant (RFC 9110 §15.6.2: a server may say it
does not implement the method at all; no ``Allow`` then, as it claims nothing about the
resource). Paths no route names are left to the router (404); the test hooks keep
Starlette's own answer, each of their paths having a single route.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send


def served_methods(routes: Iterable[BaseRoute]) -> dict[str, frozenset[str]]:
    """Every method served on each path of ``routes`` (HEAD wherever GET is)."""
    served: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Route) and route.methods:
            served.setdefault(route.path, set()).update(route.methods)
    return {path: frozenset(methods) for path, methods in served.items()}


def allow_header(methods: Iterable[str]) -> str:
    return ", ".join(sorted(methods))


class MethodCheck:
    """ASGI middleware answering a method a known path does not serve: 405 (or 501)."""

    def __init__(self, app: ASGIApp, served: Mapping[str, frozenset[str]],
                 not_implemented: bool = False) -> None:
        self.app = app
        self.served = dict(served)
        self.not_implemented = not_implemented

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            methods = self.served.get(scope["path"])
            if methods is not None and scope["method"] not in methods:
                if self.not_implemented:
                    response = PlainTextResponse("Not Implemented", 501)
                else:
                    response = PlainTextResponse("Method Not Allowed", 405,
                                                 {"Allow": allow_header(methods)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
