"""What every family's scenarios share: answers, evidence, customers, balances, amounts, budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pytest

from conformance.specs import catalog
from conformance.target import bodies
from conformance.target.client import MUTATIONS_REFUSED, MutationRefused

if TYPE_CHECKING:
    from conformance.suite.plugin import RunState

P = ParamSpec("P")
R = TypeVar("R")


# --- answers ----------------------------------------------------------------------------------

@dataclass
class Answer:
    """A response with its parsed body and the business code(s) it carries."""

    status: int
    body: Any
    codes: list[int]
    # The exchange in the test's evidence that carried this answer (see ``answer_of``)
    evidence: dict | None = field(default=None, repr=False, compare=False)

    @property
    def code(self) -> int | None:
        return self.codes[0] if self.codes else None


def answer_of(pc: RunState | None, response: Any, body: Any, codes: list[int]) -> Answer:
    """An Answer tied to the exchange that carried it, so a failed check can mark it decisive."""
    exchange_id = getattr(response, "exchange_id", None)
    item = None
    if pc is not None and exchange_id is not None:
        item = next((entry for entry in reversed(pc.evidence)
                     if entry.get("id") == exchange_id), None)
    return Answer(response.status_code, body, codes, item)


def v2_answer(response: Any, pc: RunState | None = None) -> Answer:
    """A v2 (JSON) response as an Answer: its codes are those in errors[]/warnings[]."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return answer_of(pc, response, body, bodies.v2_codes(body))


def rows(answer: Answer) -> list[dict]:
    """The data[] entries of a v2 answer that are objects."""
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def first_row(answer: Answer) -> dict:
    found = rows(answer)
    return found[0] if found else {}


# --- evidence and failure messages ------------------------------------------------------------

def note(pc: RunState, text: str) -> None:
    """A line of evidence in the scenario's own words (expected, received, balances)."""
    pc.evidence.append({"kind": "note", "text": text})


def mark_decisive(*answers: Answer | None, check: dict[str, Any] | None = None,
                  message: str = "") -> None:
    """Mark the exchanges of ``answers`` as the ones that decided a failure (the report opens
    them and collapses the rest).

    ``check`` says how the answer was judged, as data (``refused_check``): it goes next to the
    mark as ``decided`` with the failure's ``message``, so that `replay` can send the call again
    and judge the new answer by the same rule. Without it the answer is marked decisive only.
    """
    for item in answers:
        if item is None or item.evidence is None:
            continue
        item.evidence["decisive"] = True
        if check is not None:
            item.evidence["decided"] = {**check, "message": message}


def expect(condition: bool, expected: str, received: str, *,
           answer: Answer | None = None, check: dict[str, Any] | None = None,
           **balances: int | None) -> None:
    """Fail with what was expected, what came back and the balances, when ``condition`` is false.

    ``answer`` is the answer the condition judged: its exchange is marked decisive, and with
    ``check`` (how the condition judged it) also ``decided``.
    """
    if condition:
        return
    lines = [f"expected: {expected}", f"received: {received}"]
    lines += [f"{name.replace('_', ' ')}: {value}" for name, value in balances.items()]
    message = "\n".join(lines)
    mark_decisive(answer, check=check, message=message)
    raise AssertionError(message)


def received(answer: Answer) -> str:
    """How an answer reads in a failure message: its code(s) and HTTP status."""
    codes = ", ".join(str(code) for code in answer.codes) or "none"
    return f"code {codes} (HTTP {answer.status})"


def refused_with_code(answer: Answer, accepted: Collection[int], *,
                      http_4xx: bool = False) -> bool:
    """Whether the answer carries one of the accepted codes (or, if allowed, a 4xx but 401)."""
    if any(code in accepted for code in answer.codes):
        return True
    return http_4xx and 400 <= answer.status < 500 and answer.status != 401


def expect_refused(what: str, answer: Answer, accepted: Collection[int], *,
                   http_4xx: bool = False, code: str | None = None,
                   **balances: int | None) -> None:
    """Fail unless ``what`` was refused with an accepted code (or a 4xx when allowed).

    ``code`` says what the validation code of a redemption was (CODE_FRESH, CODE_AS_SENT), so
    that `replay` knows whether it may get a new one; a redemption whose code is not described
    is not replayed (its answer depended on codes issued earlier in the scenario).
    """
    wanted = " or ".join(str(c) for c in accepted)
    if http_4xx:
        wanted += " or an HTTP 4xx other than 401"
    expect(refused_with_code(answer, accepted, http_4xx=http_4xx),
           f"{what} refused with {wanted}", f"{what}: {received(answer)}", answer=answer,
           check=refused_check(accepted, http_4xx=http_4xx, code=code), **balances)


