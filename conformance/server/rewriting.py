"""Answers rewritten whole on their way out: what the answer-changing middlewares share.

The contract faults (contract_faults.py) and the answer-shape variants (variant_answers.py)
both let the application answer, hold the answer back until its last chunk, and send a
rewritten one instead, with its Content-Length recomputed.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]
# (status, headers without Content-Length, body) -> the same, rewritten
Rewrite = Callable[[int, Headers, bytes], tuple[int, Headers, bytes]]


async def send_rewritten(app: ASGIApp, scope: Scope, receive: Receive, send: Send,
                         rewrite: Rewrite) -> None:
    """Run ``app`` and send ``rewrite`` of its whole answer instead of the answer itself."""
    start: Message = {}
    chunks: list[bytes] = []

    async def hold_back(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        headers = [(k, value) for k, value in start["headers"] if k.lower() != b"content-length"]
        status, headers, body = rewrite(start["status"], headers, b"".join(chunks))
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        await send({**start, "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    await app(scope, receive, hold_back)
