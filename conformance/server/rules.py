"""Business rules of redemptions, transfers and reversals, each an ordered table.

The first broken rule gives the refusal code, so an input that breaks exactly one rule gets
that rule's code whatever the order (DC-14). Each rule's name is also a fault switch: a
server started with ``faults={"redeem.balance"}`` skips that rule, which lets the suite's own
tests prove that it notices a target breaking it. ``FAULTS`` adds the behavioural switches of
switches.py, which are bugs other than a rule left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from conformance.server.ledger import Account, Customer, Group, Redemption
from conformance.server.seed import Program
from conformance.server.switches import BEHAVIOURS


@dataclass(frozen=True, slots=True)
class Refusal:
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    code: int
    message: str  # str.format()ted with the case's program as {p}
    broken: Callable[..., bool]
    faultable: bool = True  # False where skipping the rule would leave nothing to check


def first_refusal(rules: Iterable[Rule], case: object, faults: frozenset[str]) -> Refusal | None:
    """The refusal of the first rule ``case`` breaks, skipping rules switched off by faults."""
    for rule in rules:
        if rule.name not in faults and rule.broken(case):
            return Refusal(rule.code, rule.message.format(p=getattr(case, "program", None)))
    return None


# --- redemption (isredeemable, redeem) ------------------------------------------------------

@dataclass
class RedemptionCase:
    program: Program
    wellformed: bool
    customer: Customer | None
    points: int
    balance_of: Callable[[Account], int]
    time_ok: bool = True

    @cached_property
    def balance(self) -> int:
        # Read only when the cheaper rules pass: isredeemable is the hot path.
        assert self.customer is not None
        return self.balance_of(self.customer.account)


IDENTITY_RULES: tuple[Rule, ...] = (
    Rule("redeem.identifier", 802, "Mobile number/email id/external id you have entered is invalid",
         lambda c: not c.wellformed, faultable=False),
    Rule("redeem.customer", 816, "Unable to find customer in this organization",
         lambda c: c.customer is None, faultable=False),
)

REDEMPTION_RULES: tuple[Rule, ...] = IDENTITY_RULES + (
    Rule("redeem.enrolled", 686,
         "User is from a campaign and not enrolled in the loyalty program",
         lambda c: not c.customer.enrolled),
    Rule("redeem.fraud", 809, "Unable to process. Customer is marked as fraud",
         lambda c: c.customer.fraud),
    Rule("redeem.points-positive", 801, "Points you are trying to redeem are invalid",
         lambda c: c.points <= 0),
    Rule("redeem.multiple", 807,
         "Unable to redeem. The points must be a multiple of {p.points_multiple}",
         lambda c: c.points % c.program.points_multiple != 0),
    Rule("redeem.minimum", 821,
         "Points you are trying to redeem are less than the minimum redemption limit"
         " ({p.min_redeem})",
         lambda c: c.points < c.program.min_redeem),
    Rule("redeem.maximum", 819,
         "Points you are trying to redeem are more than the maximum allowed redemption limit"
         " ({p.max_redeem})",
         lambda c: c.points > c.program.max_redeem),
    Rule("redeem.balance", 818,
         "Points you are trying to redeem are more than the available points",
         lambda c: c.points > c.balance),
    Rule("redeem.time", 859, "The redemption time you have passed is invalid",
         lambda c: not c.time_ok),
)


# --- transfers (customer and group) ---------------------------------------------------------

Party = Customer | Group


@dataclass
class TransferCase:
    program: Program
    source: Party | None
    destination: Party | None
    points: int
    balance_of: Callable[[Account], int]
    actor_allowed: bool = True  # transferredBy may move the source's points (group transfers)
    limits: bool = False  # the program's multiple, minimum and maximum apply (customer transfers)

    @cached_property
    def balance(self) -> int:
        assert self.source is not None
        return self.balance_of(self.source.account)


def _fraud(party: Party | None) -> bool:
    return isinstance(party, Customer) and party.fraud


TRANSFER_RULES: tuple[Rule, ...] = (
    Rule("transfer.customer", 816, "Unable to find customer in this organization",
         lambda c: c.source is None or c.destination is None, faultable=False),
    Rule("transfer.same-party", 418, "From and To customers are same",
         lambda c: c.source.account == c.destination.account),
    Rule("transfer.source-fraud", 415,
         "Source customer status is fraud; points cannot be transferred by them",
         lambda c: _fraud(c.source)),
    Rule("transfer.destination-fraud", 414,
         "Destination customer status is fraud; points cannot be transferred to them",
         lambda c: _fraud(c.destination)),
    Rule("transfer.enrolled", 686,
         "User is from a campaign and not enrolled in the loyalty program",
         lambda c: isinstance(c.source, Customer) and not c.source.enrolled),
    # Who may move a group's points: members of the source group (or the source customer).
    Rule("transfer.actor", 904, "Invalid customer details passed: transferredBy may not move"
         " these points", lambda c: not c.actor_allowed),
    Rule("transfer.points-positive", 801, "Points you are trying to transfer are invalid",
         lambda c: c.points <= 0),
    # The program's redemption limits hold for customer transfers too (the transfer API lists
    # their codes); group transfers move a group's pool and keep none. They judge positive
    # amounts only: 0 and below are the rule above's to refuse.
    Rule("transfer.multiple", 807,
         "Unable to transfer. The points must be a multiple of {p.points_multiple}",
         lambda c: c.limits and c.points > 0 and c.points % c.program.points_multiple != 0),
    Rule("transfer.minimum", 821,
         "Points you are trying to transfer are less than the minimum allowed ({p.min_redeem})",
         lambda c: c.limits and 0 < c.points < c.program.min_redeem),
    Rule("transfer.maximum", 819,
         "Points you are trying to transfer are more than the maximum allowed in one"
         " transaction ({p.max_redeem})",
         lambda c: c.limits and c.points > c.program.max_redeem),
    Rule("transfer.balance", 818, "Points you are trying to transfer are more than the available"
         " points", lambda c: c.points > c.balance),
)


# --- reversals ------------------------------------------------------------------------------

@dataclass
class ReversalCase:
    program: Program
    redemption: Redemption | None
    owner_matches: bool
    requested: int | None  # None: the remainder
    reversed_of: Callable[[int], int]

    @cached_property
    def remaining(self) -> int:
        assert self.redemption is not None
        return self.redemption.points - self.reversed_of(self.redemption.id)

    @property
    def points(self) -> int:
        return self.remaining if self.requested is None else self.requested


REVERSAL_RULES: tuple[Rule, ...] = (
    Rule("reverse.enabled", 905, "Points redemption reversal is disabled for the org",
         lambda c: not c.program.reversal_enabled),
    Rule("reverse.known", 902, "Redemption ID does not exist",
         lambda c: c.redemption is None, faultable=False),
    Rule("reverse.owner", 904, "Invalid customer details passed: the identifier does not own"
         " this redemption", lambda c: not c.owner_matches),
    Rule("reverse.not-reversed", 812, "The points have been reverted already for this redemption",
         lambda c: c.remaining <= 0),
    Rule("reverse.within-remaining", 810, "Mismatch in points for revert API call: more than"
         " the redemption has left", lambda c: c.points > c.remaining),
)

RULE_FAULTS: frozenset[str] = frozenset(
    rule.name for rule in (*REDEMPTION_RULES, *TRANSFER_RULES, *REVERSAL_RULES) if rule.faultable)
FAULTS: frozenset[str] = RULE_FAULTS | BEHAVIOURS


def check_faults(faults: Iterable[str]) -> frozenset[str]:
    """The fault switches as a set; an unknown name is a ValueError naming the known ones."""
    chosen = frozenset(faults)
    unknown = chosen - FAULTS
    if unknown:
        raise ValueError(f"unknown fault switch(es) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(FAULTS))}")
    return chosen
