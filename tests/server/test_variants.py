"""Legitimate variants over HTTP: each makes the documents' other choice, and only that.

Every answer of a server with a variant on is checked against the LENIENT spec (the strict
one takes a position a variant may not share); the strict checks of the other tests hold for
the default server, which these tests compare with where the variant departs from it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests

import conformance.server
from conformance import cli
from conformance.server import FAULTS, VARIANTS, RunningServer, ServerConfigError, gateway
from conformance.server import variants as v
from conformance.server.variants import check_variants
from conformance.specs import openapi

from .support import (
    AUTH,
    GROUP_ID,
    MOBILE,
    Api,
    code_block,
    entity,
    error_codes,
    group_body,
    item_code,
    redeemable,
    redeemed,
    repo_path,
    transfer_body,
)
from .test_goodwill import HEADERS, PATHS, request_body

SPENDER, RECEIVER, LOW = MOBILE["spender"], MOBILE["receiver"], MOBILE["low_balance"]
FRAUD = MOBILE["fraud"]
Start = Callable[..., RunningServer]
ISREDEEMABLE, VALIDATIONCODE, REDEEM = ("/v1.1/points/isredeemable",
                                        "/v1.1/points/validationcode", "/v1.1/points/redeem")
REVERSE, TRANSFER = "/v2/points/reverse", "/v2/points/transfer"
DOCUMENTED: dict[str, set[str]] = {}
for _family in openapi.FAMILIES:
    for _op in openapi.iter_operations(openapi.load_family(_family), _family):
        DOCUMENTED.setdefault(_op.path, set()).add(_op.method.upper())


def _api(start: Start, *chosen: str) -> Api:
    return Api(start(variants=chosen).base_url, strict=False)


def _get(api: Api, path: str, auth: tuple[str, str] | None = AUTH, **params: str
         ) -> requests.Response:
    """A raw GET, unchecked: for answers no spec describes (422, 501)."""
    return api.session.get(api.base_url + path, params=params, auth=auth, timeout=15)


def _post(api: Api, path: str, auth: tuple[str, str] | None = AUTH, **kwargs
          ) -> requests.Response:
    return api.session.post(api.base_url + path, auth=auth, timeout=15, **kwargs)


def _code(api: Api, mobile: str = SPENDER, points: int = 100) -> str:
    api.validationcode(mobile=mobile, points=points)
    code = api.otp(mobile=mobile)
    assert code
    return code


def _redeem(api: Api, points: int = 100, mobile: str = SPENDER, **item: str) -> dict:
    item = {"mobile": mobile, "points_redeemed": points,
            "validation_code": _code(api, mobile, points), **item}
    return redeemed(api.redeem(item))


# --- the list -------------------------------------------------------------------------------

def test_every_variant_is_named_once_and_described_in_one_line() -> None:
    constants = {value for name, value in vars(v).items()
                 if name.isupper() and isinstance(value, str) and "." in value}
    assert constants == set(VARIANTS)
    assert v.ANSWER_REWRITES <= set(VARIANTS)
    assert not set(VARIANTS) & FAULTS, "a variant is no fault: the names must differ"
    for name, description in VARIANTS.items():
        assert description and "\n" not in description, name
    assert conformance.server.VARIANTS is VARIANTS
    combinable = set(VARIANTS) - {v.GATEWAY_VALIDATES_SCHEMA}
    assert check_variants(combinable) == combinable
    with pytest.raises(ValueError, match="cannot be combined: the gateway"):
        check_variants([v.GATEWAY_VALIDATES_SCHEMA, v.IDS_ALPHANUMERIC])


def test_an_unknown_variant_is_refused_naming_it_and_the_known_ones(capsys) -> None:
    with pytest.raises(ValueError, match="unknown variant.*nope.*known: .*http.501-unknown"):
        check_variants(["nope", v.HTTP_501_UNKNOWN_METHOD])
    with pytest.raises(ServerConfigError, match="nope"):
        conformance.server.run_in_thread(variants=("nope",))
    assert cli.main(["serve", "--port", "0", "--variant", "nope"]) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith("points-conformance: error: unknown variant(s) nope; known: ")
    assert all(name in error for name in VARIANTS)
    assert "Traceback" not in error


def test_a_fault_and_a_variant_of_the_same_server_are_independent(start: Start) -> None:
    server = start(faults=("redeem.multiple",), variants=(v.CODES_FRAUD_820,))
    api = Api(server.base_url, strict=False)
    assert server.state.variants == {v.CODES_FRAUD_820}
    assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=105))) == 800
    assert item_code(redeemable(api.isredeemable(mobile=FRAUD, points=100))) == 820


# --- HTTP methods: Allow (every server) and 501 (variant) -------------------------------------

@pytest.mark.parametrize("path", sorted(DOCUMENTED))
def test_allow_lists_every_method_served_on_the_path(shared_api: Api, path: str) -> None:
    served = DOCUMENTED[path] | ({"HEAD"} if "GET" in DOCUMENTED[path] else set())
    for method in ("OPTIONS", "DELETE", "PATCH", *({"GET", "POST", "PUT"} - served)):
        response = shared_api.session.request(method, shared_api.base_url + path, timeout=10)
        assert response.status_code == 405, (method, path)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == served, (method, path, response.headers["allow"])


def test_the_transfer_path_allows_get_and_post(shared_api: Api) -> None:
    response = shared_api.session.options(shared_api.base_url + TRANSFER, timeout=10)
    assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD, POST")
    # Both are served: the history (GET) and the transfer (POST) answer, here 401.
    assert shared_api.request("GET", TRANSFER, auth=None).status_code == 401
    assert shared_api.request("POST", TRANSFER, auth=None).status_code == 401


def test_501_unknown_method(start: Start) -> None:
    api = _api(start, v.HTTP_501_UNKNOWN_METHOD)
    for path in DOCUMENTED:
        for method in ("OPTIONS", "DELETE", "PUT"):
            response = api.session.request(method, api.base_url + path, auth=AUTH, timeout=10)
            assert response.status_code == 501, (method, path)
            assert "allow" not in response.headers
    # Documented methods, and HEAD where GET is (RFC 9110 §9.1), are served as before.
    assert api.session.head(api.base_url + ISREDEEMABLE, auth=AUTH, timeout=10,
                            params={"mobile": SPENDER, "points": 100}).status_code == 200
    assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=100))) == 800
    assert api.request("POST", TRANSFER, auth=None).status_code == 401
    assert api.session.get(api.base_url + "/v2/points/nowhere", timeout=10).status_code == 404


# --- the schema-validating gateway ----------------------------------------------------------

def _refused_by_gateway(response: requests.Response) -> str:
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["message"] and "code" not in response.text
    return body["message"]


def test_gateway_refuses_invalid_query_parameters(start: Start, shared_api: Api) -> None:
    api = _api(start, v.GATEWAY_VALIDATES_SCHEMA)
    assert "points must be an integer" in _refused_by_gateway(
        _get(api, ISREDEEMABLE, mobile=SPENDER, points="abc"))
    assert "points is required" in _refused_by_gateway(_get(api, ISREDEEMABLE, mobile=SPENDER))
    _refused_by_gateway(_get(api, ISREDEEMABLE, mobile=SPENDER, points="100", issue_otp="yes"))
    _refused_by_gateway(_get(api, ISREDEEMABLE, mobile=SPENDER, points="100", format="csv"))
    _refused_by_gateway(_get(api, VALIDATIONCODE, mobile=SPENDER, points="0"))  # strict: >= 1
    _refused_by_gateway(_get(api, TRANSFER, identifierName="mobile"))
    _refused_by_gateway(_get(api, TRANSFER, identifierName="phone", identifierValue=SPENDER))
    # The service behind it refuses the same request with its own 400 and code.
    default = _get(shared_api, ISREDEEMABLE, mobile=SPENDER, points="abc")
    assert default.status_code == 400 and item_code(redeemable(default)) == 801


def test_gateway_refuses_invalid_json_bodies(start: Start) -> None:
    api = _api(start, v.GATEWAY_VALIDATES_SCHEMA)
    json_type = {"Content-Type": "application/json"}
    assert "not valid JSON" in _refused_by_gateway(
        _post(api, REVERSE, data=b'{"redemptionId": ', headers=json_type))
    _refused_by_gateway(_post(api, REVERSE, data=b'{"redemptionId": NaN}', headers=json_type))
    _refused_by_gateway(_post(api, REVERSE, data=b"", headers=json_type))
    _refused_by_gateway(_post(api, REVERSE, json=[1]))
    assert "redemptionId is required" in _refused_by_gateway(_post(api, REVERSE, json={}))
    _refused_by_gateway(_post(api, REVERSE, json={"redemptionId": "r0njPT"}))
    _refused_by_gateway(_post(api, "/v2/points/isTransferrable",
                              json=transfer_body(SPENDER, RECEIVER, "ten")))
    _refused_by_gateway(_post(api, "/v2/points/isTransferrable",
                              json=transfer_body(SPENDER, RECEIVER, 10.5)))
    _refused_by_gateway(_post(api, REDEEM, json={"redeem": []}))
    goodwill = _post(api, PATHS[0], headers={**HEADERS, **json_type}, data=b"{")
    _refused_by_gateway(goodwill)


def test_gateway_authenticates_first_and_passes_valid_requests(start: Start) -> None:
    api = _api(start, v.GATEWAY_VALIDATES_SCHEMA)
    # No credentials: the service's 401, whatever the request's shape.
    assert _get(api, ISREDEEMABLE, auth=None, points="abc").status_code == 401
    assert _post(api, REVERSE, auth=None, json={}).status_code == 401
    assert _post(api, PATHS[0], json={}, headers={"X-CAP-UI-AUTH-TOKEN": "wrong"}
                 ).status_code == 401
    # Valid requests reach the service, bodies intact: a redemption, its reversal, a transfer.
    block = _redeem(api, 100)
    assert item_code(block) == 800
    reversed_ = api.reverse({"redemptionId": block["redemption_id"]}).json()
    assert reversed_["pointsReversed"] == 100
    code = api.transfer_code(SPENDER, RECEIVER, 60)
    record = api.post(TRANSFER, transfer_body(SPENDER, RECEIVER, 60, code=code)).json()["data"]
    assert record[0]["pointsTransferred"] == 60
    assert api.post(PATHS[0], request_body(), headers=HEADERS).json()["data"]["state"] == \
        "AdminTask"
    # What the gateway does not check, the service still refuses: a business rule, a deeper
    # member, an XML body.
    assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=105))) == 807
    deeper = api.post("/v2/points/isTransferrable", {**transfer_body(SPENDER, RECEIVER, 10),
                                                     "fromCustomerIdentifier": {"type": "X"}})
    assert deeper.status_code == 400
    xml = api.redeem(data=b"<root><redeem></redeem></root>",
                     headers={"Content-Type": "application/xml"}, params={"format": "xml"})
    assert xml.status_code == 400


def test_gateway_tables_are_the_strict_spec() -> None:
    """The gateway's hand-written tables say what the strict spec says, no more, no less."""
    query: dict[tuple[str, str], dict[str, gateway.Param]] = {}
    body: dict[tuple[str, str], gateway.Body] = {}
    kinds = {"integer": "integer", "boolean": "boolean", "string": "string",
             "number": "number", "object": "object", "array": "array"}
    for family in openapi.FAMILIES:
        doc = openapi.load_family(family, strict=True)
        for op in openapi.iter_operations(doc, family):
            key = (op.method.upper(), op.path)
            params = {}
            for parameter in op.definition.get("parameters", []):
                parameter = openapi.resolve(doc, parameter)
                schema = openapi.resolve(doc, parameter["schema"])
                kind = tuple(schema["enum"]) if "enum" in schema else schema["type"]
                if kind == "string" and not parameter.get("required"):
                    continue  # nothing to check
                params[parameter["name"]] = gateway.Param(
                    kind, parameter.get("required", False), schema.get("minimum"))
            if params:
                query[key] = params
            schema = openapi.request_schema(doc, op.operation_id, "application/json")
            if schema is not None:
                schema = openapi.resolve(doc, schema)
                members = {}
                for name, member in schema.get("properties", {}).items():
                    member = openapi.resolve(doc, member)
                    types = {openapi.resolve(doc, m).get("type") for m in member.get("anyOf", [])}
                    members[name] = "flag" if types == {"boolean", "string"} else \
                        kinds[member["type"]]
                body[key] = gateway.Body(tuple(schema.get("required", ())), members)
    assert query == gateway.QUERY
    assert {k: (set(b.required), dict(b.members)) for k, b in body.items()} == \
        {k: (set(b.required), dict(b.members)) for k, b in gateway.BODY.items()
         if k in body}
    # The strict spec keeps one goodwill path (DC-10); the gateway guards both.
    assert set(gateway.BODY) - set(body) == {("POST", PATHS[1])}


