"""Transfer (points v2): points move between customers and groups, conserved, with a code.

A transfer moves real points and the run's undo log cannot reverse it, so every scenario that
makes one gives the points back with a transfer the other way and moves only the smallest
amount the program's rules accept (booked against budget.max_points both ways).
"""

from __future__ import annotations

import pytest

from conformance.specs import catalog
from conformance.suite import plugin
from conformance.suite.steps import transfer
from conformance.suite.steps.common import (
    afford,
    balance,
    catalog_codes,
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

OVER_BALANCE_CODES = set(catalog_codes("TRF-06"))
# Every documented refusal code (TRF-10 accepts any of them, DC-14).
REFUSAL_CODES = frozenset(entry["code"] for entry in catalog.error_codes()
                          if entry["kind"] != "success")


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
                                  transfer.transfer_amount(pc), required=False)
    if code is not None:
        return code, set()
    note(pc, f"no transfer code could be had for {source}: a wrong one is sent, and 808 (wrong "
             "code) is accepted besides the rule's own code")
    return transfer.wrong_transfer_code(None), {808}


def _refused_with(pc, answer, codes: set[int], what: str, before, after) -> None:
    expect(bool(codes & set(answer.codes)),
           f"{what} refused with code {' or '.join(str(c) for c in sorted(codes))}",
           transfer.describe(answer), **_shown(before, after), answer=answer)


@pytest.mark.requirement("TRF-01")
def test_transfer_check_confirms_and_sends_a_code(pc):
    why = transfer.otp_unavailable(pc)
    if why is not None:
        pytest.skip(f"{why}, so the code sent to the source cannot be observed")
    points = transfer.transfer_amount(pc)
    check = transfer.transfer_check(pc, "spender", "receiver", points, issue_otp=True)
    expect(transfer.transferrable(check), f"transferrable true for {points} spender -> "
           "receiver, no errors", transfer.describe(check), answer=check)
    code = transfer.issued_code(pc, "spender", "transfer")
    expect(bool(code), "an active transfer code for the spender from the OTP source",
           "no active transfer code")


@pytest.mark.requirement("TRF-02")
@mutates
def test_transfer_moves_exactly_the_points(pc):
    points = transfer.transfer_amount(pc)
    before = {"spender": require_balance(pc, "spender"),
              "receiver": require_balance(pc, "receiver")}
    code = transfer.transfer_code(pc, "spender", "receiver", points)
    answer = transfer.transfer(pc, "spender", "receiver", points, code)
    after = _balances(pc, "spender", "receiver")
    note(pc, f"transferred {points} points (the smallest amount the program's rules accept) "
             "spender -> receiver; the points are given back below")
    if transfer.transferred(answer):
        transfer.transfer_back(pc, "spender", "receiver", points)
    shown = _shown(before, after)
    row = first_row(answer)
    expect(transfer.transferred(answer), "a transfer record with a transferId, no errors",
           transfer.describe(answer), **shown, answer=answer)
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
    points = transfer.transfer_amount(pc)
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
           transfer.describe(answer), **_shown(before, after), answer=answer)
    _expect_unchanged(pc, before, after)


