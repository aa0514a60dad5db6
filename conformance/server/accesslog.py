"""One log line per request: client, method, path and query, status, time taken.

Credentials never reach the line: headers are not logged, and query values that are codes
or secrets are replaced by REDACTED.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("conformance.server.access")
_SECRET_PARAM = re.compile(
    r"(^|&)((?:validation_)?code|password|token|[^&=]*secret[^&=]*)=[^&]*", re.IGNORECASE)


def redact_query(query: str) -> str:
    return _SECRET_PARAM.sub(r"\1\2=REDACTED", query)


class AccessLog:
    """ASGI middleware writing the access line once the response has been sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client")
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + ("?" + redact_query(query) if query else "")
            log.info("%s %s %s %d %.1fms", client[0] if client else "-", scope["method"], target,
                     status, (time.perf_counter() - started) * 1000)