# --- DC-01: numbers and flags as strings, success as a boolean --------------------------------

def test_numbers_as_strings(start: Start) -> None:
    api = _api(start, v.JSON_NUMBERS_AS_STRINGS)
    block = redeemable(api.isredeemable(mobile=SPENDER, points=100))
    assert (block["points"], block["is_redeemable"], block["item_status"]["code"]) == \
        ("100", "true", "800")
    assert block["points_currency_ratio"] == "1"
    body = api.validationcode(mobile=SPENDER, points=100).json()["response"]
    assert body["status"]["code"] == "200" and body["validation_code"]["code"]["points"] == "100"
    code = api.otp(mobile=SPENDER)
    done = redeemed(api.redeem({"mobile": SPENDER, "points_redeemed": 100,
                                "validation_code": code}))
    assert done["item_status"]["code"] == "800" and done["balance"] == str(20000 - 100)
    assert isinstance(done["redemption_id"], str) and done["redemption_id"].isdigit()
    refused = api.reverse({"redemptionId": 999999})
    assert refused.json()["errors"][0]["code"] == "902"
    # v2 data keeps the types the spec gives it (no conflict there).
    data = api.post("/v2/points/isTransferrable", transfer_body(SPENDER, RECEIVER, 60)).json()
    assert data["data"][0]["pointsTobeTransferred"] == 60
    goodwill = api.post(PATHS[0], request_body(), headers=HEADERS).json()["data"]
    echoed = goodwill["details"]["IntouchAPITask-Payload"]["headers"]
    assert echoed["X-CAP-API-AUTH-ORG-ID"] == "100458"
    # XML has no types: the same text as ever.
    xml = api.isredeemable(mobile=SPENDER, points=100, format="xml")
    assert b"<code>800</code>" in xml.content and b"<is_redeemable>true<" in xml.content


