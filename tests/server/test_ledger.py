"""The ledger: balances are sums of entries, changes are atomic, data survives restarts, and
no sequence of redemptions, reversals and transfers creates or loses points."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from conformance.server import RunningServer, run_in_thread
from conformance.server.ledger import Account, Ledger

from .conftest import seed_with
from .support import (
    CUSTOMERS,
    GROUP_ID,
    MOBILE,
    SEED,
    Api,
    entity,
    error_codes,
    group_body,
    item_code,
    redeemed,
    transfer_body,
)

# --- the store itself -------------------------------------------------------------------------

@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    store = Ledger(str(tmp_path / "ledger.sqlite3"))
    with store.transaction():
        store.add_customer(1, {"mobile": "4470001"}, "A", "B", fraud=False, enrolled=True)
        store.add_entry(Account("customer", 1), "opening", 500, "seed", "t0")
    yield store
    store.close()


def test_balance_is_the_sum_of_entries(ledger: Ledger) -> None:
    account = Account("customer", 1)
    with ledger.transaction():
        redemption_id = ledger.add_redemption(1, 120, "", "", "", "", "", at="t1")
        ledger.add_reversal(ledger.redemption(redemption_id), 20, at="t2")
    assert ledger.balance(account) == 500 - 120 + 20
    assert ledger.outstanding_redeemed() == 100
    assert ledger.total_points() == 400


def test_a_failed_change_leaves_nothing_behind(ledger: Ledger) -> None:
    with pytest.raises(ZeroDivisionError):
        with ledger.transaction():
            ledger.add_redemption(1, 120, "", "", "", "", "", at="t1")
            raise ZeroDivisionError
    assert ledger.balance(Account("customer", 1)) == 500
    assert ledger.redemption(1) is None


def test_changes_only_inside_a_transaction(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError):
        ledger.add_entry(Account("customer", 1), "opening", 5, "x", "t")
    with ledger.transaction(), pytest.raises(RuntimeError):
        with ledger.transaction():
            pass


def test_entries_are_checked_by_the_database(ledger: Ledger) -> None:
    import sqlite3
    with pytest.raises(sqlite3.IntegrityError), ledger.transaction():
        ledger.add_entry(Account("customer", 1), "gift", 5, "x", "t")


def test_lookups_of_numbers_sqlite_cannot_hold_find_nothing(ledger: Ledger) -> None:
    assert ledger.customer(2**64) is None and ledger.redemption(-(2**70)) is None
    assert ledger.find_group("id", 2**80) is None


# --- restarts ---------------------------------------------------------------------------------

def test_data_survives_a_restart(start: Callable[..., RunningServer], tmp_path: Path) -> None:
    db = tmp_path / "reference.sqlite3"
    first = start(db=db)
    api = Api(first.base_url)
    block = api.redeem_points(MOBILE["spender"], 400)
    first.stop()

    # Seed data that differs must not be applied again to a database that has data.
    changed = seed_with()
    changed["customers"]["spender"]["balance"] = 1
    second = start(db=db, seed_data=changed)
    api = Api(second.base_url)
    assert api.balance(mobile=MOBILE["spender"]) == CUSTOMERS["spender"]["balance"] - 400
    reversal = api.reverse({"redemptionId": block["redemption_id"]})
    assert reversal.json()["pointsReversed"] == 400
    assert api.balance(mobile=MOBILE["spender"]) == CUSTOMERS["spender"]["balance"]
    again = api.redeem_points(MOBILE["spender"], 100)
    assert again["redemption_id"] > block["redemption_id"]


# --- conservation -----------------------------------------------------------------------------

ROLES = tuple(CUSTOMERS)
GROUP = "group"


class LedgerMachine(RuleBasedStateMachine):
    """Random redemptions, reversals and transfers against a model of every balance."""

    redemptions = Bundle("redemptions")

    def __init__(self) -> None:
        super().__init__()
        # A fresh ledger per example: a replayed example must meet the same state.
        self.server = run_in_thread()
        self.api = Api(self.server.base_url)
        self.balances = {role: self.api.balance(mobile=MOBILE[role]) for role in ROLES}
        self.balances[GROUP] = self.api.balance(group_id=GROUP_ID)
        self.remaining: dict[int, tuple[str, int]] = {}
        self.total = sum(self.balances.values())

    def _redeemable(self, role: str, points: int) -> bool:
        c, program = CUSTOMERS[role], SEED["program"]
        return (c.get("enrolled", True) and not c.get("fraud", False) and points > 0
                and points % program["points_multiple"] == 0
                and program["min_redeem"] <= points <= program["max_redeem"]
                and points <= self.balances[role])

    @rule(target=redemptions, role=st.sampled_from(ROLES),
          points=st.sampled_from([0, 40, 50, 100, 105, 300, 1000, 1010]))
    def redeem(self, role: str, points: int):
        expected = self._redeemable(role, points)
        self.api.validationcode(mobile=MOBILE[role], points=max(points, 1))
        code = self.api.otp(mobile=MOBILE[role])
        block = redeemed(self.api.redeem({"mobile": MOBILE[role], "points_redeemed": points,
                                          "validation_code": code}))
        assert (item_code(block) == 800) is expected, (role, points, block)
        if not expected:
            return multiple()
        self.balances[role] -= points
        self.remaining[block["redemption_id"]] = (role, points)
        return block["redemption_id"]

    @rule(redemption_id=redemptions, points=st.none() | st.integers(1, 400))
    def reverse(self, redemption_id: int, points: int | None) -> None:
        role, left = self.remaining[redemption_id]
        body = {"redemptionId": redemption_id}
        if points is not None:
            body["pointsToBeReversed"] = points
        response = self.api.reverse(body)
        if left == 0:
            assert error_codes(response) == [812]
        elif points is not None and points > left:
            assert error_codes(response) == [810]
        else:
            reversed_points = response.json()["pointsReversed"]
            assert reversed_points == (left if points is None else points)
            self.balances[role] += reversed_points
            self.remaining[redemption_id] = (role, left - reversed_points)

    @rule(source=st.sampled_from(ROLES), destination=st.sampled_from(ROLES),
          points=st.integers(-10, 3000))
    def transfer(self, source: str, destination: str, points: int) -> None:
        s, d = CUSTOMERS[source], CUSTOMERS[destination]
        expected = (source != destination and not s.get("fraud") and not d.get("fraud")
                    and s.get("enrolled", True) and 0 < points <= self.balances[source]
                    and points % SEED["program"]["points_multiple"] == 0
                    and SEED["program"]["min_redeem"] <= points <= SEED["program"]["max_redeem"])
        check = self.api.post("/v2/points/isTransferrable",
                              transfer_body(MOBILE[source], MOBILE[destination], points,
                                            issueOtp=True)).json()
        assert bool(check["data"]) is expected, (source, destination, points, check)
        code = self.api.otp(purpose="transfer", mobile=MOBILE[source]) or "AAAAAA"
        response = self.api.post("/v2/points/transfer", transfer_body(
            MOBILE[source], MOBILE[destination], points, code=code))
        assert bool(response.json()["data"]) is expected
        if expected:
            self.balances[source] -= points
            self.balances[destination] += points

    @rule(role=st.sampled_from(("spender", "receiver")), to_group=st.booleans(),
          points=st.integers(1, 6000))
    def group_transfer(self, role: str, to_group: bool, points: int) -> None:
        group, customer = entity("USERGROUP2", "id", GROUP_ID), entity("CUSTOMER", "mobile",
                                                                        MOBILE[role])
        source, destination = (role, GROUP) if to_group else (GROUP, role)
        body = group_body(customer if to_group else group, group if to_group else customer,
                          points, MOBILE[role])
        response = self.api.post("/v2/points/userGroup2/transfer", body).json()
        expected = points <= self.balances[source]
        assert bool(response["data"]) is expected, (source, destination, points, response)
        if expected:
            self.balances[source] -= points
            self.balances[destination] += points

    def teardown(self) -> None:
        self.server.request_stop()
        _STOPPING.append(self.server)
        assert self.server.state.internal_errors == 0

    @invariant()
    def points_are_conserved(self) -> None:
        actual = {role: self.api.balance(mobile=MOBILE[role]) for role in ROLES}
        actual[GROUP] = self.api.balance(group_id=GROUP_ID)
        assert actual == self.balances
        assert min(actual.values()) >= 0
        outstanding = sum(left for _, left in self.remaining.values())
        assert sum(actual.values()) + outstanding == self.total


_STOPPING: list[RunningServer] = []


def test_no_sequence_creates_or_loses_points() -> None:
    try:
        run_state_machine_as_test(LedgerMachine, settings=settings(
            max_examples=40, stateful_step_count=8, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        while _STOPPING:
            _STOPPING.pop().stop()