REFUSED = "refused with a documented code"
# A redemption's validation code: issued for this very call (a new one does as well) ...
CODE_FRESH = "fresh"
# ... or one that no issuance made valid (a placeholder): it can be sent again as it was.
CODE_AS_SENT = "as sent"


def refused_check(accepted: Collection[int], *, http_4xx: bool = False, code: str | None = None,
                  **more: Any) -> dict[str, Any]:
    """How ``expect_refused`` judges an answer, as data (the ``decided`` mark's check)."""
    check = {"check": REFUSED, "accepted": sorted(accepted), "http_4xx": http_4xx, **more}
    if code is not None:
        check["validation_code"] = code
    return check


def catalog_codes(req_id: str) -> tuple[int, ...]:
    """Every code the requirement catalog accepts for ``req_id`` (alternatives included)."""
    return catalog.requirement(req_id).codes


# --- customers and balances -------------------------------------------------------------------

def identifier(pc: RunState, role: str):
    customer = pc.profile.customers.get(role)
    if customer is None:
        pytest.skip(f"the profile names no customer for the role {role!r}")
    return customer


def balance(pc: RunState, role: str) -> int | None:
    """The customer's balance through the profile's balance source, or None."""
    return pc.balances.get(identifier(pc, role))


def require_balance(pc: RunState, role: str) -> int:
    value = balance(pc, role)
    if value is None:
        pytest.skip("the profile has no balance hook (balance.url), so balances cannot be observed")
    return value


def observed_balance(pc: RunState, role: str) -> int | None:
    """The balance when a hook can tell it; otherwise None and a note that says so."""
    value = balance(pc, role)
    text = (f"the profile has no balance hook, so the {role} customer's balance could not be "
            "observed; judged by the codes only")
    if value is None and not any(item.get("text") == text for item in pc.evidence):
        note(pc, text)
    return value


def expect_unchanged(before: int | None, after: int | None) -> None:
    """Fail when an observed balance moved (nothing to check when it could not be observed)."""
    if before is None or after is None:
        return
    expect(after == before, f"balance unchanged at {before}", f"balance {after}",
           balance_before=before, balance_after=after)


# --- amounts derived from the profile's program rules -----------------------------------------

def points_multiple(pc: RunState) -> int:
    """The program's points multiple, at least 1 (1 when every whole amount is a multiple).

    Also the small amount scenarios transfer, reverse in part or ask as goodwill.
    """
    return max(pc.profile.program.points_multiple, 1)


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` (taken as at least 1) that is at least ``value``."""
    multiple = max(multiple, 1)
    return -(-value // multiple) * multiple


def valid_amount(pc: RunState) -> int:
    """The smallest amount every program rule accepts: a multiple, at least the minimum."""
    program = pc.profile.program
    amount = program.smallest_amount
    if amount > program.max_redeem:
        pytest.skip(f"no multiple of {points_multiple(pc)} lies between min_redeem "
                    f"{program.min_redeem} and max_redeem {program.max_redeem}")
    return amount


# --- the run's budget and the mutation guard --------------------------------------------------

def afford(pc: RunState, points: int, what: str) -> None:
    """Skip, with the reason, when the run's budget can no longer cover ``points``."""
    if points > pc.budget.remaining:
        pytest.skip(f"{what} may redeem {points} points but only {pc.budget.remaining} of the "
                    f"run's budget of {pc.budget.max_points} remain (budget.max_points)")


def mutates(test: Callable[P, R]) -> Callable[P, R]:
    """Skip, with the reason, a scenario (or fixture) whose calls the mutation guard refuses."""
    @functools.wraps(test)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        pc = kwargs.get("pc")
        # Skip before any call, so that no half-run scenario leaves codes issued or hooks asked.
        if pc is not None and not pc.client.mutations_allowed:
            pytest.skip(MUTATIONS_REFUSED)
        try:
            return test(*args, **kwargs)
        except MutationRefused:
            pytest.skip(MUTATIONS_REFUSED)
    return wrapper
