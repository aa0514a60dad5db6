"""The calls scenarios are made of: each records its evidence and keeps the run's books."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.checks import judge
from conformance.specs import catalog
from conformance.target import bodies, spending

# validationcode's success item_status: 200 is documented; 800 is what some targets reuse.
ISSUED = (200, 800)
# Sent where no real code can exist (an unregistered customer) or none was issued.
PLACEHOLDER_CODE = "000000"


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
    """The body of a JSON answer, or of a v1.1 XML answer in its JSON shape (format=xml)."""
    if judge.media_type(response.headers).endswith("xml"):
        return bodies.parse_xml(response.content)
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
        pytest.skip("the profile has no balance hook (balance.url), so balances cannot be observed")
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


def validation_code(pc, role: str, points: int, *, fmt: str = "json") -> Answer:
    ident = identifier(pc, role)
    response = pc.client.request(
        "GET", "/v1.1/points/validationcode",
        params={ident.key: ident.value, "points": points, "format": fmt},
        note=f"issue a validation code to {role}")
    body = _json(response)
    return Answer(response.status_code, body, _codes_v11(body))


def otp(pc, role: str, purpose: str = "redeem") -> str:
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source (otp)")
    code = pc.otp.get(identifier(pc, role), purpose)
    if not code:
        pytest.fail(f"the OTP source gave no {purpose} code for {role}")
    return code


def redeem(pc, role: str, points: int, code: str | None, *, book: bool = True,
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
    answer = Answer(response.status_code, body, _codes_v11(body))
    block = bodies.redeemed_block(body) or {}
    if answer.code == 800 and block.get("redemption_id") not in (None, ""):
        redemption = block["redemption_id"]  # XML carries it as text: the number it names
        pc.undo.redeemed(bodies.as_int(redemption) or redemption, ident, points)
    return answer


def redemption_id(answer: Answer) -> Any:
    return (bodies.redeemed_block(answer.body) or {}).get("redemption_id")


def reverse(pc, role: str, redemption: Any, points: int | None) -> Answer:
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
    answer = Answer(response.status_code, body, bodies.v2_codes(body))
    if isinstance(body, dict) and body.get("reversalId") not in (None, "") and \
            not bodies.v2_refused(body):
        reversed_points = bodies.as_int(body.get("pointsReversed"))
        pc.undo.reversed(redemption, reversed_points if reversed_points is not None else points)
    return answer


def _codes_v11(body: Any) -> list[int]:
    code = bodies.v11_code(body)
    return [] if code is None else [code]


def redeem_with_fresh_code(pc, role: str, points: int) -> Answer:
    """The documented flow: issue a code, read it through the OTP source, redeem with it."""
    issued = validation_code(pc, role, points)
    if issued.code not in ISSUED:
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


# --- amounts derived from the profile's program rules ----------------------------------------

def points_step(pc) -> int:
    """The program's points multiple (1 when every whole amount is a multiple)."""
    return max(pc.profile.program.points_multiple, 1)


