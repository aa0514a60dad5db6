"""Points v2 transfer calls: transfer checks, customer and group transfers, codes, history.

Every points-moving call is booked against the run's budget first. Transfers cannot be undone by
the run's undo log, so scenarios give the points back with a second transfer (``transfer_back``)
and report what they could not give back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from conformance.suite.steps.common import (
    Answer,
    first_row,
    identifier,
    note,
    v2_answer,
    valid_amount,
)
from conformance.target import bodies
from conformance.target.hooks import HookError
from conformance.target.profile import Identifier

if TYPE_CHECKING:
    from conformance.suite.plugin import RunState

# Profile identifier key -> fromCustomerIdentifier.type of the customer transfer API.
CUSTOMER_TYPES = {"mobile": "MOBILE", "email": "EMAIL", "external_id": "EXTERNAL_ID",
                  "user_id": "ID"}
# Profile identifier key -> Entity.identifierType of the userGroup2 API and of the history.
ENTITY_TYPES = {"mobile": "mobile", "email": "email", "external_id": "externalId",
                "card_number": "cardnumber", "user_id": "id"}

TRANSFER_CHECK_PATH = "/v2/points/isTransferrable"
TRANSFER_PATH = "/v2/points/transfer"
GROUP_CHECK_PATH = "/v2/points/userGroup2/isTransferrable"
GROUP_TRANSFER_PATH = "/v2/points/userGroup2/transfer"


# --- reading answers --------------------------------------------------------------------------

def refused_in_any_form(answer: Answer) -> bool:
    """A refusal in any documented form: a code in errors[]/warnings[], or a 4xx (DC-11, DC-13)."""
    return bool(answer.codes) or bodies.v2_refused(answer.body) or 400 <= answer.status < 500


def transferred(answer: Answer) -> bool:
    """Whether a transfer answer reports a completed transfer (a record with a transferId)."""
    return (answer.status < 400 and not bodies.v2_refused(answer.body)
            and first_row(answer).get("transferId") not in (None, ""))


def transferrable(answer: Answer) -> bool:
    return (not bodies.v2_refused(answer.body) and answer.status < 400
            and bodies.as_bool(first_row(answer).get("transferrable")) is True)


def describe(answer: Answer) -> str:
    """One line for a failure message: HTTP status, codes and the first data row's gist."""
    row = first_row(answer)
    gist = {k: row[k] for k in ("transferrable", "pointsTransferred", "transferId") if k in row}
    return f"HTTP {answer.status}, codes {answer.codes}" + (f", {gist}" if gist else "")


def transfer_amount(pc: RunState) -> int:
    """The amount scenarios transfer: the smallest one every program rule accepts.

    A target may hold transfers to the program's multiple, minimum and maximum (TRF-11), so a
    transfer that should go through respects all three.
    """
    return valid_amount(pc)


# --- parties ----------------------------------------------------------------------------------

def customer_identifier(pc: RunState, role: str) -> dict[str, str]:
    """The role as a v2 CustomerIdentifier; skips when its profile key has no v2 type."""
    ident = identifier(pc, role)
    kind = CUSTOMER_TYPES.get(ident.key)
    if kind is None:
        pytest.skip(f"the profile names the {role} customer by {ident.key}, which the v2 "
                    f"customer transfer cannot name (it takes {', '.join(CUSTOMER_TYPES)})")
    return {"type": kind, "value": ident.value}


def entity(pc: RunState, role: str) -> dict[str, str]:
    """The role as a userGroup2 Entity of type CUSTOMER."""
    ident = identifier(pc, role)
    kind = ENTITY_TYPES.get(ident.key)
    if kind is None:
        pytest.skip(f"the profile names the {role} customer by {ident.key}, which the "
                    "userGroup2 API cannot name")
    return {"type": "CUSTOMER", "identifierType": kind, "identifierValue": ident.value}


def source_group(pc: RunState) -> str:
    """The id of the profile's source group; skips when the profile names none."""
    group = pc.profile.groups.get("source")
    if group is None:
        pytest.skip("the profile names no user group (groups.source), so group transfers "
                    "cannot be tested")
    return str(group.id)