def _parties_are_refused(pc, source: str, destination: str, code: int | set[int]) -> None:
    """Both the check and the transfer between these parties answer ``code`` (or one of the
    codes given); nothing moves."""
    codes = {code} if isinstance(code, int) else set(code)
    points = transfer.transfer_amount(pc)
    parties = (source,) if source == destination else (source, destination)
    before = _balances(pc, *parties)
    check = transfer.transfer_check(pc, source, destination, points)
    _refused_with(pc, check, codes, f"isTransferrable {source} -> {destination}", before,
                  before)
    # A code issued to the source, so that only the parties break a rule (a conformant target
    # issues none to a fraud source: then it is a wrong code, and 808 is accepted too).
    otp, also = _source_code(pc, source, points)
    answer = transfer.transfer(pc, source, destination, points, otp)
    after = _balances(pc, *parties)
    if source != destination and transfer.transferred(answer):
        transfer.transfer_back(pc, source, destination, points)
    _refused_with(pc, answer, codes | also, f"transfer {source} -> {destination}", before,
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
    allowed = transfer.transfer_amount(pc)
    held = balance(pc, "low_balance")
    if held is None:
        # The profile promises min_redeem <= balance < max_redeem for this role.
        amount = round_up(pc.profile.program.max_redeem, multiple)
        note(pc, f"no balance hook: {amount} exceeds the low_balance customer's balance only "
                 "by the profile's promise (balance < max_redeem)")
    else:
        # At least the smallest amount the program's limits accept (TRF-11), so that only the
        # balance rule is broken even when earlier scenarios left the customer holding little.
        amount = max(round_up(max(held, 0) + 1, multiple), allowed)
    before = _balances(pc, "low_balance", "receiver")
    check = transfer.transfer_check(pc, "low_balance", "receiver", amount)
    _refused_with(pc, check, OVER_BALANCE_CODES,
                  f"isTransferrable of {amount} from a balance of {held}", before, before)
    # A code for an amount the customer holds, so that only the amount breaks a rule.
    code, also = _source_code(pc, "low_balance", allowed)
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
    points = transfer.transfer_amount(pc)
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
    points = transfer.transfer_amount(pc)
    customer_before = require_balance(pc, "spender")
    group_before = transfer.group_balance(pc, group_id)
    # The spender both receives and makes the transfer: the reference seed makes it the group's
    # primary member, and the profile names no other member.
    check = transfer.group_check(pc, group_id, "spender", points)
    shown = {"customer_before": customer_before, "group_before": group_before}
    expect(transfer.transferrable(check), f"transferrable true for {points} group {group_id} "
           "-> spender", transfer.describe(check), **shown, answer=check)
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
           transfer.describe(answer), **shown, answer=answer)
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


@pytest.mark.requirement("TRF-09")
@mutates
def test_transfer_from_a_customer_not_enrolled_is_refused(pc):
    points = transfer.transfer_amount(pc)
    held = balance(pc, "not_enrolled")
    codes = set(catalog_codes("TRF-09"))
    if held is None or held < points:
        # A campaign-only customer may hold nothing: then the amount breaks the balance rule
        # too, and the documents do not say which rule a target applies first (DC-14).
        codes |= OVER_BALANCE_CODES
        shown = "not observable" if held is None else held
        note(pc, f"the not_enrolled customer's balance is {shown} (a transfer of {points}): 686 "
                 "or a code for too few points is accepted")
    _parties_are_refused(pc, "not_enrolled", "receiver", codes)


def _refused_at_all(answer) -> bool:
    """Refused with a documented refusal code, or an HTTP 4xx other than 401; nothing made."""
    if transfer.transferred(answer):
        return False
    return bool(REFUSAL_CODES & set(answer.codes)) or \
        (400 <= answer.status < 500 and answer.status != 401)


@pytest.mark.requirement("TRF-12")
@mutates
def test_a_customer_outside_the_group_cannot_move_its_points(pc):
    group_id = transfer.source_group(pc)
    if "outsider" not in pc.profile.customers:
        pytest.skip("the profile names no customer outside groups.source (customers.outsider), "
                    "so who may act for the group cannot be tested")
    points = transfer.transfer_amount(pc)
    customer_before = require_balance(pc, "spender")
    group_before = transfer.group_balance(pc, group_id)
    group, customer = transfer.group_entity(group_id), transfer.entity(pc, "spender")
    answer = transfer.group_transfer(
        pc, group, customer, "outsider", points,
        f"group transfer {points} group {group_id} -> spender, acted by the outsider")
    customer_after = require_balance(pc, "spender")
    group_after = transfer.group_balance(pc, group_id)
    shown = {"customer_before": customer_before, "customer_after": customer_after,
             "group_before": group_before, "group_after": group_after}
    if transfer.transferred(answer):  # give it back, acted by the spender, the group's member
        back = transfer.group_transfer(pc, customer, group, "spender", points,
                                       f"give back {points} spender -> group {group_id}")
        if not transfer.transferred(back):
            pc.collector.undone(f"group transfer of {points} points group {group_id} -> "
                                f"spender: not given back: {transfer.describe(back)}")
    expect(_refused_at_all(answer), "refused with a documented refusal code (904 names invalid "
           "customer details) or an HTTP 4xx other than 401, no transfer record",
           transfer.describe(answer), **shown, answer=answer)
    expect(customer_after == customer_before, f"the spender's balance unchanged at "
           f"{customer_before}", f"balance {customer_after}", **shown)
    if group_before is not None and group_after is not None:
        expect(group_after == group_before, f"the group's balance unchanged at {group_before}",
               f"balance {group_after}", **shown)