def test_success_as_boolean(start: Start) -> None:
    api = _api(start, v.JSON_SUCCESS_AS_BOOLEAN)
    body = api.isredeemable(mobile=SPENDER, points=100).json()["response"]
    assert body["status"]["success"] is True
    assert body["points"]["redeemable"]["item_status"]["success"] is True
    refused = api.isredeemable(mobile=SPENDER, points=105).json()["response"]
    assert refused["status"]["success"] is False
    assert refused["points"]["redeemable"]["item_status"]["code"] == 807  # numbers stay
    assert b"<success>true</success>" in api.isredeemable(mobile=SPENDER, points=100,
                                                          format="xml").content


def test_default_types_are_the_tables(shared_api: Api) -> None:
    body = shared_api.isredeemable(mobile=SPENDER, points=100).json()["response"]
    assert body["status"]["success"] == "true"
    block = body["points"]["redeemable"]
    assert (block["points"], block["is_redeemable"], block["item_status"]["code"]) == \
        (100, True, 800)


# --- DC-02, DC-03: what validationcode takes --------------------------------------------------

def test_validationcode_common_identifiers(start: Start, shared_api: Api) -> None:
    api = _api(start, v.VALIDATIONCODE_COMMON_IDENTIFIERS)
    for name, value in (("user_id", "1001"), ("card_number", "6000000000001001")):
        refused = api.validationcode(points=100, **{name: value})
        assert refused.status_code == 400 and item_code(code_block(refused)) == 802
        assert "mobile, email, external_id" in code_block(refused)["item_status"]["message"]
        assert item_code(code_block(shared_api.validationcode(points=100, **{name: value}))) \
            == 200
    assert item_code(code_block(api.validationcode(points=100, email="spender@example.com"))) \
        == 200
    # isredeemable is not concerned: its identifiers are not in conflict.
    assert item_code(redeemable(api.isredeemable(user_id="1001", points=100))) == 800


