"""Validation codes (OTP) over HTTP: issuance, reuse within validity, expiry, single use."""

from __future__ import annotations

from conformance.server.otp import ALPHABET, LENGTH

from .support import CUSTOMERS, MOBILE, Api, code_block, item_code, redeemable, redeemed

SPENDER = MOBILE["spender"]
VALIDITY_S = 900


def _redeem(api: Api, code: str, points: int = 100) -> dict:
    return redeemed(api.redeem({"mobile": SPENDER, "points_redeemed": points,
                                "validation_code": code}))


def test_validationcode_issues_a_code_to_a_registered_customer(api: Api) -> None:
    response = api.validationcode(mobile=SPENDER, points=100)
    block = code_block(response)
    assert response.status_code == 200
    assert block["item_status"] == {"success": "true", "code": 200,
                                    "message": "Validation Code Issued by SMS/Email"}
    assert block["user_id"] == CUSTOMERS["spender"]["user_id"] and block["points"] == 100
    code = api.otp(mobile=SPENDER)
    assert len(code) == LENGTH and set(code) <= set(ALPHABET)
    assert code not in response.text  # the code goes to the customer, never in the response


def test_same_code_within_validity(api: Api) -> None:
    api.validationcode(mobile=SPENDER, points=100)
    first = api.otp(mobile=SPENDER)
    api.advance_clock(VALIDITY_S - 10)
    api.validationcode(external_id=CUSTOMERS["spender"]["external_id"], points=200)
    assert api.otp(mobile=SPENDER) == first


def test_expired_code_is_refused_and_a_new_one_differs(api: Api) -> None:
    old = api.redeem_code(SPENDER)
    api.advance_clock(VALIDITY_S + 1)
    assert api.otp(mobile=SPENDER) is None
    before = api.balance(mobile=SPENDER)
    assert item_code(_redeem(api, old)) == 808
    assert api.balance(mobile=SPENDER) == before
    assert api.redeem_code(SPENDER) != old


def test_wrong_code_is_808_and_leaves_the_balance(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    wrong = "A" * LENGTH if code != "A" * LENGTH else "B" * LENGTH
    before = api.balance(mobile=SPENDER)
    response = api.redeem({"mobile": SPENDER, "points_redeemed": 100, "validation_code": wrong})
    assert (response.status_code, item_code(redeemed(response))) == (200, 808)
    assert api.balance(mobile=SPENDER) == before


def test_code_is_single_use(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    assert item_code(_redeem(api, code)) == 800
    assert api.otp(mobile=SPENDER) is None
    after_first = api.balance(mobile=SPENDER)
    assert item_code(_redeem(api, code)) == 808
    assert api.balance(mobile=SPENDER) == after_first


def test_code_of_another_customer_is_refused(api: Api) -> None:
    other = api.redeem_code(MOBILE["receiver"])
    api.redeem_code(SPENDER)
    if other != api.otp(mobile=SPENDER):
        assert item_code(_redeem(api, other)) == 808


def test_code_is_case_insensitive(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    assert item_code(_redeem(api, code.lower())) == 800


def test_isredeemable_issue_otp_issues_a_code_redeem_accepts(api: Api) -> None:
    assert api.otp(mobile=SPENDER) is None
    block = redeemable(api.isredeemable(mobile=SPENDER, points=100, issue_otp="true"))
    assert item_code(block) == 800
    code = api.otp(mobile=SPENDER)
    assert item_code(_redeem(api, code)) == 800


def test_isredeemable_issues_no_code_when_refused(api: Api) -> None:
    api.isredeemable(mobile=SPENDER, points=105, issue_otp="true")
    assert api.otp(mobile=SPENDER) is None


def test_redeem_without_a_code_is_824(api: Api) -> None:
    response = api.redeem({"mobile": SPENDER, "points_redeemed": 100})
    assert (response.status_code, item_code(redeemed(response))) == (400, 824)


def test_skipping_validation_is_off_unless_seed_data_allows(api: Api) -> None:
    response = api.redeem({"mobile": SPENDER, "points_redeemed": 100},
                          params={"skip_validation": "true", "validation_type": "INVALID"})
    assert item_code(redeemed(response)) == 824


def test_redeem_and_transfer_codes_are_separate(api: Api) -> None:
    transfer = api.transfer_code(SPENDER, MOBILE["receiver"], 100)
    assert api.otp(mobile=SPENDER) is None  # no redeem code was issued
    if transfer != api.redeem_code(SPENDER):
        assert item_code(_redeem(api, transfer)) == 808
