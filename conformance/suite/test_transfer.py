"""Transfer (points v2): points move between customers and groups, conserved, with a code.

A transfer moves real points and the run's undo log cannot reverse it, so every scenario that
makes one gives the points back with a transfer the other way and moves only one
points_multiple (booked against budget.max_points both ways).
"""

from __future__ import annotations

import pytest

from conformance.suite.steps import transfer
from conformance.suite.steps.common import (
    balance,
    expect,
    first_row,
    mutates,
    note,
    points_multiple,
    require_balance,
    round_up,
    rows,
)
from conformance.target import bodies

OVER_BALANCE_CODES = {804, 818, 803}


def _balances(pc, *roles: str) -> dict[str, int | None]:
    """The roles' balances (None each without a balance hook), named for expect()."""
    return {role: balance(pc, role) for role in roles}


def _shown(before: dict[str, int | None], after: dict[str, int | None]) -> dict[str, int | None]:
    shown: dict[str, int | None] = {}
    for role in before:
        shown[f"{role}_before"], shown[f"{role}_after"] = before[role], after[role]
    return shown


def _expect_unchanged(pc, before: dict[str, int | None], after: dict[str, int | None]) -> None:
    if all(value is None for value in before.values()):
        note(pc, "the profile has no balance hook: the balances were not observed")
        return
    expect(before == after, "every balance unchanged",
           ", ".join(f"{role} {before[role]} -> {after[role]}" for role in before),
           **_shown(before, after))


def _source_code(pc, source: str, points: int) -> tuple[str, set[int]]:
    """A code issued to ``source`` for a transfer it may make, and the extra codes that allows.

    When no genuine code can be had (no OTP source, or the target issues none), a wrong one is
    sent, and a target may judge the code before the rule under test (DC-14): 808 is accepted.
    """
    code = transfer.transfer_code(pc, source, "receiver" if source != "receiver" else "spender",
                                  points, required=False)
    if code is not None:
        return code, set()
    note(pc, f"no transfer code could be had for {source}: a wrong one is sent, and 808 (wrong "
             "code) is accepted besides the rule's own code")
    return transfer.wrong_transfer_code(None), {808}


def _refused_with(pc, answer, codes: set[int], what: str, before, after) -> None:
    expect(bool(codes & set(answer.codes)),
           f"{what} refused with code {' or '.join(str(c) for c in sorted(codes))}",
           transfer.describe(answer), **_shown(before, after))


@pytest.mark.requirement("TRF-01")
def test_transfer_check_confirms_and_sends_a_code(pc):
    why = transfer.otp_unavailable(pc)
    if why is not None:
        pytest.skip(f"{why}, so the code sent to the source cannot be observed")
    points = points_multiple(pc)
    check = transfer.transfer_check(pc, "spender", "receiver", points, issue_otp=True)
    expect(transfer.transferrable(check), f"transferrable true for {points} spender -> "
           "receiver, no errors", transfer.describe(check))
    code = transfer.issued_code(pc, "spender", "transfer")
    expect(bool(code), "an active transfer code for the spender from the OTP source",
           "no active transfer code")


@pytest.mark.requirement("TRF-02")
@mutates
def test_transfer_moves_exactly_the_points(pc):
    points = points_multiple(pc)
    before = {"spender": require_balance(pc, "spender"),
              "receiver": require_balance(pc, "receiver")}
    code = transfer.transfer_code(pc, "spender", "receiver", points)
    answer = transfer.transfer(pc, "spender", "receiver", points, code)
    after = _balances(pc, "spender", "receiver")
    note(pc, f"transferred {points} points (one points_multiple) spender -> receiver; the "
             "points are given back below")
    if transfer.transferred(answer):
        transfer.transfer_back(pc, "spender", "receiver", points)
    shown = _shown(before, after)
    row = first_row(answer)
    expect(transfer.transferred(answer), "a transfer record with a transferId, no errors",
           transfer.describe(answer), **shown)
    moved = bodies.as_int(row.get("pointsTransferred"))
    expect(moved == points, f"pointsTransferred {points}",
           f"pointsTransferred {row.get('pointsTransferred')!r}", **shown)
    expect(after["spender"] == before["spender"] - points
           and after["receiver"] == before["receiver"] + points,
           f"spender {before['spender']} - {points}, receiver {before['receiver']} + {points}",
           f"spender {after['spender']}, receiver {after['receiver']}", **shown)


@pytest.mark.requirement("TRF-03")
@mutates
def test_transfer_with_a_wrong_code_is_refused(pc):
    points = points_multiple(pc)
    before = _balances(pc, "spender", "receiver")
    # A code is active (issued just now), so the refusal can only be about its value.
    real = transfer.transfer_code(pc, "spender", "receiver", points, required=False)
    wrong = transfer.wrong_transfer_code(real)
    answer = transfer.transfer(pc, "spender", "receiver", points, wrong)
    after = _balances(pc, "spender", "receiver")
    if transfer.transferred(answer):
        transfer.transfer_back(pc, "spender", "receiver", points)
    expect(transfer.refused_in_any_form(answer) and not transfer.transferred(answer),
           "refused (a code in errors[]/warnings[] or a 4xx), no transfer record",
           transfer.describe(answer), **_shown(before, after))
    _expect_unchanged(pc, before, after)


