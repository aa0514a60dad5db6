"""v1.1 redemption over HTTP: isredeemable and redeem, each rule with its documented code."""

from __future__ import annotations

import pytest

from .support import (
    CUSTOMERS,
    MOBILE,
    UNKNOWN_MOBILE,
    Api,
    code_block,
    item_code,
    redeemable,
    redeemed,
)

SPENDER = MOBILE["spender"]

# (identifier params, points) -> code; each input breaks exactly one rule (DC-14).
REFUSALS = [
    pytest.param({"mobile": "not-a-number"}, 100, 802, id="802-malformed-mobile"),
    pytest.param({"email": "no-at-sign"}, 100, 802, id="802-malformed-email"),
    pytest.param({"mobile": UNKNOWN_MOBILE}, 100, 816, id="816-unknown"),
    pytest.param({"mobile": MOBILE["not_enrolled"]}, 100, 686, id="686-not-enrolled"),
    pytest.param({"mobile": MOBILE["fraud"]}, 100, 809, id="809-fraud"),
    pytest.param({"mobile": SPENDER}, 0, 801, id="801-zero"),
    pytest.param({"mobile": SPENDER}, -100, 801, id="801-negative"),
    pytest.param({"mobile": SPENDER}, 105, 807, id="807-not-a-multiple"),
    pytest.param({"mobile": SPENDER}, 40, 821, id="821-below-minimum"),
    pytest.param({"mobile": SPENDER}, 1010, 819, id="819-above-maximum"),
    pytest.param({"mobile": MOBILE["low_balance"]}, 400, 818, id="818-above-balance"),
]


def test_redeemable_amount_is_reported_redeemable(api: Api) -> None:
    response = api.isredeemable(mobile=SPENDER, points=100, program_id=504)
    assert response.status_code == 200
    block = redeemable(response)
    assert block["is_redeemable"] is True
    assert item_code(block) == 800
    assert block["points"] == 100
    assert response.json()["response"]["status"] == {
        "success": "true", "code": 200, "message": "SUCCESS"}


@pytest.mark.parametrize("identifier", ["mobile", "email", "external_id", "card_number",
                                        "card_external_id", "user_id"])
def test_every_identifier_names_the_customer(api: Api, identifier: str) -> None:
    value = CUSTOMERS["spender"][identifier]
    block = redeemable(api.isredeemable(**{identifier: value}, points=100))
    assert item_code(block) == 800
    assert block["mobile"] == SPENDER


@pytest.mark.parametrize(("identifier", "points", "code"), REFUSALS)
def test_isredeemable_refusal_codes(api: Api, identifier: dict, points: int, code: int) -> None:
    response = api.isredeemable(**identifier, points=points)
    assert response.status_code == 200  # a business refusal of a valid request
    block = redeemable(response)
    assert (item_code(block), block["is_redeemable"]) == (code, False)
    assert block["item_status"]["success"] == "false"
    assert response.json()["response"]["status"]["success"] == "false"


@pytest.mark.parametrize(("identifier", "points", "code"), REFUSALS)
def test_redeem_refusal_codes_leave_the_balance(api: Api, identifier: dict, points: int,
                                                code: int) -> None:
    known = identifier.get("mobile") in MOBILE.values()
    before = api.balance(**identifier) if known else None
    item = {**identifier, "points_redeemed": points, "validation_code": "AAAAAA"}
    response = api.redeem(item)
    assert response.status_code == 200
    assert item_code(redeemed(response)) == code
    if known:
        assert api.balance(**identifier) == before


def test_redeem_with_a_valid_code_deducts_exactly_the_points(api: Api) -> None:
    before = api.balance(mobile=SPENDER)
    block = api.redeem_points(SPENDER, 250)
    assert isinstance(block["redemption_id"], int)
    assert block["points_redeemed"] == 250
    assert block["balance"] == before - 250 == api.balance(mobile=SPENDER)
    effect = block["side_effects"]["effect"][0]
    assert effect["num_points"] == 250 and effect["id"] == block["redemption_id"]


def test_redeem_accepts_the_samples_customer_object_and_string_numbers(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    item = {"points_redeemed": "100",
            "customer": {"mobile": SPENDER, "external_id": "", "email": "", "card_number": ""},
            "redemption_time": "2020-03-13 18:02:34", "transaction_number": "red123",
            "external_reference_number": "toms12d", "till_id": "", "notes": "by SMS",
            "validation_code": code, "group_redemption": "false"}
    block = redeemed(api.redeem(item, params={"validation_type": "SMS", "program_id": 504}))
    assert item_code(block) == 800
    assert block["side_effects"]["effect"][0]["redeemed_on_bill_number"] == "red123"


def test_redeem_by_email_in_the_customer_object(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    item = {"points_redeemed": 100, "customer": {"email": CUSTOMERS["spender"]["email"]},
            "validation_code": code}
    assert item_code(redeemed(api.redeem(item))) == 800


def test_redeem_table_time_separator_is_accepted(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    item = {"mobile": SPENDER, "points_redeemed": 100, "validation_code": code,
            "redemption_time": "2020-03-13 18-02-34"}
    assert item_code(redeemed(api.redeem(item))) == 800


@pytest.mark.parametrize("when", ["2020-13-45 18:02:34", "2020-02-30 10:00:00",
                                  "2020-03-13 25:61:00"])
def test_impossible_redemption_time_is_859(api: Api, when: str) -> None:
    code = api.redeem_code(SPENDER)
    before = api.balance(mobile=SPENDER)
    item = {"mobile": SPENDER, "points_redeemed": 100, "validation_code": code,
            "redemption_time": when}
    response = api.redeem(item)
    assert (response.status_code, item_code(redeemed(response))) == (200, 859)
    assert api.balance(mobile=SPENDER) == before


def test_unparsable_redemption_time_is_859(api: Api) -> None:
    item = {"mobile": SPENDER, "points_redeemed": 100, "validation_code": "AAAAAA",
            "redemption_time": "yesterday"}
    response = api.redeem(item)
    assert (response.status_code, item_code(redeemed(response))) == (400, 859)


def test_rules_run_before_the_code_check(api: Api) -> None:
    # A scenario checking 807 on redeem may hold no valid code; it must still see 807.
    item = {"mobile": SPENDER, "points_redeemed": 105, "validation_code": "WRONG1"}
    assert item_code(redeemed(api.redeem(item))) == 807


def test_low_balance_can_redeem_what_it_has(api: Api) -> None:
    block = api.redeem_points(MOBILE["low_balance"], 300)
    assert block["balance"] == 0
    assert item_code(redeemable(api.isredeemable(mobile=MOBILE["low_balance"], points=50))) == 818


def test_validationcode_refuses_unknown_and_malformed(api: Api) -> None:
    unknown = api.validationcode(mobile=UNKNOWN_MOBILE, points=100)
    malformed = api.validationcode(email="nobody", points=100)
    assert (unknown.status_code, item_code(code_block(unknown))) == (200, 816)
    assert (malformed.status_code, item_code(code_block(malformed))) == (200, 802)
