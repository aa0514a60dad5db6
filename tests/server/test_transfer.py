"""v2 transfers over HTTP: checks, codes, customer and group transfers, history."""

from __future__ import annotations

import pytest

from .support import (
    CUSTOMERS,
    GROUP_ID,
    MOBILE,
    UNKNOWN_MOBILE,
    Api,
    entity,
    error_codes,
    group_body,
    transfer_body,
)

SPENDER, RECEIVER = MOBILE["spender"], MOBILE["receiver"]
GROUP = entity("USERGROUP2", "id", GROUP_ID)


def test_transferrable_with_issue_otp_issues_a_code(api: Api) -> None:
    response = api.post("/v2/points/isTransferrable",
                        transfer_body(SPENDER, RECEIVER, 100, issueOtp=True, notes="n",
                                      programId=504, groupProgramTransfer="false"))
    check = response.json()["data"][0]
    assert check["transferrable"] is True and check["pointsTobeTransferred"] == 100
    assert check["transferFrom"]["id"] == CUSTOMERS["spender"]["user_id"]
    assert check["transferTo"]["profiles"][0]["firstName"] == CUSTOMERS["receiver"]["first_name"]
    assert api.otp(purpose="transfer", mobile=SPENDER)


def test_transferrable_without_issue_otp_issues_nothing(api: Api) -> None:
    api.post("/v2/points/isTransferrable", transfer_body(SPENDER, RECEIVER, 100))
    assert api.otp(purpose="transfer", mobile=SPENDER) is None


def test_transfer_with_the_code_moves_the_points(api: Api) -> None:
    before = api.balance(mobile=SPENDER), api.balance(mobile=RECEIVER)
    code = api.transfer_code(SPENDER, RECEIVER, 150)
    response = api.post("/v2/points/transfer",
                        transfer_body(SPENDER, RECEIVER, 150, code=code, notes="to Rita"))
    record = response.json()["data"][0]
    assert record["pointsTransferred"] == 150 and isinstance(record["transferId"], int)
    assert record["transferType"] == "DEDUCTION" and record["notes"] == "to Rita"
    assert record["transferredFrom"] == {"userId": CUSTOMERS["spender"]["user_id"],
                                         "firstName": "Sam", "lastName": "Spender"}
    assert record["transferredTo"]["userId"] == CUSTOMERS["receiver"]["user_id"]
    assert (api.balance(mobile=SPENDER), api.balance(mobile=RECEIVER)) == (before[0] - 150,
                                                                          before[1] + 150)
    # The code was used up.
    again = api.post("/v2/points/transfer", transfer_body(SPENDER, RECEIVER, 150, code=code))
    assert error_codes(again) == [808]


def test_transfer_by_user_id_and_email(api: Api) -> None:
    code = api.transfer_code(SPENDER, RECEIVER, 60)
    body = {"pointsTobeTransferred": 60.0, "code": code,
            "fromCustomerIdentifier": {"type": "ID", "value": str(CUSTOMERS["spender"]["user_id"])},
            "toCustomerIdentifier": {"type": "EMAIL", "value": CUSTOMERS["receiver"]["email"]}}
    assert api.post("/v2/points/transfer", body).json()["data"][0]["pointsTransferred"] == 60


def test_wrong_code_moves_nothing(api: Api) -> None:
    api.transfer_code(SPENDER, RECEIVER, 100)
    before = api.balance(mobile=SPENDER), api.balance(mobile=RECEIVER)
    response = api.post("/v2/points/transfer", transfer_body(SPENDER, RECEIVER, 100, code="ZZZZZ9"))
    assert (response.status_code, error_codes(response)) == (200, [808])
    assert response.json()["data"] == []
    assert (api.balance(mobile=SPENDER), api.balance(mobile=RECEIVER)) == before