def group_entity(group_id: str) -> dict[str, str]:
    return {"type": "USERGROUP2", "identifierType": "id", "identifierValue": group_id}


def group_balance(pc: RunState, group_id: str) -> int | None:
    """The group's balance through the balance hook as ``group_id=…``, or None if not observable.

    The reference hook takes ``?group_id=``; a hook URL without ``{identifier}`` cannot be asked,
    and a hook that refuses the key says the group side is not observable.
    """
    url = pc.profile.balance_url
    if url is None or "{identifier}" not in url:
        return None
    try:
        return pc.balances.get(Identifier("group_id", group_id))
    except HookError:  # not 200 or no whole number: the hook does not know groups
        return None


def user_id(pc: RunState, role: str) -> int | None:
    """The role's user id: its profile value, or read from a transfer check; None if unknown."""
    ident = identifier(pc, role)
    if ident.key == "user_id":
        return bodies.as_int(ident.value)
    key = (pc.profile.base_url, ident)
    if key in _USER_IDS:
        return _USER_IDS[key]
    other = "receiver" if role != "receiver" else "spender"
    if CUSTOMER_TYPES.get(ident.key) is None or other not in pc.profile.customers or \
            CUSTOMER_TYPES.get(pc.profile.customers[other].key) is None:
        return None
    # isTransferrable answers the parties' customer details, the user id among them; it
    # changes nothing, so it is the cheapest documented way to learn the id.
    check = transfer_check(pc, role, other, transfer_amount(pc),
                           what=f"learn the {role} customer's user id")
    details = first_row(check).get("transferFrom")
    found = None
    if isinstance(details, dict):
        found = bodies.as_int(details.get("id"))
        for profile in details.get("profiles") or []:
            if found is None and isinstance(profile, dict):
                found = bodies.as_int(profile.get("userId"))
    _USER_IDS[key] = found
    return found


_USER_IDS: dict[tuple[str, Identifier], int | None] = {}


# --- codes ------------------------------------------------------------------------------------

def otp_unavailable(pc: RunState) -> str | None:
    """Why the run cannot read validation codes, else None."""
    if pc.otp is None:
        return "the profile configures no OTP source (otp)"
    return pc.otp.unavailable_reason


def issued_code(pc: RunState, role: str, purpose: str = "transfer") -> str | None:
    """The code the OTP source reports for the role and purpose; None when none is active."""
    if otp_unavailable(pc) is not None:
        return None
    return pc.otp.get(identifier(pc, role), purpose)


def transfer_code(pc: RunState, source: str, destination: str, points: int, *,
                  required: bool = True) -> str | None:
    """Have the target issue a transfer code to ``source`` (isTransferrable issueOtp) and read it.

    With ``required`` the scenario cannot go on without the code: it skips when the run cannot
    read codes and fails when the target issues none. Otherwise None stands for "not known".
    """
    why = otp_unavailable(pc)
    if why is not None and required:
        pytest.skip(why)
    check = transfer_check(pc, source, destination, points, issue_otp=True,
                           what=f"issue a transfer code to {source}")
    if not transferrable(check):
        if required:
            pytest.fail(f"isTransferrable {source} -> {destination} of {points} did not confirm "
                        f"({describe(check)}), so no transfer code could be had")
        return None
    code = issued_code(pc, source, "transfer")
    if code is None and required:
        pytest.fail(f"the OTP source gave no transfer code for {source} after isTransferrable "
                    "with issueOtp true")
    return code


def wrong_transfer_code(real: str | None) -> str:
    """A code that differs from ``real`` in every character, keeping its length and kinds.

    "000000" when no real code is known.
    """
    if not real:
        return "000000"
    return "".join(str((int(c) + 1) % 10) if c.isdigit() else ("B" if c.upper() == "A" else "A")
                   for c in real)


# --- customer transfers -----------------------------------------------------------------------

def transfer_body(pc: RunState, source: str, destination: str, points: int) -> dict[str, Any]:
    body: dict[str, Any] = {"pointsTobeTransferred": points,
                            "fromCustomerIdentifier": customer_identifier(pc, source),
                            "toCustomerIdentifier": customer_identifier(pc, destination)}
    if pc.profile.program.id is not None:
        body["programId"] = pc.profile.program.id
    return body