def round_up(value: int, step: int) -> int:
    """The smallest multiple of ``step`` that is at least ``value``."""
    return -(-value // step) * step


def valid_amount(pc) -> int:
    """The smallest amount every program rule accepts: a multiple, at least the minimum."""
    program = pc.profile.program
    amount = program.smallest_amount
    if amount > program.max_redeem:
        pytest.skip(f"no multiple of {points_step(pc)} lies between min_redeem "
                    f"{program.min_redeem} and max_redeem {program.max_redeem}")
    return amount


def afford(pc, points: int, what: str) -> None:
    """Skip, with the reason, when the run's budget can no longer cover ``points``."""
    if points > pc.budget.remaining:
        pytest.skip(f"{what} may redeem {points} points but only {pc.budget.remaining} of the "
                    f"run's budget of {pc.budget.max_points} remain (budget.max_points)")


def catalog_codes(req_id: str) -> tuple[int, ...]:
    """Every code the requirement catalog accepts for ``req_id`` (alternatives included)."""
    return catalog.requirement(req_id).codes


# --- balances and codes for refusal scenarios ------------------------------------------------

def observed_balance(pc, role: str) -> int | None:
    """The balance when a hook can tell it; otherwise None and a note that says so."""
    value = balance(pc, role)
    text = (f"the profile has no balance hook, so the {role} customer's balance could not be "
            "observed; judged by the codes only")
    if value is None and not any(item.get("text") == text for item in pc.evidence):
        note(pc, text)
    return value


def fresh_code(pc, role: str, points: int) -> str:
    """A valid code for ``role``: issue one through validationcode, read it from the OTP source."""
    issued = validation_code(pc, role, points)
    if issued.code not in ISSUED:
        pytest.fail(f"validationcode for {role} answered code {issued.code}, expected a "
                    "success item_status")
    return otp(pc, role, "redeem")


def code_if_issued(pc, role: str, points: int) -> str:
    """A valid code when the target issues one to ``role``, else a placeholder (noted)."""
    issued = validation_code(pc, role, points)
    if issued.code in ISSUED and pc.otp is not None:
        code = pc.otp.get(identifier(pc, role), "redeem")
        if code:
            return code
    note(pc, f"no validation code could be had for {role} (validationcode code {issued.code}); "
             f"redeeming with the placeholder {PLACEHOLDER_CODE!r}")
    return PLACEHOLDER_CODE


def wrong_code(code: str) -> str:
    """A code of the same shape as ``code`` that differs from it in its last character."""
    last = code[-1:] or "0"
    if last.isdigit():
        swapped = "7" if last != "7" else "3"
    elif last.isalpha():
        swapped = "K" if last.upper() != "K" else "M"
        swapped = swapped if last.isupper() else swapped.lower()
    else:
        swapped = "9"
    return code[:-1] + swapped


def redeemable_flag(answer: Answer) -> bool | None:
    """isredeemable's is_redeemable, under either nesting and as a bool or a string."""
    return bodies.as_bool((bodies.redeemable_block(answer.body) or {}).get("is_redeemable"))


def received(answer: Answer) -> str:
    """How an answer reads in a failure message: its code(s) and HTTP status."""
    codes = ", ".join(str(code) for code in answer.codes) or "none"
    return f"code {codes} (HTTP {answer.status})"


def refused(answer: Answer, accepted: Collection[int], *, http_4xx: bool = False) -> bool:
    """Whether the answer carries one of the accepted codes (or, if allowed, a 4xx but 401)."""
    if any(code in accepted for code in answer.codes):
        return True
    return http_4xx and 400 <= answer.status < 500 and answer.status != 401


def expect_refused(what: str, answer: Answer, accepted: Collection[int], *,
                   http_4xx: bool = False, **balances: int | None) -> None:
    """Fail unless ``what`` was refused with an accepted code (or a 4xx when allowed)."""
    wanted = " or ".join(str(code) for code in accepted)
    if http_4xx:
        wanted += " or an HTTP 4xx other than 401"
    expect(refused(answer, accepted, http_4xx=http_4xx), f"{what} refused with {wanted}",
           f"{what}: {received(answer)}", **balances)


def expect_not_redeemable(what: str, answer: Answer, accepted: Collection[int], *,
                          http_4xx: bool = False, **balances: int | None) -> None:
    """isredeemable refused with an accepted code and not reporting the amount redeemable."""
    expect_refused(what, answer, accepted, http_4xx=http_4xx, **balances)
    flag = redeemable_flag(answer)
    expect(flag is not True, f"{what}: is_redeemable false", f"{what}: is_redeemable {flag}",
           **balances)


def expect_unchanged(before: int | None, after: int | None) -> None:
    """Fail when an observed balance moved (nothing to check when it could not be observed)."""
    if before is None or after is None:
        return
    expect(after == before, f"balance unchanged at {before}", f"balance {after}",
           balance_before=before, balance_after=after)


def give_back(pc, role: str, answer: Answer) -> None:
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
