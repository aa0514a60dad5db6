"""Reversal (points v2): giving back redeemed points, exactly once."""

from __future__ import annotations

import pytest

from conformance.suite import plugin
from conformance.suite.steps import common
from conformance.suite.steps import redemption as rdm
from conformance.target import bodies, spending

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
    part = common.points_multiple(pc)
    return part if part < points else max(points // 2, 1)


@pytest.fixture
@common.mutates
def redemption(pc):
    """A fresh redemption of the program's minimum by the spender, for a reversal to act on."""
    _require_reversal(pc)
    points = pc.profile.program.min_redeem
    answer = rdm.redeem_with_fresh_code(pc, "spender", points)
    if answer.code != 800:
        pytest.fail(f"could not make a redemption to reverse: code {answer.code}")
    return rdm.redemption_id(answer), points


@pytest.mark.requirement("REV-01")
def test_reversal_restores_exactly_the_reversed_points(pc, redemption):
    redemption_id, points = redemption
    before = common.require_balance(pc, "spender")
    answer = rdm.reverse(pc, "spender", redemption_id, points)
    after = common.require_balance(pc, "spender")
    body = answer.body if isinstance(answer.body, dict) else {}
    common.expect(not bodies.v2_refused(body), "no errors[]", f"codes {answer.codes}",
                  balance_before=before, balance_after=after)
    reversed_points = bodies.as_int(body.get("pointsReversed"))
    common.expect(reversed_points == points, f"pointsReversed {points}",
                  f"pointsReversed {body.get('pointsReversed')!r}")
    common.expect(body.get("reversalId") not in (None, ""), "a non-empty reversalId",
                  repr(body.get("reversalId")))
    common.expect(after == before + points, f"balance {before} + {points} = {before + points}",
                  f"balance {after}", balance_before=before, balance_after=after)


@pytest.mark.requirement("REV-02")
def test_second_reversal_is_refused(pc, redemption):
    redemption_id, points = redemption
    first = rdm.reverse(pc, "spender", redemption_id, points)
    if bodies.v2_refused(first.body):
        pytest.fail(f"the first reversal was refused (codes {first.codes}); cannot test a second")
    before = common.require_balance(pc, "spender")
    second = rdm.reverse(pc, "spender", redemption_id, points)
    after = common.require_balance(pc, "spender")
    common.expect(812 in second.codes, "code 812 (already reversed)", f"codes {second.codes}",
                  balance_before=before, balance_after=after, answer=second)
    common.expect_unchanged(before, after)


@pytest.mark.requirement("REV-03")
@common.mutates
def test_reversing_more_than_was_redeemed_is_refused(pc, redemption):
    redemption_id, points = redemption
    before = common.balance(pc, "spender")
    over = rdm.reverse(pc, "spender", redemption_id, points + common.points_multiple(pc))
    after = common.balance(pc, "spender")
    common.expect(810 in over.codes, f"code 810 for {points + common.points_multiple(pc)} of a "
                  f"{points}-point redemption", f"HTTP {over.status}, codes {over.codes}",
                  balance_before=before, balance_after=after, answer=over)
    common.expect_unchanged(before, after)
    # The same rule once part is given back: the full amount is now more than remains.
    part = _part(pc, points)
    first = rdm.reverse(pc, "spender", redemption_id, part)
    if bodies.v2_refused(first.body) or first.status >= 400:
        common.note(pc, f"a partial reversal of {part} was refused (codes {first.codes}); the "
                        "'more than remains' case was not tried")
        return
    before = common.balance(pc, "spender")
    rest = rdm.reverse(pc, "spender", redemption_id, points)
    after = common.balance(pc, "spender")
    common.expect(810 in rest.codes, f"code 810 for {points} when {points - part} remain",
                  f"HTTP {rest.status}, codes {rest.codes}", balance_before=before,
                  balance_after=after, answer=rest)
    common.expect_unchanged(before, after)
    if before is None:
        common.note(pc, "the profile has no balance hook: balances were not observed")


@pytest.mark.requirement("REV-04")
@common.mutates
def test_reversing_an_unknown_redemption_is_refused(pc):
    _require_reversal(pc)
    points = pc.profile.program.min_redeem
    before = common.balance(pc, "spender")
    unknown = rdm.reverse(pc, "spender", UNKNOWN_REDEMPTION, points)
    malformed = rdm.reverse(pc, "spender", MALFORMED_REDEMPTION, points)
    after = common.balance(pc, "spender")
    # 902 names an id that does not exist, 901 a malformed one; the catalog accepts either.
    common.expect(bool({901, 902} & set(unknown.codes)),
                  f"code 902 (or 901) for redemption id {UNKNOWN_REDEMPTION}",
                  f"HTTP {unknown.status}, codes {unknown.codes}", balance_before=before,
                  balance_after=after, answer=unknown)
    # A malformed id breaks the strict spec (an integer): a gateway validating requests in
    # front of the service may refuse it with a bare 4xx before the service sees it.
    common.expect(common.refused_with_code(malformed, (901, 902), http_4xx=True),
                  f"code 901 (or 902), or an HTTP 4xx other than 401, for redemption id "
                  f"{MALFORMED_REDEMPTION!r}",
                  f"HTTP {malformed.status}, codes {malformed.codes}", balance_before=before,
                  balance_after=after)
    common.expect_unchanged(before, after)


@pytest.mark.requirement("REV-05")
@common.mutates
def test_only_the_owner_can_reverse(pc, redemption):
    redemption_id, points = redemption
    if spending.reverse_identifier(common.identifier(pc, "receiver")) is None:
        pytest.skip("the profile names the receiver by a key the reversal's identifier cannot "
                    "carry (it takes mobile, email, externalId)")
    spender_before = common.balance(pc, "spender")
    receiver_before = common.balance(pc, "receiver")
    answer = rdm.reverse(pc, "receiver", redemption_id, points)
    spender_after = common.balance(pc, "spender")
    receiver_after = common.balance(pc, "receiver")
    balances = {"spender_before": spender_before, "spender_after": spender_after,
                "receiver_before": receiver_before, "receiver_after": receiver_after}
    common.expect(904 in answer.codes, "code 904 (the identifier does not own the redemption)",
                  f"HTTP {answer.status}, codes {answer.codes}", **balances, answer=answer)
    common.expect(spender_after == spender_before and receiver_after == receiver_before,
                  "both balances unchanged", "a balance moved", **balances)


@pytest.mark.requirement("REV-06")
@common.mutates
def test_partial_reversal_then_the_remainder_restores_the_redemption(pc, redemption):
    redemption_id, points = redemption
    part = _part(pc, points)
    before = common.balance(pc, "spender")
    first = rdm.reverse(pc, "spender", redemption_id, part)
    second = rdm.reverse(pc, "spender", redemption_id, points - part)
    after = common.balance(pc, "spender")
    for answer, amount in ((first, part), (second, points - part)):
        body = answer.body if isinstance(answer.body, dict) else {}
        common.expect(not bodies.v2_refused(body) and answer.status < 400
                      and body.get("reversalId") not in (None, ""),
                      f"a reversal of {amount} with a reversalId, no errors",
                      f"HTTP {answer.status}, codes {answer.codes}, reversalId "
                      f"{body.get('reversalId')!r}", balance_before=before, balance_after=after,
                      answer=answer)
    total = sum(bodies.as_int(a.body.get("pointsReversed")) or 0 for a in (first, second))
    common.expect(total == points, f"pointsReversed {part} + {points - part} = {points}",
                  f"pointsReversed total {total}", balance_before=before, balance_after=after)
    if before is None:
        common.note(pc, "the profile has no balance hook: the restored balance was not observed")
        return
    common.expect(after == before + points, f"balance {before} + {points} = {before + points}",
                  f"balance {after}", balance_before=before, balance_after=after)


@pytest.mark.requirement("REV-07")
@common.mutates
def test_reversal_is_refused_where_the_program_disables_it(pc):
    if pc.profile.program.reversal_enabled:
        plugin.not_applicable("program.reversal_enabled is true in the profile: the program "
                              "allows reversals")
    points = common.valid_amount(pc)
    made = rdm.redeem_with_fresh_code(pc, "spender", points)
    if made.code != 800:
        pytest.fail(f"could not make a redemption to reverse: code {made.code}")
    common.note(pc, f"the program disables reversals: this redemption of {points} points cannot "
                    "be given back, and the report lists it as not undone")
    before = common.balance(pc, "spender")
    answer = rdm.reverse(pc, "spender", rdm.redemption_id(made), points)
    after = common.balance(pc, "spender")
    body = answer.body if isinstance(answer.body, dict) else {}
    common.expect(905 in answer.codes, "code 905 (reversal disabled for the program), in "
                  "errors[] or warnings[]", f"HTTP {answer.status}, codes {answer.codes}",
                  balance_before=before, balance_after=after, answer=answer)
    credited = body.get("reversalId") not in (None, "") and not bodies.v2_refused(body)
    common.expect(not credited, "no reversal made (no reversalId)",
                  f"reversalId {body.get('reversalId')!r}, pointsReversed "
                  f"{body.get('pointsReversed')!r}", balance_before=before, balance_after=after)
    common.expect_unchanged(before, after)