@pytest.mark.parametrize(("source", "destination", "points", "code"), [
    pytest.param(SPENDER, SPENDER, 100, 418, id="418-same"),
    pytest.param(MOBILE["fraud"], RECEIVER, 100, 415, id="415-fraud-source"),
    pytest.param(SPENDER, MOBILE["fraud"], 100, 414, id="414-fraud-destination"),
    pytest.param(UNKNOWN_MOBILE, RECEIVER, 100, 816, id="816-unknown-source"),
    pytest.param(SPENDER, UNKNOWN_MOBILE, 100, 816, id="816-unknown-destination"),
    pytest.param(MOBILE["low_balance"], RECEIVER, 310, 818, id="818-above-balance"),
    pytest.param(SPENDER, RECEIVER, 0, 801, id="801-zero"),
    pytest.param(SPENDER, RECEIVER, -5, 801, id="801-negative"),
    pytest.param(MOBILE["not_enrolled"], RECEIVER, 100, 686, id="686-not-enrolled"),
    # The program's limits (multiple 10, minimum 50, maximum 1000) hold for customer transfers.
    pytest.param(SPENDER, RECEIVER, 55, 807, id="807-not-a-multiple"),
    pytest.param(SPENDER, RECEIVER, 40, 821, id="821-below-the-minimum"),
    pytest.param(SPENDER, RECEIVER, 1010, 819, id="819-above-the-maximum"),
])
def test_refusals(api: Api, source: str, destination: str, points: int, code: int) -> None:
    check = api.post("/v2/points/isTransferrable", transfer_body(source, destination, points,
                                                                 issueOtp=True))
    assert (check.status_code, error_codes(check)) == (200, [code])
    assert api.otp(purpose="transfer", mobile=source) is None
    transfer = api.post("/v2/points/transfer", transfer_body(source, destination, points,
                                                             code="AAAAAA"))
    assert (transfer.status_code, error_codes(transfer)) == (200, [code])


@pytest.mark.parametrize("body", [
    transfer_body(SPENDER, RECEIVER, "100", code="X"),                 # a string amount
    transfer_body(SPENDER, RECEIVER, 10.5, code="X"),                  # not a whole number
    transfer_body(SPENDER, RECEIVER, 100),                             # no code
    {**transfer_body(SPENDER, RECEIVER, 100, code="X"),
     "fromCustomerIdentifier": {"type": "PHONE", "value": SPENDER}},   # unknown type
    {**transfer_body(SPENDER, RECEIVER, 100, code="X"),
     "toCustomerIdentifier": {"type": "MOBILE", "value": ""}},         # empty value
    {"pointsTobeTransferred": 100, "code": "X"},                      # no parties
    [1, 2, 3],
])
def test_schema_invalid_transfer_is_400(api: Api, body: object) -> None:
    response = api.post("/v2/points/transfer", body)
    assert (response.status_code, error_codes(response)) == (400, [400])


def test_history_lists_the_transfer(api: Api) -> None:
    code = api.transfer_code(SPENDER, RECEIVER, 70)
    made = api.post("/v2/points/transfer", transfer_body(SPENDER, RECEIVER, 70, code=code))
    record = made.json()["data"][0]
    listed = api.history(identifierName="mobile", identifierValue=SPENDER).json()["data"]
    assert [(r["transferId"], r["pointsTransferred"]) for r in listed] == [
        (record["transferId"], 70)]
    receiver_sent = api.history(identifierName="mobile", identifierValue=RECEIVER)
    assert receiver_sent.json()["data"] == []


def test_history_of_unknown_party_is_816(api: Api) -> None:
    response = api.history(identifierName="mobile", identifierValue=UNKNOWN_MOBILE)
    assert error_codes(response) == [816] and response.json()["data"] == []


@pytest.mark.parametrize("params", [{"identifierName": "phone", "identifierValue": SPENDER},
                                    {"identifierValue": SPENDER}, {"identifierName": "mobile"},
                                    {"identifierName": "id", "identifierValue": "1",
                                     "userEntityType": "TEAM"}])
def test_history_with_bad_query_is_400(api: Api, params: dict) -> None:
    assert api.history(**params).status_code == 400


