"""The calls scenarios are made of: each records its evidence and keeps the run's books."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from conformance import outcomes

V2_IDENTIFIER = {"mobile": "mobile", "email": "email", "external_id": "externalId"}
V2_TRANSFER_IDENTIFIER = {"mobile": "MOBILE", "email": "EMAIL", "external_id": "EXTERNAL_ID",
                          "user_id": "ID"}


@dataclass
class Answer:
    """A response with its parsed body and the business code(s) it carries."""

    status: int
    body: Any
    codes: list[int]

    @property
    def code(self) -> int | None:
        return self.codes[0] if self.codes else None


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def note(pc, text: str) -> None:
    """A line of evidence in the scenario's own words (expected, received, balances)."""
    pc.evidence.append({"kind": "note", "text": text})


def identifier(pc, role: str):
    customer = pc.profile.customers.get(role)
    if customer is None:
        pytest.skip(f"the profile names no customer for the role {role!r}")
    return customer


def balance(pc, role: str) -> int | None:
    """The customer's balance through the profile's balance source, or None."""
    return pc.balances.get(identifier(pc, role))


def require_balance(pc, role: str) -> int:
    value = balance(pc, role)
    if value is None:
        pytest.skip("the profile has no balance hook, so balances cannot be observed")
    return value


def is_redeemable(pc, role: str, points: int, **extra: Any) -> Answer:
    ident = identifier(pc, role)
    params = {ident.key: ident.value, "points": points, "format": "json", **extra}
    if pc.profile.program.id is not None:
        params.setdefault("program_id", pc.profile.program.id)
    response = pc.client.request("GET", "/v1.1/points/isredeemable", params=params,
                                 note=f"isredeemable {points} for {role}")
    body = _json(response)
    return Answer(response.status_code, body, _codes_v11(body))


def validation_code(pc, role: str, points: int) -> Answer:
    ident = identifier(pc, role)
    response = pc.client.request(
        "GET", "/v1.1/points/validationcode",
        params={ident.key: ident.value, "points": points, "format": "json"},
        note=f"issue a validation code to {role}")
    body = _json(response)
    return Answer(response.status_code, body, _codes_v11(body))


def otp(pc, role: str, purpose: str = "redeem") -> str:
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source")
    code = pc.otp.get(identifier(pc, role), purpose)
    if not code:
        pytest.fail(f"the OTP source gave no {purpose} code for {role}")
    return code


def redeem(pc, role: str, points: int, code: str | None, **item: Any) -> Answer:
    """POST redeem; a success is booked in the undo log so the run can reverse it."""
    ident = identifier(pc, role)
    pc.budget.spend(points, f"redeem {points} for {role}")
    entry: dict[str, Any] = {"customer": {ident.key: ident.value}, "points_redeemed": points,
                             "transaction_number": f"pc-{uuid.uuid4().hex[:12]}", **item}
    if ident.key == "mobile":
        entry["mobile"] = ident.value  # the table's placement too (DC-05)
    if code is not None:
        entry["validation_code"] = code
    params = {"format": "json"}
    if pc.profile.program.id is not None:
        params["program_id"] = pc.profile.program.id
    response = pc.client.request("POST", "/v1.1/points/redeem", params=params,
                                 json={"root": {"redeem": [entry]}},
                                 note=f"redeem {points} for {role}")
    body = _json(response)
    answer = Answer(response.status_code, body, _codes_v11(body))
    block = outcomes.redeemed_block(body) or {}
    if answer.code == 800 and block.get("redemption_id") not in (None, ""):
        pc.undo.redeemed(block["redemption_id"], ident, points)
    return answer


def redemption_id(answer: Answer) -> Any:
    return (outcomes.redeemed_block(answer.body) or {}).get("redemption_id")


def reverse(pc, role: str, redemption: Any, points: int | None) -> Answer:
    ident = identifier(pc, role)
    payload: dict[str, Any] = {"redemptionId": redemption,
                               "identifier": {"type": V2_IDENTIFIER.get(ident.key, ident.key),
                                              "value": ident.value}}
    if points is not None:
        payload["pointsToBeReversed"] = points
    response = pc.client.request("POST", "/v2/points/reverse", json=payload,
                                 note=f"reverse {points if points is not None else 'all'} of "
                                      f"redemption {redemption}")
    body = _json(response)
    answer = Answer(response.status_code, body, outcomes.v2_codes(body))
    if isinstance(body, dict) and body.get("reversalId") not in (None, "") and \
            not outcomes.v2_refused(body):
        reversed_points = outcomes.as_int(body.get("pointsReversed"))
        pc.undo.reversed(redemption, reversed_points if reversed_points is not None else points)
    return answer


def _codes_v11(body: Any) -> list[int]:
    code = outcomes.v11_code(body)
    return [] if code is None else [code]


def redeem_with_fresh_code(pc, role: str, points: int) -> Answer:
    """The documented flow: issue a code, read it through the OTP source, redeem with it."""
    issued = validation_code(pc, role, points)
    if issued.code not in (200, 800):
        pytest.fail(f"validationcode for {role} answered code {issued.code}, expected a "
                    "success item_status")
    return redeem(pc, role, points, otp(pc, role, "redeem"))


def expect(condition: bool, expected: str, received: str, **balances: int | None) -> None:
    """Fail with what was expected, what came back and the balances, when ``condition`` is false."""
    if condition:
        return
    lines = [f"expected: {expected}", f"received: {received}"]
    lines += [f"{name.replace('_', ' ')}: {value}" for name, value in balances.items()]
    raise AssertionError("\n".join(lines))
