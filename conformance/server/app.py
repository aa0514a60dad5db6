"""The ASGI application: every documented operation under its documented path."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from conformance.server import goodwill, hooks, redemption, reversal, switches, transfer
from conformance.server.accesslog import AccessLog
from conformance.server.contract_faults import ContractFaults
from conformance.server.state import ServerState

log = logging.getLogger("conformance.server")
GOODWILL_PATHS = ("/api_gateway/v2/request-workflow/GOODWILL-POINTS",
                  "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS")  # both documented, DC-10

ROUTES = [
    Route("/v1.1/points/isredeemable", redemption.is_redeemable, methods=["GET"]),
    Route("/v1.1/points/validationcode", redemption.issue_validation_code, methods=["GET"]),
    Route("/v1.1/points/redeem", redemption.redeem, methods=["POST"]),
    Route("/v2/points/isTransferrable", transfer.is_transferrable, methods=["POST"]),
    Route("/v2/points/userGroup2/isTransferrable", transfer.is_group_transferrable,
          methods=["POST"]),
    Route("/v2/points/transfer", transfer.transfer, methods=["POST"]),
    Route("/v2/points/transfer", transfer.transfer_history, methods=["GET"]),
    Route("/v2/points/userGroup2/transfer", transfer.group_transfer, methods=["POST"]),
    Route("/v2/points/reverse", reversal.reverse, methods=["POST"]),
    *(Route(path, goodwill.request_goodwill, methods=["POST"]) for path in GOODWILL_PATHS),
    Mount(hooks.PREFIX, app=hooks.app),
]


async def _last_resort(request: Request, exc: Exception) -> Response:
    # Routes answer their own errors; reaching this is a bug. No detail goes to the client.
    request.app.state.server.internal_errors += 1
    return PlainTextResponse("Internal Server Error", 500)


def create_app(state: ServerState) -> Starlette:
    """The application over ``state``; it closes the ledger when the server shuts down."""
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.ledger.close()

    middleware = [Middleware(AccessLog)]
    if state.faults & switches.CONTRACT:
        middleware.append(Middleware(ContractFaults, faults=state.faults))
    app = Starlette(routes=ROUTES, middleware=middleware,
                    exception_handlers={Exception: _last_resort}, lifespan=lifespan)
    app.state.server = state
    return app
