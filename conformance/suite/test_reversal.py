"""Reversal (points v2): giving back redeemed points, exactly once."""

from __future__ import annotations

import pytest

from conformance.suite import plugin, steps, steps_v2
from conformance.target import spending

# A redemption id no target can hold (2**53 - 1 stays exact in every JSON parser), and one that
# cannot be an id at all.
UNKNOWN_REDEMPTION = 9007199254740991
MALFORMED_REDEMPTION = "not-an-id!"
# Profile keys the reversal body's identifier can carry (mobile, email, externalId).


def _require_reversal(pc) -> None:
    if not pc.profile.program.reversal_enabled:
        plugin.not_applicable("program.reversal_enabled is false in the profile")


def _part(pc, points: int) -> int:
    """A first partial reversal that leaves something: one points_multiple, or half."""
    part = steps_v2.small_points(pc)
    return part if part < points else max(points // 2, 1)


@pytest.fixture
@steps_v2.mutates
def redemption(pc):
    """A fresh redemption of the program's minimum by the spender, for a reversal to act on."""
    _require_reversal(pc)
    points = pc.profile.program.min_redeem
    answer = steps.redeem_with_fresh_code(pc, "spender", points)
    if answer.code != 800:
        pytest.fail(f"could not make a redemption to reverse: code {answer.code}")
    return steps.redemption_id(answer), points


@pytest.mark.requirement("REV-01")
def test_reversal_restores_exactly_the_reversed_points(pc, redemption):
    redemption_id, points = redemption
    before = steps.require_balance(pc, "spender")
    answer = steps.reverse(pc, "spender", redemption_id, points)
    after = steps.require_balance(pc, "spender")
    body = answer.body if isinstance(answer.body, dict) else {}
    steps.expect(not steps.bodies.v2_refused(body), "no errors[]", f"codes {answer.codes}",
                 balance_before=before, balance_after=after)
    reversed_points = steps.bodies.as_int(body.get("pointsReversed"))
    steps.expect(reversed_points == points, f"pointsReversed {points}",
                 f"pointsReversed {body.get('pointsReversed')!r}")
    steps.expect(body.get("reversalId") not in (None, ""), "a non-empty reversalId",
                 repr(body.get("reversalId")))
    steps.expect(after == before + points, f"balance {before} + {points} = {before + points}",
                 f"balance {after}", balance_before=before, balance_after=after)


@pytest.mark.requirement("REV-02")
def test_second_reversal_is_refused(pc, redemption):
    redemption_id, points = redemption
    first = steps.reverse(pc, "spender", redemption_id, points)
    if steps.bodies.v2_refused(first.body):
        pytest.fail(f"the first reversal was refused (codes {first.codes}); cannot test a second")
    before = steps.require_balance(pc, "spender")
    second = steps.reverse(pc, "spender", redemption_id, points)
    after = steps.require_balance(pc, "spender")
    steps.expect(812 in second.codes, "code 812 (already reversed)", f"codes {second.codes}",
                 balance_before=before, balance_after=after)
    steps.expect_unchanged(before, after)


@pytest.mark.requirement("REV-03")
@steps_v2.mutates
def test_reversing_more_than_was_redeemed_is_refused(pc, redemption):
    redemption_id, points = redemption
    before = steps.balance(pc, "spender")
    over = steps.reverse(pc, "spender", redemption_id, points + steps_v2.small_points(pc))
    after = steps.balance(pc, "spender")
    steps.expect(810 in over.codes, f"code 810 for {points + steps_v2.small_points(pc)} of a "
                 f"{points}-point redemption", f"HTTP {over.status}, codes {over.codes}",
                 balance_before=before, balance_after=after)
    steps.expect_unchanged(before, after)
    # The same rule once part is given back: the full amount is now more than remains.
    part = _part(pc, points)
    first = steps.reverse(pc, "spender", redemption_id, part)
    if steps.bodies.v2_refused(first.body) or first.status >= 400:
        steps.note(pc, f"a partial reversal of {part} was refused (codes {first.codes}); the "
                       "'more than remains' case was not tried")
        return
    before = steps.balance(pc, "spender")
    rest = steps.reverse(pc, "spender", redemption_id, points)
    after = steps.balance(pc, "spender")
    steps.expect(810 in rest.codes, f"code 810 for {points} when {points - part} remain",
                 f"HTTP {rest.status}, codes {rest.codes}", balance_before=before,
                 balance_after=after)
    steps.expect_unchanged(before, after)
    if before is None:
        steps.note(pc, "the profile has no balance hook: balances were not observed")


@pytest.mark.requirement("REV-04")
@steps_v2.mutates
def test_reversing_an_unknown_redemption_is_refused(pc):
    _require_reversal(pc)
    points = pc.profile.program.min_redeem
    before = steps.balance(pc, "spender")
    unknown = steps.reverse(pc, "spender", UNKNOWN_REDEMPTION, points)
    malformed = steps.reverse(pc, "spender", MALFORMED_REDEMPTION, points)
    after = steps.balance(pc, "spender")
    # 902 names an id that does not exist, 901 a malformed one; the catalog accepts either.
    steps.expect(bool({901, 902} & set(unknown.codes)),
                 f"code 902 (or 901) for redemption id {UNKNOWN_REDEMPTION}",
                 f"HTTP {unknown.status}, codes {unknown.codes}", balance_before=before,
                 balance_after=after)
    # A malformed id breaks the strict spec (an integer): a gateway validating requests in
    # front of the service may refuse it with a bare 4xx before the service sees it.
    steps.expect(steps.refused(malformed, (901, 902), http_4xx=True),
                 f"code 901 (or 902), or an HTTP 4xx other than 401, for redemption id "
                 f"{MALFORMED_REDEMPTION!r}",
                 f"HTTP {malformed.status}, codes {malformed.codes}", balance_before=before,
                 balance_after=after)
    steps.expect_unchanged(before, after)


@pytest.mark.requirement("REV-05")
@steps_v2.mutates
def test_only_the_owner_can_reverse(pc, redemption):
    redemption_id, points = redemption
    if spending.reverse_identifier(steps.identifier(pc, "receiver")) is None:
        pytest.skip("the profile names the receiver by a key the reversal's identifier cannot "
                    "carry (it takes mobile, email, externalId)")
    spender_before = steps.balance(pc, "spender")
    receiver_before = steps.balance(pc, "receiver")
    answer = steps.reverse(pc, "receiver", redemption_id, points)
    spender_after = steps.balance(pc, "spender")
    receiver_after = steps.balance(pc, "receiver")
    balances = {"spender_before": spender_before, "spender_after": spender_after,
                "receiver_before": receiver_before, "receiver_after": receiver_after}
    steps.expect(904 in answer.codes, "code 904 (the identifier does not own the redemption)",
                 f"HTTP {answer.status}, codes {answer.codes}", **balances)
    steps.expect(spender_after == spender_before and receiver_after == receiver_before,
                 "both balances unchanged", "a balance moved", **balances)


@pytest.mark.requirement("REV-06")
@steps_v2.mutates
def test_partial_reversal_then_the_remainder_restores_the_redemption(pc, redemption):
    redemption_id, points = redemption
    part = _part(pc, points)
    before = steps.balance(pc, "spender")
    first = steps.reverse(pc, "spender", redemption_id, part)
    second = steps.reverse(pc, "spender", redemption_id, points - part)
    after = steps.balance(pc, "spender")
    for answer, amount in ((first, part), (second, points - part)):
        body = answer.body if isinstance(answer.body, dict) else {}
        steps.expect(not steps.bodies.v2_refused(body) and answer.status < 400
                     and body.get("reversalId") not in (None, ""),
                     f"a reversal of {amount} with a reversalId, no errors",
                     f"HTTP {answer.status}, codes {answer.codes}, reversalId "
                     f"{body.get('reversalId')!r}", balance_before=before, balance_after=after)
    total = sum(steps.bodies.as_int(a.body.get("pointsReversed")) or 0 for a in (first, second))
    steps.expect(total == points, f"pointsReversed {part} + {points - part} = {points}",
                 f"pointsReversed total {total}", balance_before=before, balance_after=after)
    if before is None:
        steps.note(pc, "the profile has no balance hook: the restored balance was not observed")
        return
    steps.expect(after == before + points, f"balance {before} + {points} = {before + points}",
                 f"balance {after}", balance_before=before, balance_after=after)