def test_validationcode_any_points(start: Start, shared_api: Api) -> None:
    api = _api(start, v.VALIDATIONCODE_ANY_POINTS)
    for points in (-100, 0):
        block = code_block(api.validationcode(mobile=SPENDER, points=points))
        assert (item_code(block), block["points"]) == (200, points)
        assert api.otp(mobile=SPENDER)
        assert shared_api.request("GET", VALIDATIONCODE, params={
            "mobile": SPENDER, "points": points}, auth=AUTH).status_code == 400
    # Redeeming 0 or less is still refused (RDM-10).
    assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=-100))) == 801


# --- DC-04: the samples' isredeemable nesting --------------------------------------------------

def test_isredeemable_sample_nesting(start: Start) -> None:
    api = _api(start, v.ISREDEEMABLE_SAMPLE_NESTING)
    body = api.isredeemable(mobile=SPENDER, points=100).json()["response"]
    assert "points" not in body
    block = body["responses"]["points"]["response"]["points"]["redeemable"]
    assert block["is_redeemable"] is True and item_code(block) == 800
    refused = api.isredeemable(mobile=SPENDER, points=105).json()["response"]
    assert item_code(refused["responses"]["points"]["response"]["points"]["redeemable"]) == 807
    invalid = api.isredeemable(mobile=SPENDER, points="abc")
    assert invalid.status_code == 400
    xml = ET.fromstring(api.isredeemable(mobile=SPENDER, points=100, format="xml").content)
    assert xml.findtext("responses/points/response/points/redeemable/item_status/code") == "800"


