"""The contract-level fault switches: answers changed on their way out, for the fuzz checks.

Every other switch breaks a business rule inside a handler; these break the contract itself
(a field renamed, XML broken, a status nobody documented …), so they live in one ASGI
middleware that rewrites the finished answer. It is only installed when one of them is on,
so the clean server never pays for it. contract.no-auth is the exception: it is a switch of
the Authenticator (auth.py), since it changes what a request is allowed to do.
"""

from __future__ import annotations

import json
import re
from collections import deque
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.server import switches
from conformance.server.rewriting import Headers, send_rewritten
from conformance.server.testhooks import PREFIX as HOOKS_PREFIX

V2_PREFIX = "/v2/points/"
ISREDEEMABLE = "/v1.1/points/isredeemable"
VALIDATIONCODE = "/v1.1/points/validationcode"
_LAST_END_TAG = re.compile(rb"</[^<>]+>\s*$")


class ContractFaults:
    """ASGI middleware applying the contract.* switches of ``faults`` to every API answer."""

    def __init__(self, app: ASGIApp, faults: frozenset[str]) -> None:
        self.app = app
        self.faults = faults & switches.CONTRACT
        # contract.link-breaks: the points isredeemable was recently asked about.
        self._checked: deque[str] = deque(maxlen=512)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(HOOKS_PREFIX):
            await self.app(scope, receive, send)
            return
        link_broken = self._follows_check(scope)

        def rewrite(status: int, headers: Headers, body: bytes) -> tuple[int, Headers, bytes]:
            named = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
            status, body = self._rewrite(scope, status, named, body, link_broken)
            return status, [(k.encode("latin-1"), v.encode("latin-1"))
                             for k, v in named.items()], body

        await send_rewritten(self.app, scope, receive, send, rewrite)

    def _follows_check(self, scope: Scope) -> bool:
        """contract.link-breaks: whether this asks a code for points isredeemable just checked.

        The spec's link hands isredeemable's points (and mobile, when it had one) to
        validationcode; keying on the points alone makes every followed link break.
        """
        if switches.CONTRACT_LINK_BREAKS not in self.faults or scope["method"] != "GET":
            return False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        points = query.get("points", [""])[0]
        if not points:
            return False
        if scope["path"] == ISREDEEMABLE:
            self._checked.append(points)
        return scope["path"] == VALIDATIONCODE and points in self._checked

    def _rewrite(self, scope: Scope, status: int, headers: dict[str, str], body: bytes,
                 link_broken: bool) -> tuple[int, bytes]:
        faults, path = self.faults, scope["path"]
        media = headers.get("content-type", "").partition(";")[0].strip()
        if link_broken:
            # The second step of the link answers a body that is no v1.1 envelope at all.
            if media.endswith("xml"):
                return 200, b"<response><status>linked</status></response>"
            return 200, b'{"response":{"status":"linked"}}'
        if switches.CONTRACT_ECHOES_AUTH in faults:
            for name, value in scope["headers"]:
                if name == b"authorization":
                    headers["x-echo-authorization"] = value.decode("latin-1")
        if media.endswith("xml"):
            if switches.CONTRACT_XML_DISAGREES in faults:
                body = body.replace(b"<message>", b"<message>XML: ")
            if switches.CONTRACT_BROKEN_XML in faults:
                body = _LAST_END_TAG.sub(b"", body)
        if path.startswith(V2_PREFIX) and media == "application/json":
            if switches.CONTRACT_ACCEPTS_INVALID in faults and status == 400:
                status, body = 200, b'{"data":[],"warnings":[],"errors":[]}'
            if switches.CONTRACT_RENAMED_FIELD in faults:
                data = json.loads(body)
                if isinstance(data, dict) and "errors" in data:
                    data["error"] = data.pop("errors")
                    body = json.dumps(data, separators=(",", ":")).encode()
        if switches.CONTRACT_UNDOCUMENTED_STATUS in faults and status == 400:
            status = 422
        return status, body
