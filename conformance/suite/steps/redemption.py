"""Points v1.1 redemption calls (isredeemable, validationcode, redeem, OTP) and the v2 reversal.

A successful redemption is booked in the run's undo log, which reverses it at the end of the
run; ``reverse_wrongful_redemption`` reverses at once one the target should have refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pytest

from conformance.checks import judge
from conformance.suite.steps.common import (
    Answer,
    answer_of,
    expect,
    expect_refused,
    identifier,
    note,
    refused_check,
)
from conformance.target import bodies, spending

if TYPE_CHECKING:
    from conformance.suite.plugin import RunState

# validationcode's success item_status: 200 is documented; 800 is what some targets reuse.
ISSUED = (200, 800)
# Sent where no real code can exist (an unregistered customer) or none was issued.
PLACEHOLDER_CODE = "000000"


_json = judge.body_of  # a JSON answer's body, or a v1.1 XML answer's in its JSON shape


def _codes_v11(body: Any) -> list[int]:
    code = bodies.v11_code(body)
    return [] if code is None else [code]


# --- calls ------------------------------------------------------------------------------------

def is_redeemable(pc: RunState, role: str, points: int, **extra: Any) -> Answer:
    ident = identifier(pc, role)
    params = {ident.key: ident.value, "points": points, "format": "json", **extra}
    if pc.profile.program.id is not None:
        params.setdefault("program_id", pc.profile.program.id)
    response = pc.client.request("GET", "/v1.1/points/isredeemable", params=params,
                                 note=f"isredeemable {points} for {role}")
    body = _json(response)
    return answer_of(pc, response, body, _codes_v11(body))


def validation_code(pc: RunState, role: str, points: int, *, fmt: str = "json") -> Answer:
    ident = identifier(pc, role)
    response = pc.client.request(
        "GET", "/v1.1/points/validationcode",
        params={ident.key: ident.value, "points": points, "format": fmt},
        note=f"issue a validation code to {role}")
    body = _json(response)
    return answer_of(pc, response, body, _codes_v11(body))


def redeem(pc: RunState, role: str, points: int, code: str | None, *, book: bool = True,
           fmt: str = "json", **item: Any) -> Answer:
    """POST redeem; a success is booked in the undo log so the run can reverse it."""
    ident = identifier(pc, role)
    # Reserved even when the target should refuse (a faulty one may not); book=False when the
    # caller reserved them already. A negative amount can take nothing.
    if book:
        pc.budget.spend(max(points, 0), f"redeem {points} for {role}")
    entry: dict[str, Any] = {"customer": {ident.key: ident.value}, "points_redeemed": points,
                             "transaction_number": f"pc-{uuid.uuid4().hex[:12]}", **item}
    if ident.key == "mobile":
        entry["mobile"] = ident.value  # the table's placement too (DC-05)
    if code is not None:
        entry["validation_code"] = code
    params = {"format": fmt}
    if pc.profile.program.id is not None:
        params["program_id"] = pc.profile.program.id
    response = pc.client.request("POST", "/v1.1/points/redeem", params=params,
                                 json={"root": {"redeem": [entry]}},
                                 note=f"redeem {points} for {role}")
    body = _json(response)
    result = answer_of(pc, response, body, _codes_v11(body))
    block = bodies.redeemed_block(body) or {}
    if result.code == 800 and block.get("redemption_id") not in (None, ""):
        redemption = block["redemption_id"]  # XML carries it as text: the number it names
        pc.undo.redeemed(bodies.as_int(redemption) or redemption, ident, points)
    return result


def redemption_id(answer: Answer) -> Any:
    return (bodies.redeemed_block(answer.body) or {}).get("redemption_id")


def reverse(pc: RunState, role: str, redemption: Any, points: int | None) -> Answer:
    payload: dict[str, Any] = {"redemptionId": redemption}
    who = spending.reverse_identifier(identifier(pc, role))
    if who is not None:  # a card_number or user_id cannot be carried: none is sent, as undo does
        payload["identifier"] = who
    if points is not None:
        payload["pointsToBeReversed"] = points
    response = pc.client.request("POST", "/v2/points/reverse", json=payload,
                                 note=f"reverse {points if points is not None else 'all'} of "
                                      f"redemption {redemption}")
    body = _json(response)
    result = answer_of(pc, response, body, bodies.v2_codes(body))
    if isinstance(body, dict) and body.get("reversalId") not in (None, "") and \
            not bodies.v2_refused(body):
        reversed_points = bodies.as_int(body.get("pointsReversed"))
        pc.undo.reversed(redemption, reversed_points if reversed_points is not None else points)
    return result


def reverse_wrongful_redemption(pc: RunState, role: str, answer: Answer) -> None:
    """Reverse at once a redemption the target should have refused."""
    # The undo log would only do it at the end of the run; later scenarios read this balance.
    if answer.code != 800 or redemption_id(answer) in (None, ""):
        return
    if not pc.profile.program.reversal_enabled:
        return
    points = bodies.as_int((bodies.redeemed_block(answer.body) or {}).get("points_redeemed"))
    if points is None:
        return  # the undo log reverses it at the end, whatever it took
    note(pc, "the redemption should have been refused; reversing it now")
    reverse(pc, role, redemption_id(answer), points)


# --- validation codes -------------------------------------------------------------------------

def otp(pc: RunState, role: str, purpose: str = "redeem") -> str:
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source (otp)")
    code = pc.otp.get(identifier(pc, role), purpose)
    if not code:
        pytest.fail(f"the OTP source gave no {purpose} code for {role}")
    return code


def fresh_code(pc: RunState, role: str, points: int) -> str:
    """A valid code for ``role``: issue one through validationcode, read it from the OTP source."""
    issued = validation_code(pc, role, points)
    if issued.code not in ISSUED:
        pytest.fail(f"validationcode for {role} answered code {issued.code}, expected a "
                    "success item_status")
    return otp(pc, role, "redeem")


def redeem_with_fresh_code(pc: RunState, role: str, points: int) -> Answer:
    """The documented flow: issue a code, read it through the OTP source, redeem with it."""
    issued = validation_code(pc, role, points)
    if issued.code not in ISSUED:
        pytest.fail(f"validationcode for {role} answered code {issued.code}, expected a "
                    "success item_status")
    return redeem(pc, role, points, otp(pc, role, "redeem"))


def code_if_issued(pc: RunState, role: str, points: int) -> str:
    """A valid code when the target issues one to ``role``, else a placeholder (noted)."""
    issued = validation_code(pc, role, points)
    if issued.code in ISSUED and pc.otp is not None:
        code = pc.otp.get(identifier(pc, role), "redeem")
        if code:
            return code
    note(pc, f"no validation code could be had for {role} (validationcode code {issued.code}); "
             f"redeeming with the placeholder {PLACEHOLDER_CODE!r}")
    return PLACEHOLDER_CODE


def wrong_validation_code(code: str) -> str:
    """A code of the same shape as ``code`` that differs from it in its last character only."""
    last = code[-1:] or "0"
    if last.isdigit():
        swapped = "7" if last != "7" else "3"
    elif last.isalpha():
        swapped = "K" if last.upper() != "K" else "M"
        swapped = swapped if last.isupper() else swapped.lower()
    else:
        swapped = "9"
    return code[:-1] + swapped


# --- isredeemable's verdict -------------------------------------------------------------------

def redeemable_flag(answer: Answer) -> bool | None:
    """isredeemable's is_redeemable, under either nesting and as a bool or a string."""
    return bodies.as_bool((bodies.redeemable_block(answer.body) or {}).get("is_redeemable"))


def expect_not_redeemable(what: str, answer: Answer, accepted: Collection[int], *,
                          http_4xx: bool = False, **balances: int | None) -> None:
    """isredeemable refused with an accepted code and not reporting the amount redeemable."""
    expect_refused(what, answer, accepted, http_4xx=http_4xx, **balances)
    flag = redeemable_flag(answer)
    expect(flag is not True, f"{what}: is_redeemable false", f"{what}: is_redeemable {flag}",
           answer=answer, check=refused_check(accepted, http_4xx=http_4xx, not_redeemable=True),
           **balances)