# --- DC-05, DC-06, DC-18: what redeem takes ---------------------------------------------------

def test_redeem_item_identifier_only(start: Start, shared_api: Api) -> None:
    api = _api(start, v.REDEEM_ITEM_IDENTIFIER_ONLY)
    code = _code(api)
    nested = {"customer": {"mobile": SPENDER}, "points_redeemed": 100, "validation_code": code}
    refused = api.redeem(nested)
    assert refused.status_code == 400 and item_code(redeemed(refused)) == 802
    assert item_code(redeemed(api.redeem({**nested, "mobile": SPENDER}))) == 800
    # The default server reads customer{} (the samples' placement).
    code = _code(shared_api, RECEIVER, 50)
    assert item_code(redeemed(shared_api.redeem({"customer": {"mobile": RECEIVER},
                                                 "points_redeemed": 50,
                                                 "validation_code": code}))) == 800


def _xml_redeem(code: str, nested: bool) -> bytes:
    item = (f"<redeem><element><mobile>{SPENDER}</mobile><points_redeemed>100</points_redeemed>"
            f"<validation_code>{code}</validation_code></element></redeem>")
    return (f"<root><root>{item}</root></root>" if nested else f"<root>{item}</root>").encode()


def test_redeem_xml_single_root(start: Start) -> None:
    api = _api(start, v.REDEEM_XML_SINGLE_ROOT)
    xml = {"Content-Type": "application/xml"}
    code = _code(api)
    refused = api.redeem(data=_xml_redeem(code, nested=True), headers=xml)
    assert refused.status_code == 400
    assert item_code(redeemed(api.redeem(data=_xml_redeem(code, nested=False), headers=xml))) \
        == 800


