"""v2 reversal over HTTP: full, partial, repeated, too large, unknown, foreign, disabled."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.server import RunningServer

from .conftest import seed_with
from .support import CUSTOMERS, MOBILE, Api, error_codes

SPENDER = MOBILE["spender"]


@pytest.fixture
def redemption(api: Api) -> dict:
    return api.redeem_points(SPENDER, 300)


def test_reversal_restores_exactly_the_points(api: Api, redemption: dict) -> None:
    before = api.balance(mobile=SPENDER)
    response = api.reverse({"redemptionId": redemption["redemption_id"], "pointsToBeReversed": 300,
                            "identifier": {"type": "mobile", "value": SPENDER}})
    body = response.json()
    assert response.status_code == 200 and body["errors"] == []
    assert body["pointsReversed"] == 300 and isinstance(body["reversalId"], int)
    assert body["redemptionId"] == redemption["redemption_id"]
    assert body["customerId"] == CUSTOMERS["spender"]["user_id"] and body["orgId"] == 100458
    assert api.balance(mobile=SPENDER) == before + 300


def test_points_default_to_the_remainder(api: Api, redemption: dict) -> None:
    body = api.reverse({"redemptionId": redemption["redemption_id"]}).json()
    assert body["pointsReversed"] == 300 and body["identifier"]["value"] == SPENDER


def test_second_reversal_is_refused_and_credits_nothing(api: Api, redemption: dict) -> None:
    api.reverse({"redemptionId": redemption["redemption_id"]})
    after_first = api.balance(mobile=SPENDER)
    for points in (None, 10):
        body = {"redemptionId": redemption["redemption_id"]}
        if points:
            body["pointsToBeReversed"] = points
        response = api.reverse(body)
        assert (response.status_code, error_codes(response)) == (200, [812])
    assert api.balance(mobile=SPENDER) == after_first


def test_partial_then_remainder(api: Api, redemption: dict) -> None:
    before = api.balance(mobile=SPENDER)
    first = api.reverse({"redemptionId": redemption["redemption_id"], "pointsToBeReversed": 100})
    second = api.reverse({"redemptionId": str(redemption["redemption_id"])})  # digits, DC-07
    assert first.json()["pointsReversed"] == 100 and second.json()["pointsReversed"] == 200
    assert first.json()["reversalId"] != second.json()["reversalId"]
    assert api.balance(mobile=SPENDER) == before + 300


def test_more_than_remains_is_810(api: Api, redemption: dict) -> None:
    api.reverse({"redemptionId": redemption["redemption_id"], "pointsToBeReversed": 250})
    before = api.balance(mobile=SPENDER)
    response = api.reverse({"redemptionId": redemption["redemption_id"], "pointsToBeReversed": 60})
    assert error_codes(response) == [810]
    assert api.balance(mobile=SPENDER) == before


def test_more_than_redeemed_is_810(api: Api, redemption: dict) -> None:
    response = api.reverse({"redemptionId": redemption["redemption_id"], "pointsToBeReversed": 301})
    assert error_codes(response) == [810]


def test_unknown_redemption_is_902(api: Api) -> None:
    for redemption_id in (999999, 2**70):
        response = api.reverse({"redemptionId": redemption_id})
        assert (response.status_code, error_codes(response)) == (200, [902])


@pytest.mark.parametrize("redemption_id", ["r0njPT", "", True, 1.5, {"id": 1}])
def test_malformed_redemption_id_is_901(api: Api, redemption_id: object) -> None:
    response = api.reverse({"redemptionId": redemption_id})
    assert (response.status_code, error_codes(response)) == (400, [901])


@pytest.mark.parametrize("points", [0, -10, 10.5, "ten"])
def test_invalid_points_to_reverse_are_901(api: Api, redemption: dict, points: object) -> None:
    response = api.reverse({"redemptionId": redemption["redemption_id"],
                            "pointsToBeReversed": points})
    assert (response.status_code, error_codes(response)) == (400, [901])


@pytest.mark.parametrize("identifier", [
    {"type": "mobile", "value": MOBILE["receiver"]},
    {"type": "email", "value": "nobody@example.com"},
    {"type": "externalId", "value": CUSTOMERS["receiver"]["external_id"]},
])
def test_identifier_not_owning_the_redemption_is_904(api: Api, redemption: dict,
                                                     identifier: dict) -> None:
    before = api.balance(mobile=SPENDER)
    response = api.reverse({"redemptionId": redemption["redemption_id"], "identifier": identifier})
    assert error_codes(response) == [904]
    assert api.balance(mobile=SPENDER) == before


def test_capitalised_identifier_of_the_table_is_read(api: Api, redemption: dict) -> None:
    foreign = {"type": "email", "value": CUSTOMERS["receiver"]["email"]}
    response = api.reverse({"redemptionId": redemption["redemption_id"], "Identifier": foreign})
    assert error_codes(response) == [904]


def test_reversal_disabled_is_905(start: Callable[..., RunningServer]) -> None:
    api = Api(start(seed_data=seed_with(reversal_enabled=False)).base_url)
    block = api.redeem_points(SPENDER, 100)
    before = api.balance(mobile=SPENDER)
    assert error_codes(api.reverse({"redemptionId": block["redemption_id"]})) == [905]
    assert api.balance(mobile=SPENDER) == before
