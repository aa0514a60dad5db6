"""Credentials: every operation answers 401 without them, with no customer data in the body."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl

import pytest

from conformance.server.auth import Authenticator
from conformance.server.seed import load_seed

from .support import AUTH, MOBILE, Api, redeemable

SPENDER = MOBILE["spender"]
# (method, path, body) of every documented operation, with a request that would otherwise work.
OPERATIONS = [
    ("GET", f"/v1.1/points/isredeemable?mobile={SPENDER}&points=100", None),
    ("GET", f"/v1.1/points/validationcode?mobile={SPENDER}&points=100", None),
    ("POST", "/v1.1/points/redeem", {"root": {"redeem": [
        {"mobile": SPENDER, "points_redeemed": 100, "validation_code": "AAAAAA"}]}}),
    ("POST", "/v2/points/isTransferrable", {
        "pointsTobeTransferred": 10, "fromCustomerIdentifier": {"type": "MOBILE", "value": SPENDER},
        "toCustomerIdentifier": {"type": "MOBILE", "value": MOBILE["receiver"]}}),
    ("POST", "/v2/points/userGroup2/isTransferrable", {}),
    ("POST", "/v2/points/transfer", {}),
    ("GET", f"/v2/points/transfer?identifierName=mobile&identifierValue={SPENDER}", None),
    ("POST", "/v2/points/userGroup2/transfer", {}),
    ("POST", "/v2/points/reverse", {"redemptionId": 1}),
    ("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS", {}),
    ("POST", "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS", {}),
]
WRONG = [None, ("conformance", "wrong"), ("someone", "reference-secret"),
         "Bearer reference-secret", "Basic !!notbase64",
         "Basic " + base64.b64encode(b"nocolon").decode()]


def _call(api: Api, method: str, path: str, body: object, credentials: object):
    headers = {}
    auth = credentials
    if isinstance(credentials, str):
        headers["Authorization"], auth = credentials, None
    path, _, query = path.partition("?")
    return api.request(method, path, params=dict(parse_qsl(query)), json=body, auth=auth,
                       headers=headers)


@pytest.mark.parametrize("credentials", WRONG, ids=lambda c: str(c)[:20])
@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS,
                         ids=[f"{m} {p.partition('?')[0]}" for m, p, _ in OPERATIONS])
def test_every_operation_requires_credentials(shared_api: Api, method: str, path: str,
                                              body: object, credentials: object) -> None:
    response = _call(shared_api, method, path, body, credentials)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert SPENDER not in response.text and "balance" not in response.text


def test_v11_401_comes_in_the_asked_format(shared_api: Api) -> None:
    response = shared_api.request("GET", "/v1.1/points/isredeemable",
                                  params={"mobile": SPENDER, "points": 100, "format": "xml"},
                                  auth=None)
    assert response.status_code == 401
    root = ET.fromstring(response.content)
    assert root.tag == "response" and root.findtext("status/code") == "401"


def test_md5_of_the_password_is_accepted(shared_api: Api) -> None:
    md5 = hashlib.md5(AUTH[1].encode()).hexdigest()
    response = shared_api.request(
        "GET", "/v1.1/points/isredeemable", params={"mobile": SPENDER, "points": 100},
        auth=(AUTH[0], md5))
    assert redeemable(response)["item_status"]["code"] == 800


def test_authenticator_verdicts() -> None:
    seed = load_seed()
    auth = Authenticator(seed.credentials, seed.org_id)

    def basic(user: bytes, password: bytes) -> str:
        return "Basic " + base64.b64encode(user + b":" + password).decode()

    assert auth.basic_ok(basic(b"conformance", b"reference-secret"))
    assert auth.basic_ok(basic(b"conformance", hashlib.md5(b"reference-secret").hexdigest()
                               .upper().encode()))
    assert not auth.basic_ok(basic(b"conformance", b"reference-secret "))
    assert not auth.basic_ok(basic(b"conformance\xff", b"\xfe"))
    assert not auth.basic_ok("")
    assert not auth.workflow_ok({"authorization": basic(b"conformance", b"reference-secret"),
                                 "x-cap-api-auth-org-id": "100458",
                                 "x-cap-ui-auth-token": "reference-ui-token\u00e9"})