def test_default_redeem_reads_the_nested_xml_root(api: Api) -> None:
    xml = {"Content-Type": "application/xml"}
    assert item_code(redeemed(api.redeem(data=_xml_redeem(_code(api), nested=True),
                                         headers=xml))) == 800


def test_redeem_time_colon_only(start: Start, shared_api: Api) -> None:
    api = _api(start, v.REDEEM_TIME_COLON_ONLY)
    refused = api.redeem({"mobile": SPENDER, "points_redeemed": 100, "validation_code": "1",
                          "redemption_time": "2020-03-13 18-02-34"})
    assert refused.status_code == 400 and item_code(redeemed(refused)) == 859
    assert item_code(_redeem(api, redemption_time="2020-03-13 18:02:34")) == 800
    code = _code(shared_api, LOW, 50)
    assert item_code(redeemed(shared_api.redeem({
        "mobile": LOW, "points_redeemed": 50, "validation_code": code,
        "redemption_time": "2020-03-13 18-02-34"}))) == 800


# --- DC-07: alphanumeric ids -----------------------------------------------------------------

def test_ids_alphanumeric(start: Start) -> None:
    api = _api(start, v.IDS_ALPHANUMERIC)
    block = _redeem(api, 100)
    shown = block["redemption_id"]
    assert isinstance(shown, str) and shown.startswith("r") and not shown.isdigit()
    assert v.from_alphanumeric_id(shown) is not None
    assert api.balance(mobile=SPENDER) == 20000 - 100
    partial = api.reverse({"redemptionId": shown, "pointsToBeReversed": 40}).json()
    assert partial["redemptionId"] == shown and partial["pointsReversed"] == 40
    assert isinstance(partial["reversalId"], str) and partial["reversalId"].startswith("r")
    assert api.balance(mobile=SPENDER) == 20000 - 60
    # Another server's kind of id names nothing here.
    for other in (v.from_alphanumeric_id(shown), "r0njPT", "R1", "r01"):
        refused = api.reverse({"redemptionId": other}).json()
        assert error_codes_of(refused) == [902], other
    assert api.reverse({"redemptionId": {"id": shown}}).status_code == 400


def error_codes_of(body: dict) -> list[int]:
    return [e["code"] for e in body.get("errors", []) + body.get("warnings", [])]


def test_alphanumeric_ids_read_back() -> None:
    for number in (0, 1, 35, 36, 1295, 10**12):
        assert v.from_alphanumeric_id(v.alphanumeric_id(number)) == number
    for junk in ("", "r", "x1", "r-1", "r1 ", "rA", 7, None, "r" + "z" * 20):
        assert v.from_alphanumeric_id(junk) is None


# --- DC-08: amounts as decimals --------------------------------------------------------------

def test_v2_points_as_decimals(start: Start) -> None:
    api = _api(start, v.V2_POINTS_AS_DECIMALS)
    check = api.post("/v2/points/isTransferrable", transfer_body(SPENDER, RECEIVER, 60))
    assert '"pointsTobeTransferred":60.0' in check.text
    code = api.transfer_code(SPENDER, RECEIVER, 60)
    record = api.post(TRANSFER, transfer_body(SPENDER, RECEIVER, 60, code=code)).json()
    assert record["data"][0]["pointsTransferred"] == 60.0
    assert '"pointsTransferred":60.0' in api.history(identifierName="mobile",
                                                     identifierValue=SPENDER).text
    group = api.post("/v2/points/userGroup2/isTransferrable", group_body(
        entity("USERGROUP2", "id", GROUP_ID), entity("CUSTOMER", "mobile", RECEIVER), 10,
        SPENDER))
    assert group.status_code == 200
    block = _redeem(api, 100)
    reversed_ = api.reverse({"redemptionId": block["redemption_id"]})
    assert '"pointsReversed":100.0' in reversed_.text
    assert block["points_redeemed"] == 100  # v1.1 is not concerned


