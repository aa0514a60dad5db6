"""Schema-invalid input answers 400 with a documented code, and garbage never reaches a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.server.params import Invalid, identifier_is_wellformed, loose_int, parse_json

from .support import AUTH, MOBILE, Api, code_block, item_code, redeemable, redeemed

SPENDER = MOBILE["spender"]


@pytest.mark.parametrize(("params", "code"), [
    pytest.param({"points": 100}, 802, id="no-identifier"),
    pytest.param({"mobile": SPENDER}, 801, id="no-points"),
    pytest.param({"mobile": SPENDER, "points": "ten"}, 801, id="points-not-a-number"),
    pytest.param({"mobile": SPENDER, "points": "10.5"}, 801, id="points-fraction"),
    pytest.param({"mobile": SPENDER, "points": "1" * 60}, 801, id="points-huge"),
    pytest.param({"mobile": SPENDER, "points": 100, "format": "yaml"}, 400, id="unknown-format"),
    pytest.param({"mobile": SPENDER, "points": 100, "issue_otp": "maybe"}, 400, id="bad-boolean"),
    pytest.param({"mobile": SPENDER, "points": 100, "program_id": "x"}, 400, id="bad-program"),
    pytest.param({"mobile": SPENDER, "points": 100, "validation_type": "FAX"}, 400,
                 id="unknown-validation-type"),
])
def test_isredeemable_invalid_query_is_400(shared_api: Api, params: dict, code: int) -> None:
    response = shared_api.isredeemable(**params)
    assert response.status_code == 400
    assert response.json()["response"]["status"]["code"] == 400
    assert item_code(redeemable(response)) == code


def test_huge_but_wellformed_amount_is_a_business_refusal(shared_api: Api) -> None:
    response = shared_api.isredeemable(mobile=SPENDER, points="1" + "0" * 29)
    assert (response.status_code, item_code(redeemable(response))) == (200, 819)


@pytest.mark.parametrize(("params", "code"), [
    pytest.param({"points": 100}, 802, id="no-identifier"),
    pytest.param({"user_id": "abc", "points": 100}, 802, id="user-id-not-a-number"),
    pytest.param({"mobile": SPENDER}, 801, id="no-points"),
    pytest.param({"mobile": SPENDER, "points": 0}, 801, id="zero"),
    pytest.param({"mobile": SPENDER, "points": -100}, 801, id="negative-as-in-the-sample"),
])
def test_validationcode_invalid_query_is_400(shared_api: Api, params: dict, code: int) -> None:
    response = shared_api.validationcode(**params)
    assert (response.status_code, item_code(code_block(response))) == (400, code)


ITEM = {"mobile": SPENDER, "points_redeemed": 100, "validation_code": "AAAAAA"}


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({"root": {"redeem": [{**ITEM, "mobile": None}]}}, 802, id="no-identifier"),
    pytest.param({"root": {"redeem": [{**ITEM, "mobile": 447700900001}]}}, 802,
                 id="mobile-not-a-string"),
    pytest.param({"root": {"redeem": [{**ITEM, "customer": "x", "mobile": None}]}}, 802,
                 id="customer-not-an-object"),
    pytest.param({"root": {"redeem": [{**ITEM, "points_redeemed": None}]}}, 801, id="no-points"),
    pytest.param({"root": {"redeem": [{**ITEM, "points_redeemed": "lots"}]}}, 801,
                 id="points-not-a-number"),
    pytest.param({"root": {"redeem": [{**ITEM, "points_redeemed": True}]}}, 801,
                 id="points-boolean"),
    pytest.param({"root": {"redeem": [{**ITEM, "points_redeemed": 10.5}]}}, 801,
                 id="points-fraction"),
    pytest.param({"root": {"redeem": [{**ITEM, "validation_code": None}]}}, 824, id="no-code"),
    pytest.param({"root": {"redeem": [{**ITEM, "validation_code": 123456}]}}, 824,
                 id="code-not-a-string"),
    pytest.param({"root": {"redeem": [{**ITEM, "group_redemption": "perhaps"}]}}, 400,
                 id="bad-boolean"),
    pytest.param({"root": {"redeem": [ITEM, ITEM]}}, 400, id="batch"),
    pytest.param({"root": {"redeem": []}}, 400, id="no-items"),
    pytest.param({"root": {"redeem": ["x"]}}, 400, id="item-not-an-object"),
    pytest.param({"root": {}}, 400, id="no-redeem"),
    pytest.param({"redeem": [ITEM]}, 400, id="no-root"),
    pytest.param([ITEM], 400, id="array"),
])
def test_redeem_invalid_body_is_400(shared_api: Api, body: object, code: int) -> None:
    response = shared_api.redeem(json=body)
    assert (response.status_code, item_code(redeemed(response))) == (400, code)


@pytest.mark.parametrize(("data", "content_type"), [
    (b"{", "application/json"), (b"", "application/json"), (b"NaN", "application/json"),
    (b'{"root": {"redeem": [{"mobile": "\\ud800"}]}}', "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b"points=100", "application/x-www-form-urlencoded"),
    (json.dumps({"root": {"redeem": [ITEM]}}).encode(), "text/plain"),
    (b"x" * (70 * 1024), "application/json"),
])
def test_unreadable_redeem_body_is_400(shared_api: Api, data: bytes, content_type: str) -> None:
    response = shared_api.redeem(data=data, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["response"]["status"]["code"] == 400


def test_redeem_with_empty_identifier_is_a_business_802(shared_api: Api) -> None:
    response = shared_api.redeem({**ITEM, "mobile": ""})
    assert (response.status_code, item_code(redeemed(response))) == (200, 802)


def test_parse_json_refuses_what_sqlite_or_xml_could_not_store() -> None:
    for body in (b'"\\udfff"', b'{"\\ud800": 1}', b"Infinity", b"-NaN", b"\xff"):
        with pytest.raises(Invalid):
            parse_json(body)
    assert parse_json(b'{"a": [1, "b"]}') == {"a": [1, "b"]}


def test_loose_int() -> None:
    assert loose_int("  42 ", "x") == 42 and loose_int(-3, "x") == -3
    for value in (True, 1.0, "4e2", "0x10", "", None, "١٢"):
        with pytest.raises(Invalid):
            loose_int(value, "x")


def test_identifier_shapes() -> None:
    assert identifier_is_wellformed("mobile", "+447700900001")
    assert not identifier_is_wellformed("mobile", "4477-00")
    assert identifier_is_wellformed("email", "a.b@example.com")
    assert not identifier_is_wellformed("email", "a@b")
    assert not identifier_is_wellformed("external_id", "")
    assert not identifier_is_wellformed("external_id", "tab\there")
    assert not identifier_is_wellformed("user_id", "-5")


# --- fuzzing: any request with valid credentials answers 200 or 400, never a 5xx ---------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["root", "redeem", "mobile", "points_redeemed", "validation_code",
                         "customer", "redemptionId", "pointsToBeReversed", "identifier", "type",
                         "value", "pointsTobeTransferred", "fromCustomerIdentifier",
                         "toCustomerIdentifier", "code", "fromEntity", "toEntity",
                         "transferredBy", "identifierType", "identifierValue", "entityInfo",
                         "payload", "IntouchAPITask-Payload", "body", "headers"]) | st.text(),
        children, max_size=4),
    max_leaves=12)
query_values = st.one_of(st.text(max_size=20), st.integers().map(str),
                         st.sampled_from([SPENDER, "true", "false", "xml", "json", "INVALID",
                                          "100", "-1", "", "mobile", "id", "USERGROUP2"]))
query_keys = st.sampled_from(["mobile", "email", "external_id", "card_number", "user_id",
                              "points", "format", "issue_otp", "program_id", "validation_type",
                              "skip_validation", "identifierName", "identifierValue",
                              "userEntityType", "source", "programId", "user_group2_id"])
POSTS = ["/v1.1/points/redeem", "/v2/points/isTransferrable",
         "/v2/points/userGroup2/isTransferrable", "/v2/points/transfer",
         "/v2/points/userGroup2/transfer", "/v2/points/reverse",
         "/api_gateway/v2/request-workflow/GOODWILL-POINTS"]
GETS = ["/v1.1/points/isredeemable", "/v1.1/points/validationcode", "/v2/points/transfer"]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
GOODWILL_HEADERS = {"X-CAP-API-AUTH-ORG-ID": "100458", "X-CAP-UI-AUTH-TOKEN": "reference-ui-token"}


@FUZZ
@given(path=st.sampled_from(GETS), params=st.dictionaries(query_keys, query_values, max_size=5))
def test_fuzzed_queries_never_fail(shared_api: Api, path: str, params: dict) -> None:
    response = shared_api.request("GET", path, params=params)
    assert response.status_code in (200, 400)


@FUZZ
@given(path=st.sampled_from(POSTS), body=json_values,
       params=st.dictionaries(query_keys, query_values, max_size=2))
def test_fuzzed_json_bodies_never_fail(shared_api: Api, path: str, body: object,
                                       params: dict) -> None:
    response = shared_api.request("POST", path, json=body, params=params,
                                  headers=GOODWILL_HEADERS)
    assert response.status_code in (200, 400)


@FUZZ
@given(path=st.sampled_from(POSTS), data=st.binary(max_size=200) | st.text(max_size=200).map(
    str.encode), content_type=st.sampled_from(["application/json", "application/xml", "text/xml",
                                               "text/plain", ""]))
def test_fuzzed_raw_bodies_never_fail(shared_api: Api, path: str, data: bytes,
                                      content_type: str) -> None:
    headers = {**GOODWILL_HEADERS, **({"Content-Type": content_type} if content_type else {})}
    response = shared_api.request("POST", path, data=data, headers=headers)
    assert response.status_code in (200, 400)


@FUZZ
@given(item=st.dictionaries(st.sampled_from(["mobile", "points_redeemed", "validation_code",
                                             "customer", "redemption_time", "notes",
                                             "group_redemption", "program_id"]),
                            st.text(max_size=10) | st.sampled_from([SPENDER, "100", "50"]),
                            max_size=6),
       nested=st.booleans())
def test_fuzzed_xml_redeem_never_fails(shared_api: Api, item: dict, nested: bool) -> None:
    from xml.sax.saxutils import escape
    fields = "".join(f"<{k}>{escape(''.join(c for c in v if c.isprintable()))}</{k}>"
                     for k, v in item.items())
    inner = f"<redeem><element>{fields}</element></redeem>"
    document = f"<root>{f'<root>{inner}</root>' if nested else inner}</root>"
    response = shared_api.request("POST", "/v1.1/points/redeem", data=document.encode(),
                                  params={"format": "xml"},
                                  headers={"Content-Type": "application/xml"}, auth=AUTH)
    assert response.status_code in (200, 400)
