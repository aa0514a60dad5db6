"""The goodwill-points request workflow: a request waits (AdminTask) until approved."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from conformance.server import endpoints
from conformance.server.ledger import Account
from conformance.server.params import Invalid, field_int, field_str, loose_int, obj, whole_number
from conformance.server.replies import json_response
from conformance.server.state import ServerState

REQUEST_TYPE = "goodwill-points"
PENDING = "AdminTask"
TASK = "payload.IntouchAPITask-Payload"
ORG_HEADER = "X-CAP-API-AUTH-ORG-ID"
_SECRET_HEADER_PARTS = ("authorization", "cookie", "token", "secret", "password", "api-key",
                        "apikey")


def echo_headers(headers: dict) -> dict:
    """The task's headers as echoed: credentials REDACTED (SEC-01), the org id a number."""
    echoed = {}
    for name, value in headers.items():
        if any(part in name.lower() for part in _SECRET_HEADER_PARTS):
            value = "REDACTED"
        elif name == ORG_HEADER:
            # The table types it Number; the sample sends a string (DC-01): answer the table.
            value = loose_int(value, name)
        echoed[name] = value
    return echoed


def _validated_task(document: object) -> dict:
    """The IntouchAPITask-Payload of a complete request; a missing or bad field is Invalid."""
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object")
    entity = obj(document, "entityInfo")
    for name in ("tillId", "storeId", "zoneId", "conceptId"):
        field_str(entity, f"entityInfo.{name}", required=True, min_length=1)
    task = obj(obj(document, "payload"), TASK)
    for name in ("hostname", "path", "method"):
        field_str(task, f"{TASK}.{name}", required=True)
    obj(task, f"{TASK}.pathParams", required=False)
    obj(task, f"{TASK}.queryParams")
    headers = obj(task, f"{TASK}.headers")
    for name in ("Authorization", "content-type"):
        field_str(headers, f"{TASK}.headers.{name}")
    if headers.get(ORG_HEADER) is not None:
        loose_int(headers[ORG_HEADER], f"{TASK}.headers.{ORG_HEADER}")
    body = obj(task, f"{TASK}.body")
    for name in ("referenceId", "reason"):
        field_str(body, f"{TASK}.body.{name}", required=True, min_length=1)
    for name in ("baseType", "earningEntityType", "source"):
        field_str(body, f"{TASK}.body.{name}", required=True)
    for name in ("programId", "awardingTillId", "earningEntityId"):
        field_int(body, f"{TASK}.body.{name}", required=True)
    if body.get("points") is None:
        raise Invalid(f"{TASK}.body.points is required")
    if whole_number(body["points"], f"{TASK}.body.points") <= 0:
        raise Invalid(f"{TASK}.body.points must be greater than 0")
    if body["earningEntityType"] not in ("CUSTOMER", "USERGROUP2"):
        raise Invalid(f"{TASK}.body.earningEntityType must be CUSTOMER or USERGROUP2")
    return task


@endpoints.workflow
async def request_goodwill(request: Request, state: ServerState) -> Response:
    task = _validated_task(await endpoints.read_json(request))
    body = task["body"]
    ledger = state.ledger
    if body["earningEntityType"] == "CUSTOMER":
        found = ledger.customer(body["earningEntityId"])
        account = Account("customer", body["earningEntityId"])
    else:
        found = ledger.find_group("id", body["earningEntityId"])
        account = Account("group", body["earningEntityId"])
    if found is None:
        raise Invalid("earningEntityId names no customer or group of this organization", 816)
    details = {"IntouchAPITask-Payload": {**task, "headers": echo_headers(task["headers"])},
               "ValidateMakerAccess_Output": True, "ValidatePayload_Output": True}
    request_id = str(uuid.uuid4())
    start = state.clock.iso()
    with ledger.transaction():
        ledger.add_goodwill(request_id, account, int(body["points"]), json.dumps(details), start)
    credentials = state.seed.credentials
    return json_response({"data": {
        "requestId": request_id,
        "userId": credentials.user_id,
        "userName": credentials.username,
        "requestType": REQUEST_TYPE,
        "state": PENDING,
        "startTime": start,
        "endTime": None,
        "details": details,
    }})
