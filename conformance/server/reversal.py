"""Points v2: reverse all or part of a redemption."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from conformance.server import endpoints, switches, variants
from conformance.server.ledger import Account
from conformance.server.params import Invalid, field_str, loose_int, obj, whole_number
from conformance.server.replies import json_response, message
from conformance.server.rules import REVERSAL_RULES, Refusal, ReversalCase, first_refusal
from conformance.server.state import ServerState
from conformance.server.transfer import find_customer

IDENTIFIER_TYPES = {"mobile": "mobile", "email": "email", "externalId": "external_id"}
UNKNOWN = 902
# reverse.unknown-as-reversed and reverse.no-partial answer what a server would that keeps
# a "reversed" flag (none for an unknown id is read as "nothing left") instead of a sum.
ALREADY_REVERSED = Refusal(812, "The points have been reverted already for this redemption")


def _refused(exc: Invalid) -> Response:
    return json_response({"errors": [message(exc.code, exc.message)], "warnings": []}, 400)


def _identifier(body: dict) -> dict | None:
    # The table capitalises Identifier, the sample does not (DC-17): take either.
    name = "identifier" if "identifier" in body else "Identifier"
    node = obj(body, name, required=False)
    if node is None:
        return None
    kind = field_str(node, f"{name}.type", required=True, enum=tuple(IDENTIFIER_TYPES))
    value = field_str(node, f"{name}.value", required=True, min_length=1)
    return {"type": kind, "value": value}


@endpoints.v2(refused=_refused)
async def reverse(request: Request, state: ServerState) -> Response:
    body = await endpoints.read_json(request)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    if body.get("redemptionId") is None:
        raise Invalid("redemptionId is required", 901)
    alphanumeric = variants.IDS_ALPHANUMERIC in state.variants
    if alphanumeric:
        # ids.alphanumeric: the ids redeem hands out ("r1b"); any other integer or string is
        # an id no redemption has (902), anything else is no id at all (DC-07).
        shown = body["redemptionId"]
        if isinstance(shown, bool) or not isinstance(shown, (int, str)) or shown == "":
            raise Invalid("redemptionId must be a redemption id", 901)
        found = variants.from_alphanumeric_id(shown)
        redemption_id = -1 if found is None else found
    else:
        # An integer, or digits in a string (DC-07); the samples' "r0njPT" names nothing here.
        redemption_id = shown = loose_int(body["redemptionId"], "redemptionId", 901)
    requested = body.get("pointsToBeReversed")
    if requested is not None:
        requested = whole_number(requested, "pointsToBeReversed", 901)
        if requested < 1:
            raise Invalid("pointsToBeReversed must be at least 1", 901)
    identifier = _identifier(body)

    ledger = state.ledger
    with ledger.transaction():
        redemption = ledger.redemption(redemption_id)
        owner_matches = True
        if identifier is not None and redemption is not None:
            named = find_customer(ledger, IDENTIFIER_TYPES[identifier["type"]],
                                  identifier["value"])
            owner_matches = named is not None and named.user_id == redemption.user_id
        case = ReversalCase(state.program, redemption, owner_matches, requested,
                            ledger.reversed_points)
        faults = state.faults
        refusal = first_refusal(REVERSAL_RULES, case, faults)
        if refusal is not None and refusal.code == UNKNOWN and \
                switches.REVERSE_UNKNOWN_AS_REVERSED in faults:
            refusal = ALREADY_REVERSED
        if refusal is None and switches.REVERSE_NO_PARTIAL in faults and \
                ledger.reversed_points(redemption.id) > 0:
            refusal = ALREADY_REVERSED
        if refusal is not None:
            return json_response({"redemptionId": shown,
                                  "errors": [message(refusal.code, refusal.message)],
                                  "warnings": []}, variants.refusal_status(state.variants))
        points = case.points
        reversal_id = ledger.add_reversal(redemption, points, state.clock.stamp())
        if switches.REVERSE_CREDITS_DOUBLE in faults:
            ledger.add_entry(Account("customer", redemption.user_id), "reverse", points,
                             f"reversal:{reversal_id}", state.clock.stamp())
        owner = ledger.customer(redemption.user_id)
    if identifier is None:
        identifier = next(({"type": kind, "value": value} for kind, value in
                           (("mobile", owner.mobile), ("email", owner.email),
                            ("externalId", owner.external_id)) if value), None)
    result = {"redemptionId": shown, "pointsToBeReversed": points,
              "orgId": state.seed.org_id}
    if identifier is not None:
        result["identifier"] = identifier
    result.update(customerId=owner.user_id, pointsReversed=points,
                  reversalId=variants.alphanumeric_id(reversal_id) if alphanumeric else reversal_id,
                  warnings=[], errors=[])
    return json_response(result)
