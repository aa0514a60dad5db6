"""Validation codes (points v1.1): issued, stable within validity, single use, expiring."""

from __future__ import annotations

import time

import pytest

from conformance.suite.steps import common
from conformance.suite.steps import redemption as rdm


def _require_observable_codes(pc, why: str) -> None:
    """Skip when every read of the OTP source gives the same configured code."""
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source (otp)")
    if pc.otp.source == "fixed":
        pytest.skip(f"otp.source is fixed: the suite reads one configured code, so it cannot "
                    f"tell {why}")


def _redeems(pc, role: str, points: int, code: str, what: str) -> None:
    """Redeem with ``code``; fail unless it succeeds and the balance drops by ``points``."""
    before = common.observed_balance(pc, role)
    answer = rdm.redeem(pc, role, points, code)
    after = common.observed_balance(pc, role)
    common.expect(answer.code == 800, f"redeem with {what}: item_status 800",
                  common.received(answer), balance_before=before, balance_after=after,
                  answer=answer)
    if before is not None and after is not None:
        common.expect(after == before - points, f"balance {before} - {points} = {before - points}",
                      f"balance {after}", balance_before=before, balance_after=after)


def _expire_active_code(pc, role: str) -> None:
    """Let a code an earlier call left active expire, so that it cannot pass for a new one."""
    # A prompt would ask a person, and a fixed code is always "active".
    if pc.otp is None or pc.otp.source not in ("hook", "command"):
        if pc.otp is not None and pc.otp.source == "fixed":
            common.note(pc, "otp.source is fixed, so this run cannot tell a newly issued code "
                            "from the configured one")
        return
    if not pc.otp.get(common.identifier(pc, role), "redeem"):
        return
    if pc.clock.available:
        pc.clock.advance(pc.profile.program.otp_validity_s + 1)
    else:
        common.note(pc, f"a code was already active for {role} and there is no clock hook to "
                        "expire it, so this run cannot tell that a new one was issued")


@pytest.mark.requirement("OTP-01")
def test_registered_customer_receives_a_validation_code(pc):
    points = common.valid_amount(pc)
    _expire_active_code(pc, "spender")
    answer = rdm.validation_code(pc, "spender", points)
    accepted = common.catalog_codes("OTP-01")
    common.expect(answer.code in accepted,
                  f"validationcode: item_status {' or '.join(map(str, accepted))}",
                  common.received(answer), answer=answer)
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source (otp), so the delivered code cannot "
                    "be read")
    code = pc.otp.get(common.identifier(pc, "spender"), "redeem")
    common.expect(bool(code), "the OTP source yields the delivered code", f"code {code!r}")


@pytest.mark.requirement("OTP-02")
def test_repeated_request_within_validity_returns_the_same_code(pc):
    _require_observable_codes(pc, "whether the target issued the same code again")
    points = common.valid_amount(pc)
    common.afford(pc, points, "OTP-02")
    first = rdm.fresh_code(pc, "spender", points)
    second = rdm.fresh_code(pc, "spender", points)
    common.expect(second == first, "the second validationcode delivers the same code",
                  "a different code")
    _redeems(pc, "spender", points, second, "the repeated code")


@pytest.mark.requirement("OTP-03")
def test_wrong_validation_code_is_refused(pc):
    points = common.valid_amount(pc)
    common.afford(pc, points, "OTP-03")
    issued = rdm.fresh_code(pc, "spender", points)  # a code is active: ours is just not it
    before = common.observed_balance(pc, "spender")
    answer = rdm.redeem(pc, "spender", points, rdm.wrong_validation_code(issued))
    after = common.observed_balance(pc, "spender")
    rdm.reverse_wrongful_redemption(pc, "spender", answer)
    common.expect_refused("redeem with a wrong code", answer, common.catalog_codes("OTP-03"),
                          balance_before=before, balance_after=after)
    common.expect_unchanged(before, after)