def transfer_check(pc: RunState, source: str, destination: str, points: int, *,
                   issue_otp: bool = False, what: str = "") -> Answer:
    """POST isTransferrable (changes nothing, except issuing a code with ``issue_otp``)."""
    body = transfer_body(pc, source, destination, points)
    body["issueOtp"] = issue_otp
    response = pc.client.request(
        "POST", TRANSFER_CHECK_PATH, json=body,
        note=what or f"isTransferrable {points} {source} -> {destination}"
                     f"{' (issueOtp)' if issue_otp else ''}")
    return v2_answer(response, pc)


def transfer(pc: RunState, source: str, destination: str, points: int, code: str, *,
             what: str = "") -> Answer:
    """POST transfer; the points are booked against the run's budget before the call."""
    what = what or f"transfer {points} {source} -> {destination}"
    pc.budget.spend(max(points, 0), what)  # 0 or a negative amount can take nothing
    body = transfer_body(pc, source, destination, points)
    body.update(notes="points-conformance scenario", code=code)
    return v2_answer(pc.client.request("POST", TRANSFER_PATH, json=body, note=what), pc)


def transfer_back(pc: RunState, source: str, destination: str, points: int) -> None:
    """Undo a transfer ``source`` -> ``destination`` with one back; report it if that fails."""
    line = (f"transfer of {points} points {identifier(pc, source)} -> "
            f"{identifier(pc, destination)}")
    code = transfer_code(pc, destination, source, points, required=False)
    if code is None:
        why = otp_unavailable(pc) or "no transfer code could be had for the way back"
        note(pc, f"could not give back the {line}: {why}")
        pc.collector.undone(f"{line}: not given back: {why}")
        return
    back = transfer(pc, destination, source, points, code, what=f"give back {points} "
                                                               f"{destination} -> {source}")
    if transferred(back):
        note(pc, f"gave back the {line} (transferId {first_row(back).get('transferId')})")
    else:
        note(pc, f"could not give back the {line}: {describe(back)}")
        pc.collector.undone(f"{line}: not given back: {describe(back)}")


def history(pc: RunState, role: str) -> Answer:
    """GET the role's transfer history."""
    ident = identifier(pc, role)
    kind = ENTITY_TYPES.get(ident.key)
    if kind is None:
        pytest.skip(f"the profile names the {role} customer by {ident.key}, which the transfer "
                    "history cannot name")
    params: dict[str, Any] = {"identifierName": kind, "identifierValue": ident.value,
                              "userEntityType": "CUSTOMER"}
    if pc.profile.program.id is not None:
        params["programId"] = pc.profile.program.id
    return v2_answer(pc.client.request("GET", TRANSFER_PATH, params=params,
                                       note=f"transfer history of {role}"), pc)


# --- group transfers --------------------------------------------------------------------------

def _group_body(pc: RunState, from_entity: dict, to_entity: dict, actor: str,
                points: int) -> dict[str, Any]:
    by = entity(pc, actor)
    body: dict[str, Any] = {
        "pointsTobeTransferred": points, "notes": "points-conformance scenario",
        "transferredBy": {"identifierType": by["identifierType"],
                          "identifierValue": by["identifierValue"]},
        "fromEntity": from_entity, "toEntity": to_entity}
    if pc.profile.program.id is not None:
        body["programId"] = pc.profile.program.id
    return body


def group_check(pc: RunState, group_id: str, role: str, points: int) -> Answer:
    """POST userGroup2/isTransferrable from the group to the role, made by the role."""
    body = _group_body(pc, group_entity(group_id), entity(pc, role), role, points)
    return v2_answer(pc.client.request("POST", GROUP_CHECK_PATH, json=body,
                                       note=f"userGroup2 isTransferrable {points} group "
                                            f"{group_id} -> {role}"), pc)


def group_transfer(pc: RunState, from_entity: dict, to_entity: dict, actor: str, points: int,
                   what: str) -> Answer:
    """POST userGroup2/transfer; the points are booked against the budget before the call."""
    pc.budget.spend(points, what)
    body = _group_body(pc, from_entity, to_entity, actor, points)
    return v2_answer(pc.client.request("POST", GROUP_TRANSFER_PATH, json=body, note=what), pc)
