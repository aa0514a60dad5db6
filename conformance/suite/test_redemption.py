"""Redemption (points v1.1): the documented rules, judged by the codes in the body."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conformance.suite import plugin
from conformance.suite.steps import common
from conformance.suite.steps import redemption as rdm
from conformance.target import bodies

# The insufficient-points codes RDM-06 accepts; a racing redemption may be refused with these.
LOW_BALANCE_CODES = common.catalog_codes("RDM-06")
RACE_THREADS = 8
RACE_DEADLINE_S = 10.0


def _refused_by_isredeemable_and_redeem(pc, req_id: str, role: str, points: int,
                                        code: str, **item: Any) -> None:
    """isredeemable and redeem both refuse ``points`` with one of ``req_id``'s codes; unchanged."""
    accepted = common.catalog_codes(req_id)
    before = common.observed_balance(pc, role)
    check = rdm.is_redeemable(pc, role, points)
    answer = rdm.redeem(pc, role, points, code, **item)
    after = common.observed_balance(pc, role)
    rdm.reverse_wrongful_redemption(pc, role, answer)
    rdm.expect_not_redeemable(f"isredeemable {points}", check, accepted,
                              balance_before=before, balance_after=after)
    common.expect_refused(f"redeem {points}", answer, accepted, balance_before=before,
                          balance_after=after, code=common.CODE_AS_SENT
                          if code == rdm.PLACEHOLDER_CODE else common.CODE_FRESH)
    common.expect_unchanged(before, after)


def _within_spender_balance(pc, points: int) -> None:
    """Skip when the spender cannot cover ``points``: the amount would break two rules."""
    known = common.balance(pc, "spender")
    if known is not None and points > known:
        pytest.skip(f"the spender's balance {known} is below {points}, so the amount would also "
                    "break the balance rule (DC-14)")


@pytest.mark.requirement("RDM-01")
def test_valid_amount_within_the_balance_is_redeemable(pc):
    points = common.valid_amount(pc)
    _within_spender_balance(pc, points)
    answer = rdm.is_redeemable(pc, "spender", points)
    common.expect(answer.code == 800, f"isredeemable {points}: item_status 800",
                  common.received(answer), answer=answer)
    flag = rdm.redeemable_flag(answer)
    common.expect(flag is True, "is_redeemable true", f"is_redeemable {flag}")


@pytest.mark.requirement("RDM-02")
def test_redeem_with_a_valid_code_deducts_exactly_the_amount(pc):
    points = pc.profile.program.min_redeem
    before = common.require_balance(pc, "spender")
    answer = rdm.redeem_with_fresh_code(pc, "spender", points)
    after = common.require_balance(pc, "spender")
    block = bodies.redeemed_block(answer.body) or {}
    common.expect(answer.code == 800, "item_status 800", f"code {answer.code}",
                  balance_before=before, balance_after=after, answer=answer)
    common.expect(rdm.redemption_id(answer) not in (None, ""), "a non-empty redemption_id",
                  repr(rdm.redemption_id(answer)), answer=answer)
    redeemed = bodies.as_int(block.get("points_redeemed"))
    common.expect(redeemed == points, f"points_redeemed {points}", f"points_redeemed {redeemed}")
    common.expect(after == before - points, f"balance {before} - {points} = {before - points}",
                  f"balance {after}", balance_before=before, balance_after=after)


def _spender_is_refused(pc, req_id: str, points: int) -> None:
    """The spender, holding enough and with a valid code, is refused ``points`` by the rule."""
    _within_spender_balance(pc, points)
    common.afford(pc, points, req_id)
    code = rdm.fresh_code(pc, "spender", points)
    _refused_by_isredeemable_and_redeem(pc, req_id, "spender", points, code)


@pytest.mark.requirement("CON-02", explicit=True)
@pytest.mark.suites("all")  # it feeds the contract's judge: a whole run's, not a part's
def test_the_success_answers_come_in_xml_too(pc):
    """isredeemable, validationcode and redeem succeed once in format=xml.

    The fuzzer's XML answers are nearly all refusals; these success bodies are judged against
    the XSD (and the refusals the scenarios provoke in JSON against the JSON Schema) by the
    run's judge, which records CON-01/CON-02 for every answer. Here only the path is taken.
    """
    points = common.valid_amount(pc)
    _within_spender_balance(pc, points)
    common.afford(pc, points, "CON-02")
    check = rdm.is_redeemable(pc, "spender", points, format="xml")
    issued = rdm.validation_code(pc, "spender", points, fmt="xml")
    answer = rdm.redeem(pc, "spender", points, rdm.otp(pc, "spender"), fmt="xml")
    for what, got in (("isredeemable", check), ("validationcode", issued), ("redeem", answer)):
        common.note(pc, f"{what} in format=xml answered HTTP {got.status}, code {got.code}")