def test_group_to_customer(api: Api) -> None:
    group_before, receiver_before = api.balance(group_id=GROUP_ID), api.balance(mobile=RECEIVER)
    check = api.post("/v2/points/userGroup2/isTransferrable",
                     group_body(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 500, SPENDER))
    assert check.json()["data"] == [{"pointsTobeTransferred": 500, "transferrable": True}]
    response = api.post("/v2/points/userGroup2/transfer",
                        group_body(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 500, SPENDER,
                                   notes="notes123", programId=504))
    record = response.json()["data"][0]
    assert record["fromEntityId"] == GROUP_ID and record["fromEntityType"] == "USERGROUP2"
    assert record["toEntityType"] == "CUSTOMER" and record["pointsTransferred"] == 500
    members = record["transferredFromUserGroup2"]["fleetGroupUsers"]
    assert {m["userId"] for m in members} == {CUSTOMERS["spender"]["user_id"],
                                              CUSTOMERS["receiver"]["user_id"]}
    assert api.balance(group_id=GROUP_ID) == group_before - 500
    assert api.balance(mobile=RECEIVER) == receiver_before + 500
    history = api.history(identifierName="id", identifierValue=str(GROUP_ID),
                          userEntityType="USERGROUP2", programId=504).json()["data"]
    assert [r["transferId"] for r in history] == [record["transferId"]]


def test_customer_to_group(api: Api) -> None:
    before = api.balance(mobile=RECEIVER), api.balance(group_id=GROUP_ID)
    response = api.post("/v2/points/userGroup2/transfer",
                        group_body(entity("CUSTOMER", "mobile", RECEIVER), GROUP, 200, RECEIVER))
    assert response.json()["data"][0]["toEntityId"] == GROUP_ID
    assert (api.balance(mobile=RECEIVER), api.balance(group_id=GROUP_ID)) == (before[0] - 200,
                                                                            before[1] + 200)


@pytest.mark.parametrize(("source", "destination", "points", "actor", "code"), [
    pytest.param(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 5001, SPENDER, 818,
                 id="818-above-group-balance"),
    pytest.param(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 100, MOBILE["low_balance"], 904,
                 id="904-actor-not-a-member"),
    pytest.param(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 100, UNKNOWN_MOBILE, 816,
                 id="816-unknown-actor"),
    pytest.param(entity("USERGROUP2", "id", "9999"), entity("CUSTOMER", "mobile", RECEIVER), 100,
                 SPENDER, 816, id="816-unknown-group"),
    pytest.param(GROUP, entity("CUSTOMER", "mobile", MOBILE["fraud"]), 100, SPENDER, 414,
                 id="414-fraud-destination"),
    pytest.param(GROUP, GROUP, 100, SPENDER, 418, id="418-same-group"),
    pytest.param(GROUP, entity("CUSTOMER", "mobile", RECEIVER), None, SPENDER, 801,
                 id="801-no-amount"),
    pytest.param(entity("CUSTOMER", "mobile", SPENDER), GROUP, 100, RECEIVER, 904,
                 id="904-moving-another-customers-points"),
])
def test_group_refusals(api: Api, source: dict, destination: dict, points: object, actor: str,
                        code: int) -> None:
    body = group_body(source, destination, points, actor)
    if points is None:
        del body["pointsTobeTransferred"]
    before = api.balance(group_id=GROUP_ID)
    for path in ("/v2/points/userGroup2/isTransferrable", "/v2/points/userGroup2/transfer"):
        response = api.post(path, body)
        assert (response.status_code, error_codes(response)) == (200, [code])
    assert api.balance(group_id=GROUP_ID) == before


def test_group_transfer_accepts_the_samples_decimal_form_of_whole_numbers(api: Api) -> None:
    body = group_body(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 10.0, SPENDER)
    assert api.post("/v2/points/userGroup2/transfer", body).json()["data"][0][
        "pointsTransferred"] == 10


def test_group_transfer_refuses_fractions_of_points(api: Api) -> None:
    body = group_body(GROUP, entity("CUSTOMER", "mobile", RECEIVER), 10.5, SPENDER)
    response = api.post("/v2/points/userGroup2/transfer", body)
    assert (response.status_code, error_codes(response)) == (400, [400])
