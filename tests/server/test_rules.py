"""The rule tables: their order decides the code of an input that breaks two rules, and each
rule can be switched off by a fault of the same name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.server import FAULTS, RunningServer, ServerConfigError, run_in_thread
from conformance.server.ledger import Customer
from conformance.server.rules import (
    REDEMPTION_RULES,
    REVERSAL_RULES,
    TRANSFER_RULES,
    RedemptionCase,
    TransferCase,
    check_faults,
    first_refusal,
)
from conformance.server.seed import load_seed

from .support import MOBILE, Api, redeemable

PROGRAM = load_seed().program


def _customer(**flags: bool) -> Customer:
    return Customer(1, "447700900001", "", "", "", "", "A", "B", fraud=flags.get("fraud", False),
                    enrolled=flags.get("enrolled", True))


def _case(points: int, balance: int = 10_000, **flags: bool) -> RedemptionCase:
    return RedemptionCase(PROGRAM, True, _customer(**flags), points, lambda account: balance)


def test_redemption_codes_in_their_documented_order() -> None:
    assert [rule.code for rule in REDEMPTION_RULES] == [802, 816, 686, 809, 801, 807, 821, 819,
                                                        818, 859]
    assert [rule.code for rule in TRANSFER_RULES] == [816, 418, 415, 414, 686, 904, 801, 807,
                                                      821, 819, 818]
    assert [rule.code for rule in REVERSAL_RULES] == [905, 902, 904, 812, 810]


@pytest.mark.parametrize(("case", "code"), [
    (_case(105, fraud=True), 809),           # fraud before the amount rules
    (_case(-10, enrolled=False), 686),
    (_case(1005, balance=300), 807),          # not a multiple, above max and above balance
    (_case(1010, balance=300), 819),          # above max and above balance: 819 first
    (_case(40, balance=10), 821),
    (_case(100, balance=100), None),
])
def test_the_first_broken_rule_answers(case: RedemptionCase, code: int | None) -> None:
    refusal = first_refusal(REDEMPTION_RULES, case, frozenset())
    assert (refusal.code if refusal else None) == code


def test_balance_is_read_only_when_the_cheaper_rules_pass() -> None:
    reads = []
    case = RedemptionCase(PROGRAM, True, _customer(), 105, lambda a: reads.append(a) or 0)
    assert first_refusal(REDEMPTION_RULES, case, frozenset()).code == 807
    assert reads == []


def test_messages_name_the_program_limits() -> None:
    refusal = first_refusal(REDEMPTION_RULES, _case(105), frozenset())
    assert "multiple of 10" in refusal.message


def test_a_fault_skips_its_rule_only() -> None:
    faults = check_faults({"redeem.multiple"})
    assert first_refusal(REDEMPTION_RULES, _case(105), faults) is None
    assert first_refusal(REDEMPTION_RULES, _case(40), faults).code == 821


def _transfer(points: int, *, limits: bool = True) -> TransferCase:
    source = _customer()
    destination = Customer(2, "447700900002", "", "", "", "", "C", "D", fraud=False,
                           enrolled=True)
    return TransferCase(PROGRAM, source, destination, points, lambda account: 10_000,
                        limits=limits)


@pytest.mark.parametrize(("points", "code"), [(105, 807), (40, 821), (1010, 819), (0, 801),
                                              (-10, 801), (100, None)])
def test_customer_transfers_keep_the_program_limits(points: int, code: int | None) -> None:
    refusal = first_refusal(TRANSFER_RULES, _transfer(points), frozenset())
    assert (refusal.code if refusal else None) == code
    # Group transfers keep none of them.
    assert first_refusal(TRANSFER_RULES, _transfer(105, limits=False), frozenset()) is None


def test_without_the_positive_rule_zero_passes_the_limits() -> None:
    # transfer.points-positive off: 0 is no amount the limits judge, so nothing refuses it
    # (the bug TRF-10 must notice); a multiple below the minimum is still 821.
    faults = check_faults({"transfer.points-positive"})
    assert first_refusal(TRANSFER_RULES, _transfer(0), faults) is None
    assert first_refusal(TRANSFER_RULES, _transfer(40), faults).code == 821


def test_identity_rules_cannot_be_switched_off() -> None:
    assert {"redeem.identifier", "redeem.customer", "transfer.customer",
            "reverse.known"}.isdisjoint(FAULTS)
    with pytest.raises(ValueError, match="unknown fault"):
        check_faults({"redeem.customer"})


def test_server_with_a_fault_breaks_that_rule(start: Callable[..., RunningServer]) -> None:
    api = Api(start(faults={"redeem.maximum"}).base_url)
    server_answer = redeemable(api.isredeemable(mobile=MOBILE["spender"], points=2000))
    assert server_answer["item_status"]["code"] == 800
    assert redeemable(api.isredeemable(mobile=MOBILE["spender"], points=105))[
        "item_status"]["code"] == 807


def test_unknown_fault_is_refused_by_the_server() -> None:
    with pytest.raises(ServerConfigError, match="unknown fault"):
        run_in_thread(faults={"redeem.everything"})