# --- DC-09: fraud as 820 ---------------------------------------------------------------------

def test_codes_fraud_820(start: Start, shared_api: Api) -> None:
    api = _api(start, v.CODES_FRAUD_820)
    assert item_code(redeemable(api.isredeemable(mobile=FRAUD, points=100))) == 820
    refused = redeemed(api.redeem({"mobile": FRAUD, "points_redeemed": 100,
                                   "validation_code": "123456"}))
    assert item_code(refused) == 820
    assert api.balance(mobile=FRAUD) == 5000
    assert item_code(redeemable(shared_api.isredeemable(mobile=FRAUD, points=100))) == 809


# --- DC-10: one goodwill path ----------------------------------------------------------------

def test_goodwill_one_path(start: Start) -> None:
    api = _api(start, v.GOODWILL_ONE_PATH)
    kept, dropped = PATHS
    assert kept == "/api_gateway/v2/request-workflow/GOODWILL-POINTS"
    assert api.post(kept, request_body(), headers=HEADERS).json()["data"]["state"] == \
        "AdminTask"
    gone = api.session.post(api.base_url + dropped, json=request_body(), headers=HEADERS,
                            auth=AUTH, timeout=15)
    assert gone.status_code == 404
    assert api.session.options(api.base_url + dropped, timeout=15).status_code == 404


# --- DC-11: refusals under a 4xx -------------------------------------------------------------

def test_http_4xx_refusals(start: Start) -> None:
    api = _api(start, v.HTTP_4XX_REFUSALS)
    refused = api.isredeemable(mobile=SPENDER, points=105)
    assert refused.status_code == 400 and item_code(redeemable(refused)) == 807
    assert refused.json()["response"]["status"]["code"] == 400  # it mirrors the HTTP status
    xml = api.isredeemable(mobile=SPENDER, points=105, format="xml")
    assert xml.status_code == 400 and b"<code>807</code>" in xml.content
    unknown = api.validationcode(mobile="447700999999", points=100)
    assert unknown.status_code == 400 and item_code(code_block(unknown)) == 816
    wrong = api.redeem({"mobile": SPENDER, "points_redeemed": 100, "validation_code": "000"})
    assert wrong.status_code == 400 and item_code(redeemed(wrong)) == 808
    same = api.post("/v2/points/isTransferrable", transfer_body(SPENDER, SPENDER, 10))
    assert same.status_code == 400 and error_codes(same) == [418]
    history = api.history(identifierName="mobile", identifierValue="447700999999")
    assert history.status_code == 400 and error_codes(history) == [816]
    reverse = api.reverse({"redemptionId": 999999})
    assert reverse.status_code == 400 and error_codes(reverse) == [902]
    # Successes keep their 200.
    assert api.isredeemable(mobile=SPENDER, points=100).status_code == 200
    assert item_code(_redeem(api, 100)) == 800


def test_default_refusals_are_http_200(shared_api: Api) -> None:
    refused = shared_api.isredeemable(mobile=SPENDER, points=105)
    assert refused.status_code == 200 and item_code(redeemable(refused)) == 807
    reverse = shared_api.reverse({"redemptionId": 999999})
    assert reverse.status_code == 200 and error_codes(reverse) == [902]


# --- DC-13: 901-905 as warnings --------------------------------------------------------------

def test_v2_refusals_as_warnings(start: Start) -> None:
    api = _api(start, v.V2_REFUSALS_AS_WARNINGS)
    unknown = api.reverse({"redemptionId": 999999}).json()
    assert unknown["errors"] == [] and [w["code"] for w in unknown["warnings"]] == [902]
    invalid = api.reverse({})
    assert invalid.status_code == 400 and invalid.json()["errors"] == []
    assert [w["code"] for w in invalid.json()["warnings"]] == [901]
    # Other codes stay in errors[].
    same = api.post("/v2/points/isTransferrable", transfer_body(SPENDER, SPENDER, 10))
    assert error_codes(same) == [418]


