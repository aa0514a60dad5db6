"""Redemption (points v1.1): the documented rules, judged by the codes in the body."""

from __future__ import annotations

import pytest

from conformance.suite import steps


@pytest.mark.requirement("RDM-02")
def test_redeem_with_a_valid_code_deducts_exactly_the_amount(pc):
    points = pc.profile.program.min_redeem
    before = steps.require_balance(pc, "spender")
    answer = steps.redeem_with_fresh_code(pc, "spender", points)
    after = steps.require_balance(pc, "spender")
    block = steps.outcomes.redeemed_block(answer.body) or {}
    steps.expect(answer.code == 800, "item_status 800", f"code {answer.code}",
                 balance_before=before, balance_after=after)
    steps.expect(steps.redemption_id(answer) not in (None, ""), "a non-empty redemption_id",
                 repr(steps.redemption_id(answer)))
    redeemed = steps.outcomes.as_int(block.get("points_redeemed"))
    steps.expect(redeemed == points, f"points_redeemed {points}", f"points_redeemed {redeemed}")
    steps.expect(after == before - points, f"balance {before} - {points} = {before - points}",
                 f"balance {after}", balance_before=before, balance_after=after)
