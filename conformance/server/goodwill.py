"""The goodwill-points request workflow: a request waits (AdminTask) until approved."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from conformance.server import endpoints, switches
from conformance.server.ledger import Account, Ledger
from conformance.server.params import Invalid, field_int, field_str, loose_int, obj, whole_number
from conformance.server.replies import json_response
from conformance.server.state import ServerState

REQUEST_TYPE = "goodwill-points"
PENDING = "AdminTask"
APPROVED = "Approved"
TASK = "payload.IntouchAPITask-Payload"
ORG_HEADER = "X-CAP-API-AUTH-ORG-ID"
_SECRET_HEADER_PARTS = ("authorization", "cookie", "token", "secret", "password", "api-key",
                        "apikey")


def echo_headers(headers: dict, redact: bool = True) -> dict:
    """The task's headers as echoed: credentials REDACTED (SEC-01), the org id a number."""
    echoed = {}
    for name, value in headers.items():
        if redact and any(part in name.lower() for part in _SECRET_HEADER_PARTS):
            value = "REDACTED"
        elif name == ORG_HEADER:
            # The table types it Number; the sample sends a string (DC-01): answer the table.
            value = loose_int(value, name)
        echoed[name] = value
    return echoed


def _validated_task(document: object, lenient: bool = False) -> dict:
    """The IntouchAPITask-Payload of a complete request; a missing or bad field is Invalid.

    ``lenient`` is the goodwill.no-validation bug: a missing (or empty) mandatory field passes,
    while a field that is present must still have the right type.
    """
    need = not lenient
    filled = 0 if lenient else 1  # the least length of a mandatory string
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object")
    entity = obj(document, "entityInfo", required=need) or {}
    for name in ("tillId", "storeId", "zoneId", "conceptId"):
        field_str(entity, f"entityInfo.{name}", required=need, min_length=filled)
    task = obj(obj(document, "payload", required=need) or {}, TASK, required=need) or {}
    for name in ("hostname", "path", "method"):
        field_str(task, f"{TASK}.{name}", required=need)
    obj(task, f"{TASK}.pathParams", required=False)
    obj(task, f"{TASK}.queryParams", required=need)
    headers = obj(task, f"{TASK}.headers", required=need) or {}
    for name in ("Authorization", "content-type"):
        field_str(headers, f"{TASK}.headers.{name}")
    if headers.get(ORG_HEADER) is not None:
        loose_int(headers[ORG_HEADER], f"{TASK}.headers.{ORG_HEADER}")
    body = obj(task, f"{TASK}.body", required=need) or {}
    for name in ("referenceId", "reason"):
        field_str(body, f"{TASK}.body.{name}", required=need, min_length=filled)
    for name in ("baseType", "earningEntityType", "source"):
        field_str(body, f"{TASK}.body.{name}", required=need)
    for name in ("programId", "awardingTillId", "earningEntityId"):
        field_int(body, f"{TASK}.body.{name}", required=need)
    if body.get("points") is None:
        if need:
            raise Invalid(f"{TASK}.body.points is required")
    elif whole_number(body["points"], f"{TASK}.body.points") <= 0:
        raise Invalid(f"{TASK}.body.points must be greater than 0")
    if body.get("earningEntityType", "CUSTOMER") not in ("CUSTOMER", "USERGROUP2"):
        raise Invalid(f"{TASK}.body.earningEntityType must be CUSTOMER or USERGROUP2")
    return task


def _earning_account(ledger: Ledger, body: dict) -> Account | None:
    """The customer or group the request credits; None only when a lenient body names none."""
    entity_id = body.get("earningEntityId")
    if entity_id is None:
        return None
    if body.get("earningEntityType", "CUSTOMER") == "CUSTOMER":
        found = ledger.customer(entity_id)
        account = Account("customer", entity_id)
    else:
        found = ledger.find_group("id", entity_id)
        account = Account("group", entity_id)
    if found is None:
        raise Invalid("earningEntityId names no customer or group of this organization", 816)
    return account


@endpoints.workflow
async def request_goodwill(request: Request, state: ServerState) -> Response:
    faults = state.faults
    task = _validated_task(await endpoints.read_json(request),
                           lenient=switches.GOODWILL_NO_VALIDATION in faults)
    body = task.get("body") or {}
    ledger = state.ledger
    account = _earning_account(ledger, body)
    headers = echo_headers(task.get("headers") or {},
                           redact=switches.GOODWILL_ECHO_CREDENTIALS not in faults)
    details = {"IntouchAPITask-Payload": {**task, "headers": headers},
               "ValidateMakerAccess_Output": True, "ValidatePayload_Output": True}
    request_id = str(uuid.uuid4())
    start = state.clock.iso()
    points = body.get("points")
    # Only goodwill.no-validation lets a request without an account or points get here; it is
    # answered as accepted but there is nothing to store.
    if account is not None and points is not None:
        with ledger.transaction():
            ledger.add_goodwill(request_id, account, int(points), json.dumps(details), start)
            if switches.GOODWILL_CREDIT_PENDING in faults:
                ledger.add_entry(account, "goodwill_credit", int(points),
                                 f"goodwill:{request_id}", start)
    credentials = state.seed.credentials
    return json_response({"data": {
        "requestId": request_id,
        "userId": credentials.user_id,
        "userName": credentials.username,
        "requestType": REQUEST_TYPE,
        # goodwill.wrong-state: a new request reported as already approved.
        "state": APPROVED if switches.GOODWILL_WRONG_STATE in faults else PENDING,
        "startTime": start,
        "endTime": None,
        "details": details,
    }})
