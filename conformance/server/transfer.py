"""Points v2 transfers: checks, customer and group transfers, and the transfer history."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from conformance.server import endpoints, otp, switches
from conformance.server.ledger import Customer, Group, Ledger, Transfer
from conformance.server.params import (
    Invalid,
    as_id,
    field_bool,
    field_int,
    field_str,
    lookup_value,
    loose_bool,
    obj,
    query_enum,
    query_int,
    whole_number,
)
from conformance.server.replies import v2_data, v2_refusal
from conformance.server.rules import TRANSFER_RULES, Refusal, TransferCase, first_refusal
from conformance.server.state import ServerState
from conformance.server.variants import refusal_status

# Identifier types of the customer transfer (fromCustomerIdentifier.type) -> ledger column.
CUSTOMER_TYPES = {"ID": "user_id", "MOBILE": "mobile", "EXTERNAL_ID": "external_id",
                  "EMAIL": "email"}
ENTITY_TYPES = ("CUSTOMER", "USERGROUP2")
ENTITY_IDENTIFIER_TYPES = ("mobile", "email", "externalId", "cardnumber", "wechat", "martjackId",
                           "fbId", "id")
SOURCES = ("FACEBOOK", "WEB_ENGAGE", "WECHAT", "INSTORE", "MARTJACK", "TMALL", "TAOBAO", "JD",
           "ECOMMERCE", "WEBSITE", "LINE", "MOBILE_APP")
# Group-API identifier types -> ledger column; wechat, martjackId and fbId name no one here.
_CUSTOMER_BY_ENTITY_TYPE = {"mobile": "mobile", "email": "email", "externalId": "external_id",
                            "cardnumber": "card_number", "id": "user_id"}
_GROUP_BY_ENTITY_TYPE = {"id": "id", "externalId": "external_id"}
WRONG_CODE = Refusal(808, "Unable to transfer. Validation code is invalid")

Party = Customer | Group


def find_customer(ledger: Ledger, column: str | None, value: str) -> Customer | None:
    """The customer whose ``column`` holds ``value``; None for no column or an impossible id."""
    key = None if column is None else lookup_value(column, value)
    return None if key is None else ledger.find_customer(column, key)


def find_party(ledger: Ledger, kind: str, identifier_type: str, value: str) -> Party | None:
    """The customer or group an Entity of the group API names."""
    if kind == "CUSTOMER":
        return find_customer(ledger, _CUSTOMER_BY_ENTITY_TYPE.get(identifier_type), value)
    column = _GROUP_BY_ENTITY_TYPE.get(identifier_type)
    if column is None:
        return None
    key = as_id(value) if column == "id" else value
    return None if key is None else ledger.find_group(column, key)


# --- response blocks ------------------------------------------------------------------------

def party_block(customer: Customer) -> dict:
    return {"userId": customer.user_id, "firstName": customer.first_name,
            "lastName": customer.last_name}


def customer_details(customer: Customer) -> dict:
    identifiers = [{"type": kind, "value": value} for kind, value in
                   (("mobile", customer.mobile), ("email", customer.email),
                    ("externalId", customer.external_id), ("cardnumber", customer.card_number))
                   if value]
    return {
        "id": customer.user_id,
        "profiles": [{"firstName": customer.first_name, "lastName": customer.last_name,
                      "identifiers": identifiers, "source": "INSTORE",
                      "userId": customer.user_id, "accountId": ""}],
        "loyaltyInfo": {"loyaltyType": "loyalty" if customer.enrolled else "non_loyalty"},
        "segments": {},
        "extendedFields": {},
    }


def group_block(ledger: Ledger, group: Group, created_by: int) -> dict:
    members = [{"userId": m.user_id, "groupId": m.group_id, "defaultGroup": m.primary,
                "active": True, "primaryMember": m.primary} for m in ledger.members(group.id)]
    return {"id": group.id, "groupStatus": group.status, "fleetGroupUsers": members,
            "createdBy": created_by, "createdOn": group.created_on, "lifeTimePurchases": 0}


def _entity_type(kind: str) -> str:
    return "CUSTOMER" if kind == "customer" else "USERGROUP2"


def transfer_record(state: ServerState, transfer: Transfer) -> dict:
    ledger = state.ledger
    record = {
        "toEntityId": transfer.destination.id,
        "toEntityType": _entity_type(transfer.destination.kind),
        "fromEntityId": transfer.source.id,
        "fromEntityType": _entity_type(transfer.source.kind),
        "pointsTransferDate": transfer.created_at,
        "pointsTransferred": transfer.points,
        "transferId": transfer.id,
        "transferType": "DEDUCTION",
    }
    for side, account in (("From", transfer.source), ("To", transfer.destination)):
        if account.kind == "customer":
            record[f"transferred{side}"] = party_block(ledger.customer(account.id))
        else:
            group = ledger.find_group("id", account.id)
            record[f"transferred{side}UserGroup2"] = group_block(
                ledger, group, state.seed.credentials.user_id)
    record["notes"] = transfer.notes
    record["programName"] = state.program.name
    return record


# --- request parsing ------------------------------------------------------------------------

def _body(document: object) -> dict:
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object")
    return document


def _points(body: dict, required: bool = True) -> int | None:
    value = body.get("pointsTobeTransferred")
    if value is None:
        if required:
            raise Invalid("pointsTobeTransferred is required")
        return None
    return whole_number(value, "pointsTobeTransferred")


def _customer_identifier(body: dict, name: str) -> tuple[str, str]:
    node = obj(body, name)
    kind = field_str(node, f"{name}.type", required=True, enum=tuple(CUSTOMER_TYPES))
    value = field_str(node, f"{name}.value", required=True, min_length=1)
    return CUSTOMER_TYPES[kind], value


def _common_fields(body: dict) -> str:
    field_str(body, "notes")
    field_int(body, "programId")
    if body.get("groupProgramTransfer") is not None:
        loose_bool(body["groupProgramTransfer"], "groupProgramTransfer")
    return body.get("notes") or ""


def _entity(body: dict, name: str) -> tuple[str, str, str]:
    node = obj(body, name)
    kind = field_str(node, f"{name}.type", required=True, enum=ENTITY_TYPES)
    identifier_type = field_str(node, f"{name}.identifierType", required=True,
                                enum=ENTITY_IDENTIFIER_TYPES)
    value = field_str(node, f"{name}.identifierValue", required=True, min_length=1)
    field_str(node, f"{name}.accountId")
    field_str(node, f"{name}.source", enum=SOURCES)
    return kind, identifier_type, value


def _actor(body: dict) -> tuple[str, str]:
    node = obj(body, "transferredBy")
    identifier_type = field_str(node, "transferredBy.identifierType", required=True,
                                enum=ENTITY_IDENTIFIER_TYPES)
    value = field_str(node, "transferredBy.identifierValue", required=True, min_length=1)
    field_str(node, "transferredBy.accountId")
    field_str(node, "transferredBy.source", enum=SOURCES)
    return identifier_type, value


# --- customer to customer -------------------------------------------------------------------

def _customers(body: dict) -> tuple[tuple[str, str], tuple[str, str]]:
    return (_customer_identifier(body, "fromCustomerIdentifier"),
            _customer_identifier(body, "toCustomerIdentifier"))


def _customer_case(state: ServerState, parties: tuple[tuple[str, str], tuple[str, str]],
                   points: int) -> TransferCase:
    source = find_customer(state.ledger, *parties[0])
    destination = find_customer(state.ledger, *parties[1])
    return TransferCase(state.program, source, destination, points, state.ledger.balance,
                        limits=True)


@endpoints.v2()
async def is_transferrable(request: Request, state: ServerState) -> Response:
    body = _body(await endpoints.read_json(request))
    points = _points(body)
    _common_fields(body)
    issue_otp = field_bool(body, "issueOtp")
    case = _customer_case(state, _customers(body), points)
    refusal = first_refusal(TRANSFER_RULES, case, state.faults)
    if refusal is not None:
        return v2_refusal(refusal.code, refusal.message, http=refusal_status(state.variants))
    if issue_otp and switches.TRANSFER_NO_OTP_ISSUED not in state.faults:
        with state.ledger.transaction():
            otp.issue(state.ledger, state.clock, case.source.user_id, "transfer",
                      state.program.otp_validity_s, state.faults)
    return v2_data([{"pointsTobeTransferred": points,
                     "transferFrom": customer_details(case.source),
                     "transferTo": customer_details(case.destination),
                     "transferrable": True}])


@endpoints.v2()
async def transfer(request: Request, state: ServerState) -> Response:
    body = _body(await endpoints.read_json(request))
    points = _points(body)
    notes = _common_fields(body)
    parties = _customers(body)
    code = field_str(body, "code", required=True, min_length=1)
    ledger = state.ledger
    with ledger.transaction():
        case = _customer_case(state, parties, points)
        refusal = first_refusal(TRANSFER_RULES, case, state.faults)
        current = None
        if refusal is None:
            current = otp.matching(ledger, state.clock, case.source.user_id, "transfer", code,
                                   state.faults)
            if current is None and switches.TRANSFER_ANY_CODE in state.faults:
                # The bug: the code is not checked at all; an active one is still used up.
                current = otp.active(ledger, state.clock, case.source.user_id, "transfer",
                                     state.faults)
            elif current is None:
                refusal = WRONG_CODE
        if refusal is not None:
            return v2_refusal(refusal.code, refusal.message, http=refusal_status(state.variants))
        transfer_id = ledger.add_transfer(
            case.source.account, case.destination.account, points, notes, state.clock.stamp(),
            credit=switches.TRANSFER_DEBIT_ONLY not in state.faults)
        if current is not None:
            otp.consume(ledger, current, "transfer", state.faults)
        record = transfer_record(state, ledger.transfer(transfer_id))
    return v2_data([record])


# --- group transfers ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GroupTransferInput:
    points: int | None
    notes: str
    source: tuple[str, str, str]        # (type, identifierType, identifierValue)
    destination: tuple[str, str, str]
    actor: tuple[str, str]              # (identifierType, identifierValue)


def _group_input(document: object) -> GroupTransferInput:
    body = _body(document)
    return GroupTransferInput(points=_points(body, required=False), notes=_common_fields(body),
                              source=_entity(body, "fromEntity"),
                              destination=_entity(body, "toEntity"), actor=_actor(body))


def _group_case(state: ServerState, given: GroupTransferInput) -> TransferCase:
    ledger = state.ledger
    source = find_party(ledger, *given.source)
    destination = find_party(ledger, *given.destination)
    actor = find_customer(ledger, _CUSTOMER_BY_ENTITY_TYPE.get(given.actor[0]), given.actor[1])
    # Who may move the points: a member of the source group, or the source customer.
    if actor is None or source is None:
        allowed = False
    elif isinstance(source, Group):
        allowed = any(m.user_id == actor.user_id for m in ledger.members(source.id))
    else:
        allowed = actor.user_id == source.user_id
    # An unknown transferredBy is an unknown customer (816), like an unknown party.
    return TransferCase(state.program, source if actor else None, destination,
                        0 if given.points is None else given.points, ledger.balance,
                        actor_allowed=allowed)


@endpoints.v2()
async def is_group_transferrable(request: Request, state: ServerState) -> Response:
    case = _group_case(state, _group_input(await endpoints.read_json(request)))
    refusal = first_refusal(TRANSFER_RULES, case, state.faults)
    if refusal is not None:
        return v2_refusal(refusal.code, refusal.message, http=refusal_status(state.variants))
    return v2_data([{"pointsTobeTransferred": case.points, "transferrable": True}])


@endpoints.v2()
async def group_transfer(request: Request, state: ServerState) -> Response:
    given = _group_input(await endpoints.read_json(request))
    ledger = state.ledger
    with ledger.transaction():
        case = _group_case(state, given)
        refusal = first_refusal(TRANSFER_RULES, case, state.faults)
        if refusal is not None:
            return v2_refusal(refusal.code, refusal.message, http=refusal_status(state.variants))
        # group-transfer.noop: the transfer is recorded and answered, no points move.
        moves = switches.GROUP_TRANSFER_NOOP not in state.faults
        transfer_id = ledger.add_transfer(case.source.account, case.destination.account,
                                          case.points, given.notes, state.clock.stamp(),
                                          debit=moves, credit=moves)
        record = transfer_record(state, ledger.transfer(transfer_id))
    return v2_data([record])


# --- history --------------------------------------------------------------------------------

@endpoints.v2()
async def transfer_history(request: Request, state: ServerState) -> Response:
    query = request.query_params
    identifier_type = query_enum(query, "identifierName", ENTITY_IDENTIFIER_TYPES, required=True)
    value = query.get("identifierValue")
    if not value:
        raise Invalid("query parameter identifierValue is required")
    query_enum(query, "source", SOURCES)
    query_int(query, "programId")
    kind = query_enum(query, "userEntityType", ENTITY_TYPES)
    if kind is None:
        # The sample lists a group by identifierName=id; customers have no "id" type there.
        kind = "USERGROUP2" if identifier_type == "id" else "CUSTOMER"
    party = find_party(state.ledger, kind, identifier_type, value)
    if party is None:
        return v2_refusal(816, "Unable to find the customer or group in this organization",
                          http=refusal_status(state.variants))
    if switches.TRANSFER_NO_HISTORY in state.faults:
        return v2_data([])
    return v2_data([transfer_record(state, t) for t in state.ledger.transfers_from(party.account)])