@pytest.mark.requirement("TRF-10")
@mutates
def test_transfer_of_zero_or_negative_points_is_refused(pc):
    negative = -points_multiple(pc)
    before = _balances(pc, "spender", "receiver")
    wanted = ("refused with a documented refusal code (801 or 901 name an invalid amount) or "
              "an HTTP 4xx other than 401, no transfer record")
    for amount in (0, negative):
        check = transfer.transfer_check(pc, "spender", "receiver", amount)
        expect(_refused_at_all(check) and not transfer.transferrable(check),
               f"isTransferrable of {amount} {wanted}", transfer.describe(check),
               **_shown(before, before), answer=check)
        # A code issued for a valid amount, so that only the amount breaks a rule.
        code, _ = _source_code(pc, "spender", transfer.transfer_amount(pc))
        answer = transfer.transfer(pc, "spender", "receiver", amount, code)
        after = _balances(pc, "spender", "receiver")
        if transfer.transferred(answer) and amount < 0:
            # The points went the other way: the spender gives them back to the receiver.
            transfer.transfer_back(pc, "receiver", "spender", -amount)
        expect(_refused_at_all(answer), f"transfer of {amount} {wanted}",
               transfer.describe(answer), **_shown(before, after), answer=answer)
        _expect_unchanged(pc, before, after)


def _limit_cases(pc) -> list[tuple[int, int, str]]:
    """(amount, code, what it breaks) for each program limit the profile gives a transfer."""
    program, multiple = pc.profile.program, points_multiple(pc)
    valid = transfer.transfer_amount(pc)
    cases = []
    if multiple > 1 and valid + 1 <= program.max_redeem:
        cases.append((valid + 1, 807, f"not a multiple of {multiple}"))
    below = (program.min_redeem - 1) // multiple * multiple
    if below > 0:
        cases.append((below, 821, f"a multiple below the minimum {program.min_redeem}"))
    cases.append((round_up(program.max_redeem + 1, multiple), 819,
                  f"a multiple above the maximum {program.max_redeem}"))
    return cases


@pytest.mark.requirement("TRF-11")
@mutates
def test_transfer_amounts_follow_the_program_limits(pc):
    cases = _limit_cases(pc)
    held = balance(pc, "spender")
    for amount, code, what in list(cases):
        if held is not None and amount > held:
            note(pc, f"{amount} ({what}) is more than the spender holds ({held}): not tried, it "
                     "would break the balance rule too")
            cases.remove((amount, code, what))
    if not cases:
        plugin.not_applicable("the profile's program rules leave no amount a limit refuses "
                              "that the spender holds")
    note(pc, "a target that does not hold transfers to the program's limits fails this SHOULD "
             "(an advisory): the transfer API lists 807, 821 and 819 among its codes")
    for amount, code, what in cases:
        afford(pc, amount, f"TRF-11 ({what})")
        before = _balances(pc, "spender", "receiver")
        check = transfer.transfer_check(pc, "spender", "receiver", amount)
        _refused_with(pc, check, {code}, f"isTransferrable of {amount} ({what})", before, before)
        otp, also = _source_code(pc, "spender", transfer.transfer_amount(pc))
        answer = transfer.transfer(pc, "spender", "receiver", amount, otp)
        after = _balances(pc, "spender", "receiver")
        if transfer.transferred(answer):
            transfer.transfer_back(pc, "spender", "receiver", amount)
        _refused_with(pc, answer, {code} | also, f"transfer of {amount} ({what})", before, after)
        _expect_unchanged(pc, before, after)