@pytest.mark.requirement("RDM-03")
def test_amount_not_a_multiple_is_refused(pc):
    step, program = common.points_multiple(pc), pc.profile.program
    if step <= 1:
        plugin.not_applicable(f"program.points_multiple is {program.points_multiple}, so "
                              "every whole amount is a multiple")
    # One past a valid amount: within minimum and maximum, so only the multiple rule breaks.
    candidates = itertools.chain([common.round_up(max(program.min_redeem, 1), step) + 1],
                                 range(max(program.min_redeem, 1), program.max_redeem + 1))
    points = next((p for p in candidates if p % step and program.min_redeem <= p
                   <= program.max_redeem), None)
    if points is None:
        pytest.skip(f"no amount between min_redeem {program.min_redeem} and max_redeem "
                    f"{program.max_redeem} breaks the multiple of {step}")
    _spender_is_refused(pc, "RDM-03", points)


@pytest.mark.requirement("RDM-04")
def test_amount_below_the_minimum_is_refused(pc):
    step, program = common.points_multiple(pc), pc.profile.program
    points = (program.min_redeem - 1) // step * step  # the largest multiple below the minimum
    if points < 1:
        pytest.skip(f"no positive multiple of {step} lies below min_redeem {program.min_redeem}")
    _spender_is_refused(pc, "RDM-04", points)