def _parties_are_refused(pc, source: str, destination: str, code: int) -> None:
    """Both the check and the transfer between these parties answer ``code``; nothing moves."""
    points = points_multiple(pc)
    parties = (source,) if source == destination else (source, destination)
    before = _balances(pc, *parties)
    check = transfer.transfer_check(pc, source, destination, points)
    _refused_with(pc, check, {code}, f"isTransferrable {source} -> {destination}", before,
                  before)
    # A code issued to the source, so that only the parties break a rule (a conformant target
    # issues none to a fraud source: then it is a wrong code, and 808 is accepted too).
    otp, also = _source_code(pc, source, points)
    answer = transfer.transfer(pc, source, destination, points, otp)
    after = _balances(pc, *parties)
    if source != destination and transfer.transferred(answer):
        transfer.transfer_back(pc, source, destination, points)
    _refused_with(pc, answer, {code} | also, f"transfer {source} -> {destination}", before,
                  after)
    _expect_unchanged(pc, before, after)


@pytest.mark.requirement("TRF-04")
@mutates
def test_transfer_to_oneself_is_refused(pc):
    _parties_are_refused(pc, "spender", "spender", 418)


@pytest.mark.requirement("TRF-05")
@mutates
def test_transfer_from_a_fraud_customer_is_refused(pc):
    _parties_are_refused(pc, "fraud", "receiver", 415)


@pytest.mark.requirement("TRF-05")
@mutates
def test_transfer_to_a_fraud_customer_is_refused(pc):
    _parties_are_refused(pc, "spender", "fraud", 414)


@pytest.mark.requirement("TRF-06")
@mutates
def test_transfer_of_more_than_the_balance_is_refused(pc):
    multiple = points_multiple(pc)
    held = balance(pc, "low_balance")
    if held is None:
        # The profile promises min_redeem <= balance < max_redeem for this role.
        amount = round_up(pc.profile.program.max_redeem, multiple)
        note(pc, f"no balance hook: {amount} exceeds the low_balance customer's balance only "
                 "by the profile's promise (balance < max_redeem)")
    else:
        amount = round_up(max(held, 0) + 1, multiple)
    before = _balances(pc, "low_balance", "receiver")
    check = transfer.transfer_check(pc, "low_balance", "receiver", amount)
    _refused_with(pc, check, OVER_BALANCE_CODES,
                  f"isTransferrable of {amount} from a balance of {held}", before, before)
    # A code for an amount the customer holds, so that only the amount breaks a rule.
    code, also = _source_code(pc, "low_balance", multiple)
    answer = transfer.transfer(pc, "low_balance", "receiver", amount, code)
    after = _balances(pc, "low_balance", "receiver")
    if transfer.transferred(answer):
        transfer.transfer_back(pc, "low_balance", "receiver", amount)
    _refused_with(pc, answer, OVER_BALANCE_CODES | also,
                  f"transfer of {amount} from a balance of {held}", before, after)
    _expect_unchanged(pc, before, after)


@pytest.mark.requirement("TRF-07")
@mutates
def test_transfer_history_lists_the_transfer(pc):
    points = points_multiple(pc)
    code = transfer.transfer_code(pc, "spender", "receiver", points)
    made = transfer.transfer(pc, "spender", "receiver", points, code)
    if not transfer.transferred(made):
        pytest.fail(f"could not make a transfer to look for: {transfer.describe(made)}")
    transfer_id = first_row(made).get("transferId")
    listed = transfer.history(pc, "spender")
    transfer.transfer_back(pc, "spender", "receiver", points)
    matches = [row for row in rows(listed)
               if str(row.get("transferId")) == str(transfer_id)]
    expect(bool(matches), f"transferId {transfer_id} among the spender's transfers",
           f"HTTP {listed.status}, codes {listed.codes}, transferIds "
           f"{[row.get('transferId') for row in rows(listed)][:20]}")
    listed_points = bodies.as_int(matches[0].get("pointsTransferred"))
    expect(listed_points == points, f"pointsTransferred {points} for transferId {transfer_id}",
           f"pointsTransferred {matches[0].get('pointsTransferred')!r}")


@pytest.mark.requirement("TRF-08")
@mutates
def test_group_transfer_moves_points_to_a_customer(pc):
    group_id = transfer.source_group(pc)
    points = points_multiple(pc)
    customer_before = require_balance(pc, "spender")
    group_before = transfer.group_balance(pc, group_id)
    # The spender both receives and makes the transfer: the reference seed makes it the group's
    # primary member, and the profile names no other member.
    check = transfer.group_check(pc, group_id, "spender", points)
    shown = {"customer_before": customer_before, "group_before": group_before}
    expect(transfer.transferrable(check), f"transferrable true for {points} group {group_id} "
           "-> spender", transfer.describe(check), **shown)
    group = transfer.group_entity(group_id)
    customer = transfer.entity(pc, "spender")
    answer = transfer.group_transfer(pc, group, customer, "spender", points,
                                     f"group transfer {points} group {group_id} -> spender")
    customer_after = require_balance(pc, "spender")
    group_after = transfer.group_balance(pc, group_id)
    shown.update(customer_after=customer_after, group_after=group_after)
    if transfer.transferred(answer):
        back = transfer.group_transfer(pc, customer, group, "spender", points,
                                       f"give back {points} spender -> group {group_id}")
        if not transfer.transferred(back):
            pc.collector.undone(f"group transfer of {points} points group {group_id} -> "
                                f"spender: not given back: {transfer.describe(back)}")
    expect(transfer.transferred(answer), "a transfer record with a transferId, no errors",
           transfer.describe(answer), **shown)
    moved = bodies.as_int(first_row(answer).get("pointsTransferred"))
    expect(moved == points, f"pointsTransferred {points}", f"pointsTransferred {moved}", **shown)
    expect(customer_after == customer_before + points,
           f"customer balance {customer_before} + {points}", f"customer balance "
           f"{customer_after}", **shown)
    if group_before is None or group_after is None:
        note(pc, "the balance hook does not report group balances: only the customer side "
                 "was judged")
        return
    expect(group_after == group_before - points, f"group balance {group_before} - {points}",
           f"group balance {group_after}", **shown)