# --- DC-14: the balance before the program's limits -------------------------------------------

def test_redeem_balance_first(start: Start, shared_api: Api) -> None:
    # 1010 is over the maximum (1000) and over the low-balance customer's 300.
    api = _api(start, v.REDEEM_BALANCE_FIRST)
    assert item_code(redeemable(api.isredeemable(mobile=LOW, points=1010))) == 818
    assert item_code(redeemable(shared_api.isredeemable(mobile=LOW, points=1010))) == 819
    # One rule broken: the same code in either order.
    for points, code in ((1010, 819), (105, 807), (40, 821), (0, 801), (-10, 801)):
        assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=points))) == code
    assert item_code(redeemable(api.isredeemable(mobile=LOW, points=400))) == 818
    assert item_code(redeemable(api.isredeemable(mobile=FRAUD, points=1010))) == 809


# --- DC-15: <root><response> -----------------------------------------------------------------

def test_xml_root_wrapper(start: Start, shared_api: Api) -> None:
    api = _api(start, v.XML_ROOT_WRAPPER)
    code = _code(api)
    answer = api.redeem({"mobile": SPENDER, "points_redeemed": 100, "validation_code": code},
                        params={"format": "xml"})
    root = ET.fromstring(answer.content)
    assert root.tag == "root" and [child.tag for child in root] == ["response"]
    assert root.findtext("response/responses/points/item_status/code") == "800"
    assert answer.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<root><response>')
    # Only redeem's answer has the alternate root; JSON is not concerned.
    assert ET.fromstring(api.isredeemable(mobile=SPENDER, points=100, format="xml").content
                         ).tag == "response"
    assert "response" in api.isredeemable(mobile=SPENDER, points=100).json()
    default = shared_api.redeem({"mobile": SPENDER, "points_redeemed": 105,
                                 "validation_code": "1"}, params={"format": "xml"})
    assert ET.fromstring(default.content).tag == "response"


# --- every variant at once --------------------------------------------------------------------

def test_every_variant_at_once_still_serves_the_flows(start: Start) -> None:
    # All but the gateway, which cannot be combined with ids.alphanumeric.
    server = start(variants=tuple(set(VARIANTS) - {v.GATEWAY_VALIDATES_SCHEMA}))
    api = Api(server.base_url, strict=False)
    # Every answer below is checked against the lenient spec (Api, strict=False).
    nested = api.isredeemable(mobile=SPENDER, points=1010).json()["response"]["responses"]
    assert nested["points"]["response"]["points"]["redeemable"]["is_redeemable"] == "false"
    api.validationcode(mobile=SPENDER, points=100)
    code = api.otp(mobile=SPENDER)
    done = redeemed(api.redeem({"mobile": SPENDER, "points_redeemed": 100,
                                "validation_code": code}))
    assert done["item_status"]["code"] == "800" and done["balance"] == "19900"
    reversed_ = api.reverse({"redemptionId": done["redemption_id"]}).json()
    assert reversed_["pointsReversed"] == 100.0
    assert api.balance(mobile=SPENDER) == 20000
    assert server.state.internal_errors == 0


# --- the command line, and the code's shape ---------------------------------------------------

def test_serve_variant_option_turns_the_variant_on() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", "--port", "0",
         "--variant", v.HTTP_501_UNKNOWN_METHOD, "--variant", v.CODES_FRAUD_820],
        cwd=repo_path(), env={**os.environ, "PYTHONPATH": str(repo_path())},
        stderr=subprocess.PIPE, text=True)
    try:
        match = re.search(r"on (http://127\.0\.0\.1:\d+) ", process.stderr.readline())
        assert match
        api = Api(match.group(1), strict=False)
        assert api.session.options(api.base_url + TRANSFER, timeout=10).status_code == 501
        assert item_code(redeemable(api.isredeemable(mobile=FRAUD, points=100))) == 820
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0

