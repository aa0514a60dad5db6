"""The ASGI application: every documented operation under its documented path."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from conformance.server import (
    goodwill,
    redemption,
    reversal,
    switches,
    testhooks,
    transfer,
    variants,
)
from conformance.server.accesslog import AccessLog
from conformance.server.contract_faults import ContractFaults
from conformance.server.gateway import SchemaGateway
from conformance.server.methods import MethodCheck, served_methods
from conformance.server.state import ServerState
from conformance.server.variant_answers import VariantAnswers

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
    Mount(testhooks.PREFIX, app=testhooks.app),
]


def routes(chosen: frozenset[str]) -> list[BaseRoute]:
    """The routes a server with the ``chosen`` variants serves."""
    if variants.GOODWILL_ONE_PATH in chosen:
        # DC-10: the strict spec keeps the URI row's path; the title line's answers 404.
        return [r for r in ROUTES if getattr(r, "path", None) != GOODWILL_PATHS[1]]
    return list(ROUTES)


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

    served = routes(state.variants)
    middleware = [Middleware(AccessLog)]
    if state.faults & switches.CONTRACT:
        middleware.append(Middleware(ContractFaults, faults=state.faults))
    # Always on: Allow must list every method of the path (methods.py); 501 is a variant.
    middleware.append(Middleware(
        MethodCheck, served=served_methods(served),
        not_implemented=variants.HTTP_501_UNKNOWN_METHOD in state.variants))
    if variants.GATEWAY_VALIDATES_SCHEMA in state.variants:
        middleware.append(Middleware(SchemaGateway, auth=state.auth))
    if state.variants & variants.ANSWER_REWRITES:
        # Innermost: it rewrites what the service answers, not the gateway's or 405s.
        middleware.append(Middleware(VariantAnswers, variants=state.variants))
    app = Starlette(routes=served, middleware=middleware,
                    exception_handlers={Exception: _last_resort}, lifespan=lifespan)
    app.state.server = state
    return app