@pytest.mark.requirement("OTP-04")
def test_used_validation_code_is_refused(pc):
    _require_observable_codes(pc, "a used code from a reusable one")
    points = common.valid_amount(pc)
    common.afford(pc, 2 * points, "OTP-04")
    code = rdm.fresh_code(pc, "spender", points)
    first = rdm.redeem(pc, "spender", points, code)
    if first.code != 800:
        pytest.fail(f"the first redemption with a fresh code was refused ({common.received(first)})"
                    "; cannot use the code a second time")
    before = common.observed_balance(pc, "spender")
    second = rdm.redeem(pc, "spender", points, code)
    after = common.observed_balance(pc, "spender")
    rdm.reverse_wrongful_redemption(pc, "spender", second)
    common.expect_refused("a second redeem with the used code", second,
                          common.catalog_codes("OTP-04"), balance_before=before,
                          balance_after=after)
    common.expect_unchanged(before, after)


def _let_codes_expire(pc) -> None:
    """Move past otp_validity_s: the clock hook if there is one, else wait if --max-wait allows."""
    validity = pc.profile.program.otp_validity_s
    if pc.clock.advance(validity + 1):
        return
    if validity + 1 > pc.options["max_wait"]:
        pytest.skip(f"the profile has no clock hook and codes stay valid for {validity} s, "
                    f"longer than --max-wait {pc.options['max_wait']:g} s")
    common.note(pc, f"no clock hook: waiting {validity + 1} s for the code to expire")
    time.sleep(validity + 1)


@pytest.mark.requirement("OTP-05")
def test_expired_validation_code_is_refused_and_replaced(pc):
    _require_observable_codes(pc, "whether a code expired or a new one was issued")
    points = common.valid_amount(pc)
    common.afford(pc, points, "OTP-05")
    old = rdm.fresh_code(pc, "spender", points)
    _let_codes_expire(pc)
    before = common.observed_balance(pc, "spender")
    answer = rdm.redeem(pc, "spender", points, old)
    after = common.observed_balance(pc, "spender")
    rdm.reverse_wrongful_redemption(pc, "spender", answer)
    common.expect_refused("redeem with the expired code", answer, common.catalog_codes("OTP-05"),
                          balance_before=before, balance_after=after)
    common.expect_unchanged(before, after)
    new = rdm.fresh_code(pc, "spender", points)
    common.expect(new != old, "validationcode after expiry delivers a different code",
                  "the expired code again")


@pytest.mark.requirement("OTP-06")
def test_isredeemable_with_issue_otp_issues_a_usable_code(pc):
    if pc.otp is None:
        pytest.skip("the profile configures no OTP source (otp)")
    points = common.valid_amount(pc)
    common.afford(pc, points, "OTP-06")
    spender = common.identifier(pc, "spender")
    _expire_active_code(pc, "spender")  # it must not pass for the one issue_otp should issue
    check = rdm.is_redeemable(pc, "spender", points, issue_otp="true")
    common.expect(check.code == 800 and rdm.redeemable_flag(check) is True,
                  f"isredeemable {points} with issue_otp: item_status 800, is_redeemable true",
                  f"{common.received(check)}, is_redeemable {rdm.redeemable_flag(check)}",
                  answer=check)
    code = pc.otp.get(spender, "redeem")
    common.expect(bool(code), "isredeemable with issue_otp delivers a code",
                  "no active code in the OTP source")
    _redeems(pc, "spender", points, code, "the code isredeemable issued")


@pytest.mark.requirement("OTP-07")
def test_redeem_without_validation_code_is_refused(pc):
    points = common.valid_amount(pc)
    common.afford(pc, points, "OTP-07")
    # With a code active, a target cannot excuse the missing one as "none was issued".
    rdm.fresh_code(pc, "spender", points)
    before = common.observed_balance(pc, "spender")
    answer = rdm.redeem(pc, "spender", points, None)
    after = common.observed_balance(pc, "spender")
    rdm.reverse_wrongful_redemption(pc, "spender", answer)
    # The request breaks the schema itself: a validating gateway's bare 4xx is a refusal too.
    common.expect_refused("redeem without validation_code", answer, common.catalog_codes("OTP-07"),
                          http_4xx=True, balance_before=before, balance_after=after)
    common.expect_unchanged(before, after)