@pytest.mark.requirement("RDM-05")
def test_amount_above_the_maximum_is_refused(pc):
    step, program = common.points_multiple(pc), pc.profile.program
    points = (program.max_redeem // step + 1) * step  # the smallest multiple above the maximum
    known = common.balance(pc, "spender")
    if known is None and points > pc.budget.max_points:
        pytest.skip(f"without a balance hook only the profile's promise (spender holds at least "
                    f"budget.max_points {pc.budget.max_points}) says the spender can cover "
                    f"{points}, and it does not")
    _spender_is_refused(pc, "RDM-05", points)


@pytest.mark.requirement("RDM-06")
def test_amount_above_the_balance_is_refused(pc):
    step, program = common.points_multiple(pc), pc.profile.program
    known = common.balance(pc, "low_balance")
    largest = program.max_redeem // step * step
    if known is None:
        # The profile promises min_redeem <= balance < max_redeem for this role.
        points = largest
        common.note(pc, f"no balance hook: relying on the profile's promise that the low_balance "
                        f"customer holds less than {points}")
    else:
        points = max(common.round_up(known + 1, step), common.round_up(program.min_redeem, step))
    if points > largest or points < program.min_redeem or points <= 0:
        pytest.skip(f"the low_balance customer's balance {known} leaves no multiple of {step} "
                    f"above it within max_redeem {program.max_redeem}")
    common.afford(pc, points, "RDM-06")
    code = rdm.fresh_code(pc, "low_balance", points)
    _refused_by_isredeemable_and_redeem(pc, "RDM-06", "low_balance", points, code)


@pytest.mark.requirement("RDM-07")
def test_fraud_customer_cannot_redeem(pc):
    points = common.valid_amount(pc)
    known = common.balance(pc, "fraud")
    if known is not None and points > known:
        pytest.skip(f"the fraud customer's balance {known} is below {points}, so the amount "
                    "would also break the balance rule (DC-14)")
    common.afford(pc, points, "RDM-07")
    code = rdm.code_if_issued(pc, "fraud", points)
    _refused_by_isredeemable_and_redeem(pc, "RDM-07", "fraud", points, code)


@pytest.mark.requirement("RDM-08")
def test_customer_not_enrolled_cannot_redeem(pc):
    points = common.valid_amount(pc)
    common.afford(pc, points, "RDM-08")
    # A campaign-only customer may hold no loyalty points at all, so the amount may exceed its
    # balance; the catalog still expects the enrolment refusal.
    code = rdm.code_if_issued(pc, "not_enrolled", points)
    _refused_by_isredeemable_and_redeem(pc, "RDM-08", "not_enrolled", points, code)


@pytest.mark.requirement("RDM-09")
def test_unregistered_customer_is_not_found(pc):
    points = common.valid_amount(pc)
    common.afford(pc, points, "RDM-09")
    accepted = common.catalog_codes("RDM-09")
    common.note(pc, "an unregistered customer has no balance to observe and no code to read; "
                    f"redeem is sent with the placeholder {rdm.PLACEHOLDER_CODE!r}")
    issued = rdm.validation_code(pc, "unknown", points)
    check = rdm.is_redeemable(pc, "unknown", points)
    answer = rdm.redeem(pc, "unknown", points, rdm.PLACEHOLDER_CODE)
    common.expect_refused("validationcode", issued, accepted)
    rdm.expect_not_redeemable(f"isredeemable {points}", check, accepted)
    common.expect_refused(f"redeem {points}", answer, accepted, code=common.CODE_AS_SENT)


@pytest.mark.requirement("RDM-10")
def test_zero_or_negative_amounts_are_refused(pc):
    accepted = common.catalog_codes("RDM-10")
    code = rdm.fresh_code(pc, "spender", common.valid_amount(pc))
    before = common.observed_balance(pc, "spender")
    answers = []
    for points in (0, -common.valid_amount(pc)):
        answers.append((f"isredeemable {points}", True, rdm.is_redeemable(pc, "spender", points)))
        answers.append((f"redeem {points}", False, rdm.redeem(pc, "spender", points, code)))
    after = common.observed_balance(pc, "spender")
    for _, is_check, answer in answers:
        if not is_check:
            rdm.reverse_wrongful_redemption(pc, "spender", answer)
    for what, is_check, answer in answers:
        if is_check:
            rdm.expect_not_redeemable(what, answer, accepted, http_4xx=True,
                                      balance_before=before, balance_after=after)
        else:
            common.expect_refused(what, answer, accepted, http_4xx=True, balance_before=before,
                                  balance_after=after, code=common.CODE_FRESH)
    common.expect_unchanged(before, after)


@pytest.mark.requirement("RDM-11")
def test_unparseable_redemption_time_is_refused(pc):
    points = common.valid_amount(pc)
    _within_spender_balance(pc, points)
    accepted = common.catalog_codes("RDM-11")
    # A date that does not exist in the documented shape, then something not in the shape at all.
    times = ("2023-02-30 10:00:00", "yesterday at noon")
    common.afford(pc, points * len(times), "RDM-11")
    before = common.observed_balance(pc, "spender")
    answers = [(when, rdm.redeem(pc, "spender", points, rdm.fresh_code(pc, "spender", points),
                                 redemption_time=when)) for when in times]
    after = common.observed_balance(pc, "spender")
    for _, answer in answers:
        rdm.reverse_wrongful_redemption(pc, "spender", answer)
    for when, answer in answers:
        # An unparseable time breaks the schema: a validating gateway's bare 4xx is a refusal.
        common.expect_refused(f"redeem with redemption_time {when!r}", answer, accepted,
                              http_4xx=True, balance_before=before, balance_after=after,
                              code=common.CODE_FRESH)
    common.expect_unchanged(before, after)


class _Race:
    """The shared books of RDM-12's racing threads: attempts, successes, refusals."""

    def __init__(self, limit: int, threads: int) -> None:
        self.limit = limit  # the most redemptions the balance can pay for
        # Every thread may lose the customer's one code to another (808) before each success:
        # about threads * (limit + 1) attempts drain the balance; twice that again is plenty.
        self.max_attempts = 4 * threads * (limit + 1)
        self.deadline = time.monotonic() + RACE_DEADLINE_S
        self.attempts = 0
        self.successes: list[common.Answer] = []
        self.refusals: Counter[int | None] = Counter()
        self.unexpected: list[str] = []
        self.codes_lost = 0
        self._lock = threading.Lock()

    def next_attempt(self) -> bool:
        """Whether a thread may try again; none starts once the balance is shown overdrawn."""
        with self._lock:
            if (self.unexpected or len(self.successes) > self.limit
                    or self.attempts >= self.max_attempts or time.monotonic() > self.deadline):
                return False
            self.attempts += 1
            return True

    def settle(self, answer: common.Answer) -> bool:
        """Book an answer; whether its thread should go on redeeming."""
        with self._lock:
            if answer.code == 800:
                self.successes.append(answer)
                return True
            self.refusals[answer.code] += 1
            if answer.code == 808:
                return True  # another thread used the customer's code first: get a new one
            if answer.code not in LOW_BALANCE_CODES:
                self.unexpected.append(common.received(answer))
            return False

    @property
    def balance_refusals(self) -> int:
        return sum(self.refusals[code] for code in LOW_BALANCE_CODES)


def _redeem_until_refused(pc, race: _Race, points: int, go: threading.Event) -> list:
    """One racing thread: validationcode, OTP, redeem, again, until the balance refuses."""
    pc.reset_evidence()  # evidence is per thread: hand this thread's back to the test
    go.wait(5)
    while race.next_attempt():
        issued = rdm.validation_code(pc, "low_balance", points)
        if issued.code not in rdm.ISSUED:
            race.settle(issued)
            break
        code = pc.otp.get(common.identifier(pc, "low_balance"), "redeem")
        if not code:
            race.codes_lost += 1  # another thread used it between issue and read: again
            continue
        if not race.settle(rdm.redeem(pc, "low_balance", points, code, book=False)):
            break
    return list(pc.evidence)


@pytest.mark.requirement("RDM-12")
def test_concurrent_redemptions_never_overdraw(pc):
    points = common.valid_amount(pc)
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source (otp)")
    if pc.otp.source == "prompt":
        pytest.skip("otp.source is prompt: racing threads cannot each ask a person for a code")
    before = common.require_balance(pc, "low_balance")
    limit = before // points
    if before < 0:
        pytest.skip(f"the low_balance customer's balance is already negative ({before}) before "
                    "the race, so it cannot show what concurrent redemptions do to it")
    if limit < 1:
        pytest.skip(f"the low_balance customer's balance {before} is below the smallest valid "
                    f"amount {points}, so no redemption could succeed")
    threads = max(2, min(RACE_THREADS, limit + 1))  # together they ask for more than the balance
    # The threads stop starting attempts once more than `limit` succeeded, so at most
    # `limit + threads` can succeed even on a target that overdraws: reserve that up front.
    common.afford(pc, (limit + threads) * points, "RDM-12")
    pc.budget.spend((limit + threads) * points,
                    f"RDM-12: {threads} threads redeeming {points} from low_balance")
    race, go = _Race(limit, threads), threading.Event()
    with ThreadPoolExecutor(threads, thread_name_prefix="rdm-12") as pool:
        futures = [pool.submit(_redeem_until_refused, pc, race, points, go)
                   for _ in range(threads)]
        go.set()
        for future in futures:
            pc.evidence.extend(future.result())
    after = common.require_balance(pc, "low_balance")
    redeemed = [bodies.as_int((bodies.redeemed_block(a.body) or {})
                                .get("points_redeemed")) for a in race.successes]
    redeemed = [points if value is None else value for value in redeemed]
    total = sum(redeemed)
    if pc.profile.program.reversal_enabled:
        # Give the points back now rather than at the end of the run: later scenarios read
        # this customer's balance.
        for answer, value in zip(race.successes, redeemed, strict=True):
            rdm.reverse(pc, "low_balance", rdm.redemption_id(answer), value)
    reported = [bodies.as_int((bodies.redeemed_block(a.body) or {})
                                .get("balance")) for a in race.successes]
    common.note(pc, f"{threads} threads, {race.attempts} attempts of {points}: "
                    f"{len(race.successes)} succeeded ({total} points), refusals by code "
                    f"{dict(race.refusals)}, {race.codes_lost} codes used by another thread "
                    f"before this one read them; balance {before} -> {after}")
    books = {"balance_before": before, "balance_after": after}
    common.expect(after >= 0, "the balance never negative", f"balance {after}", **books)
    negative = [value for value in reported if value is not None and value < 0]
    common.expect(not negative, "no redeem answer reporting a negative balance",
                  f"balances reported {negative}", **books)
    common.expect(len(race.successes) <= limit,
                  f"at most {limit} redemptions of {points} succeed on a balance of {before}",
                  f"{len(race.successes)} succeeded ({total} points)", **books)
    common.expect(before - after == total,
                  f"the balance drops by the {total} points the successful redemptions took",
                  f"it dropped by {before - after}", **books)
    common.expect(not race.unexpected,
                  f"redemptions refused only with {LOW_BALANCE_CODES} once the balance ran out "
                  "(808 when another thread used the code)",
                  "; ".join(race.unexpected), **books)
    if not race.balance_refusals:
        pytest.fail(f"inconclusive: no racing redemption was refused for the balance within "
                    f"{race.attempts} attempts, so together they never exceeded it")
