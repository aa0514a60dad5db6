"""Response bodies and their encoding: the v1.1 envelope (JSON or XML), v2 and goodwill JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from conformance.server import xmlio
from conformance.server.auth import CHALLENGE

JSON = "application/json"
XML = "application/xml; charset=utf-8"


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode("ascii")
    return Response(content, status, headers, JSON)


# --- v1.1 -----------------------------------------------------------------------------------

def status(ok: bool, http: int, message: str) -> dict:
    """The envelope's status: it mirrors the HTTP status; item_status carries the outcome."""
    return {"success": "true" if ok else "false", "code": http, "message": message}


def item_status(ok: bool, code: int, message: str) -> dict:
    return {"success": "true" if ok else "false", "code": code, "message": message}


def v11(body: dict, fmt: str, http: int = 200, headers: Mapping[str, str] | None = None
        ) -> Response:
    """A v1.1 body ``{"response": ...}`` in the format the client asked for."""
    if fmt == "xml":
        return Response(xmlio.render(body), http, headers, XML)
    return json_response(body, http, headers)


def v11_unauthorized(fmt: str) -> Response:
    body = {"response": {"status": status(False, 401,
                                          "Unauthorized: missing or wrong credentials")}}
    return v11(body, fmt, 401, CHALLENGE)


def v11_internal_error(fmt: str) -> Response:
    return v11({"response": {"status": status(False, 500, "Internal error")}}, fmt, 500)


# --- v2 -------------------------------------------------------------------------------------

def message(code: int, text: str) -> dict:
    return {"code": code, "message": text}


def v2_data(records: list[dict]) -> Response:
    return json_response({"data": records, "warnings": [], "errors": []})


def v2_refusal(code: int, text: str, http: int = 200, **extra: Any) -> Response:
    """A refusal: empty data and the reason in errors[] (901-905 too, DC-13)."""
    return json_response({**extra, "data": [], "warnings": [], "errors": [message(code, text)]},
                         http)


def v2_unauthorized() -> Response:
    body = {"errors": [message(401, "Unauthorized: missing or wrong credentials")], "warnings": []}
    return json_response(body, 401, CHALLENGE)


def v2_internal_error() -> Response:
    return json_response({"errors": [message(500, "Internal error")], "warnings": []}, 500)
