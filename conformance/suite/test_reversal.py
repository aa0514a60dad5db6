"""Reversal (points v2): giving back redeemed points, exactly once."""

from __future__ import annotations

import pytest

from conformance.suite import steps


@pytest.fixture
def redemption(pc):
    """A fresh redemption of the program's minimum by the spender, for a reversal to act on."""
    if not pc.profile.program.reversal_enabled:
        pytest.skip("program.reversal_enabled is false in the profile")
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
    steps.expect(not steps.outcomes.v2_refused(body), "no errors[]", f"codes {answer.codes}",
                 balance_before=before, balance_after=after)
    reversed_points = steps.outcomes.as_int(body.get("pointsReversed"))
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
    if steps.outcomes.v2_refused(first.body):
        pytest.fail(f"the first reversal was refused (codes {first.codes}); cannot test a second")
    before = steps.require_balance(pc, "spender")
    second = steps.reverse(pc, "spender", redemption_id, points)
    after = steps.require_balance(pc, "spender")
    steps.expect(812 in second.codes, "code 812 (already reversed)", f"codes {second.codes}",
                 balance_before=before, balance_after=after)
    steps.expect(after == before, f"balance unchanged at {before}", f"balance {after}",
                 balance_before=before, balance_after=after)
