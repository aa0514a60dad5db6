"""How a route runs: credentials first, then the handler; Invalid input becomes a 400.

Handlers are coroutines that never await once they touch the ledger, so each request's
database work runs to its end on the event-loop thread before another request's begins
(only the redeem.race fault switch breaks this, on purpose).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from conformance.server import replies, switches
from conformance.server.auth import CHALLENGE
from conformance.server.params import Invalid, parse_json
from conformance.server.state import ServerState

log = logging.getLogger("conformance.server")

Handler = Callable[[Request, ServerState], Awaitable[Response]]
V11Handler = Callable[[Request, ServerState, str], Awaitable[Response]]
MAX_BODY = 64 * 1024


def _internal_error(state: ServerState, request: Request) -> None:
    # The traceback goes to the server's log only; the client gets a bare 500.
    state.internal_errors += 1
    log.exception("internal error on %s %s", request.method, request.url.path)


def _leaky(state: ServerState, exc: Invalid) -> bool:
    """errors.stack-trace: put the traceback in the message (the code stays); True if so."""
    if switches.ERRORS_STACK_TRACE not in state.faults:
        return False
    exc.message = f"{exc.message}\n{traceback.format_exc()}"
    return True


def _as_500(response: Response) -> Response:
    response.status_code = 500
    return response


def v11(refused: Callable[[Invalid, Request], dict]) -> Callable[[V11Handler], Handler]:
    """A v1.1 operation; ``refused`` builds its 400 body for Invalid input."""
    def wrap(handler: V11Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            state: ServerState = request.app.state.server
            fmt = request.query_params.get("format", "json")
            known_format = fmt in ("json", "xml")
            if not known_format:
                fmt = "json"
            if not state.auth.basic_ok(request.headers.get("authorization")):
                return replies.v11_unauthorized(fmt)
            try:
                if not known_format:
                    raise Invalid("query parameter format must be json or xml")
                return await handler(request, state, fmt)
            except Invalid as exc:
                if _leaky(state, exc):
                    body = refused(exc, request)
                    body["response"]["status"]["code"] = 500  # it mirrors the HTTP status
                    return replies.v11(body, fmt, 500)
                return replies.v11(refused(exc, request), fmt, 400)
            except Exception:
                _internal_error(state, request)
                return replies.v11_internal_error(fmt)
        endpoint.__name__ = handler.__name__
        return endpoint
    return wrap


def _v2_invalid(exc: Invalid) -> Response:
    return replies.v2_refusal(exc.code, exc.message, http=400)


def v2(refused: Callable[[Invalid], Response] = _v2_invalid) -> Callable[[Handler], Handler]:
    """A v2 operation; ``refused`` builds its 400 response for Invalid input."""
    def wrap(inner: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            state: ServerState = request.app.state.server
            if not state.auth.basic_ok(request.headers.get("authorization")):
                return replies.v2_unauthorized()
            try:
                return await inner(request, state)
            except Invalid as exc:
                if _leaky(state, exc):
                    return _as_500(refused(exc))
                return refused(exc)
            except Exception:
                _internal_error(state, request)
                return replies.v2_internal_error()
        endpoint.__name__ = inner.__name__
        return endpoint
    return wrap


def workflow(handler: Handler) -> Handler:
    """A request-workflow operation: Basic credentials plus the org-id and UI-token headers."""
    async def endpoint(request: Request) -> Response:
        state: ServerState = request.app.state.server
        if switches.GOODWILL_NO_TOKEN_CHECK in state.faults:
            # The bug: only the Basic credentials are checked, not the org id or UI token.
            allowed = state.auth.basic_ok(request.headers.get("authorization"))
        else:
            allowed = state.auth.workflow_ok(request.headers)
        if not allowed:
            return replies.json_response(
                {"errors": [replies.message(401, "Unauthorized: missing or wrong credentials,"
                                                 " org id or UI token")],
                 "message": "Unauthorized"}, 401, CHALLENGE)
        try:
            return await handler(request, state)
        except Invalid as exc:
            status = 500 if _leaky(state, exc) else 400
            return replies.json_response(
                {"errors": [replies.message(exc.code, exc.message)], "message": exc.message},
                status)
        except Exception:
            _internal_error(state, request)
            return replies.json_response({"errors": [replies.message(500, "Internal error")]}, 500)
    endpoint.__name__ = handler.__name__
    return endpoint


async def read_body(request: Request) -> bytes:
    """The request body, refused (400) past MAX_BODY: no operation needs more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Invalid("the body is too large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Invalid("the body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def read_json(request: Request) -> object:
    """A JSON body; a body declared as another media type is refused."""
    kind = media_type(request)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise Invalid(f"the body must be application/json, not {kind}")
    return parse_json(await read_body(request))
