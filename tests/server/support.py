"""Helpers of the reference-server tests: a client that checks every answer against the spec."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import requests
import xmlschema
import yaml
from jsonschema import Draft202012Validator

from conformance.paths import fixtures_dir, specs_dir
from conformance.specs import openapi, xsd

AUTH = ("conformance", "reference-secret")
UI_TOKEN = "reference-ui-token"
ORG_ID = "100458"
SEED: dict = yaml.safe_load((fixtures_dir() / "reference-seed.yaml").read_text())
CUSTOMERS: dict[str, dict] = SEED["customers"]
MOBILE = {role: c["mobile"] for role, c in CUSTOMERS.items()}
UNKNOWN_MOBILE = "447700999999"
GROUP_ID = SEED["groups"][0]["id"]
# The strict spec keeps one goodwill path (DC-10); the other answers the same operation.
_ALIASES = {("POST", "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS"):
            ("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS")}


@cache
def _operations(strict: bool = True) -> dict[tuple[str, str], tuple[dict, str]]:
    found = {}
    for family in openapi.FAMILIES:
        doc = openapi.load_family(family, strict=strict)
        for op in openapi.iter_operations(doc, family):
            found[(op.method.upper(), op.path)] = (doc, op.operation_id)
    return found


def operation_id(method: str, path: str) -> str:
    key = _ALIASES.get((method, path), (method, path))
    return _operations()[key][1]


@cache
def _validator(method: str, path: str, status: int, strict: bool = True
               ) -> Draft202012Validator:
    doc, op_id = _operations(strict)[_ALIASES.get((method, path), (method, path))]
    schema = openapi.response_schema(doc, op_id, str(status), "application/json")
    assert schema is not None, f"{op_id} documents no JSON response for HTTP {status}"
    return Draft202012Validator(openapi.validation_schema(doc, schema))


def assert_strict_json(method: str, path: str, status: int, body: Any, strict: bool = True
                       ) -> None:
    """The body validates against the STRICT spec for its operation and status (CON-01).

    ``strict`` False: against the lenient spec, which every legitimate variant must meet.
    """
    errors = sorted(_validator(method, path, status, strict).iter_errors(body), key=str)
    which = "strict" if strict else "lenient"
    assert not errors, (f"{method} {path} -> {status} breaks the {which} spec:\n"
                        + "\n".join(f"  {list(e.absolute_path)}: {e.message}" for e in errors[:5])
                        + f"\nbody: {body}")


@cache
def _xsd(op_id: str, strict: bool = True) -> xmlschema.XMLSchema11 | None:
    suffix = ".strict" if strict else ""
    path = specs_dir() / "xsd" / f"{op_id}.response{suffix}.xsd"
    # built as the suite builds its XSDs, without the library's harmless type-table notice
    return xsd.from_text(str(path)) if path.is_file() else None


def assert_strict_xml(method: str, path: str, status: int, content: bytes, strict: bool = True
                      ) -> ET.Element:
    """The XML is well-formed, rooted at <response>, and valid against the strict XSD.

    ``strict`` False: valid against the lenient XSD, which allows <root><response> for
    redeem (DC-15); the <response> element is returned either way.
    """
    root = ET.fromstring(content)
    if not strict and root.tag == "root" and len(root) == 1:
        root = root[0]
    assert root.tag == "response", f"XML root is <{root.tag}>, expected <response>"
    schema = _xsd(operation_id(method, path), strict)
    if schema is not None and status != 401:
        schema.validate(content.decode("utf-8"))
    return root


class Api:
    """requests against one server; every answer is checked against the strict spec.

    ``strict`` False checks the answers against the lenient spec instead: what a server with
    a legitimate variant on (conformance.server.VARIANTS) must still meet.
    """

    def __init__(self, base_url: str, strict: bool = True) -> None:
        self.base_url = base_url
        self.strict = strict
        self.session = requests.Session()

    def request(self, method: str, path: str, *, auth: Any = AUTH, **kwargs: Any
                ) -> requests.Response:
        response = self.session.request(method, self.base_url + path, auth=auth, timeout=15,
                                        **kwargs)
        self.check(method, path, response, self.strict)
        return response

    @staticmethod
    def check(method: str, path: str, response: requests.Response, strict: bool = True) -> None:
        assert response.status_code < 500, f"{method} {path} -> {response.status_code}"
        if path.startswith("/_test/"):
            return
        kind = response.headers.get("content-type", "")
        if kind.startswith("application/json"):
            assert_strict_json(method, path, response.status_code, response.json(), strict)
        elif kind.startswith("application/xml"):
            assert_strict_xml(method, path, response.status_code, response.content, strict)
        else:
            raise AssertionError(f"{method} {path}: unexpected content type {kind!r}")

    # --- v1.1 -------------------------------------------------------------------------------

    def isredeemable(self, **params: Any) -> requests.Response:
        return self.request("GET", "/v1.1/points/isredeemable", params=params)

    def validationcode(self, **params: Any) -> requests.Response:
        return self.request("GET", "/v1.1/points/validationcode", params=params)

    def redeem(self, item: dict | None = None, *, params: dict | None = None,
               **kwargs: Any) -> requests.Response:
        if item is not None:
            kwargs["json"] = {"root": {"redeem": [item]}}
        return self.request("POST", "/v1.1/points/redeem", params=params, **kwargs)

    # --- v2 ---------------------------------------------------------------------------------

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def reverse(self, body: dict) -> requests.Response:
        return self.post("/v2/points/reverse", body)

    def history(self, **params: Any) -> requests.Response:
        return self.request("GET", "/v2/points/transfer", params=params)

    # --- hooks ------------------------------------------------------------------------------

    def otp(self, purpose: str = "redeem", **identifier: str) -> str | None:
        response = self.session.get(self.base_url + "/_test/otp",
                                    params={**identifier, "purpose": purpose}, timeout=15)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["code"]

    def balance(self, **identifier: Any) -> int:
        response = self.session.get(self.base_url + "/_test/balance", params=identifier,
                                    timeout=15)
        response.raise_for_status()
        return response.json()["balance"]

    def advance_clock(self, seconds: float) -> None:
        self.session.post(self.base_url + "/_test/clock", json={"advance_s": seconds},
                          timeout=15).raise_for_status()

    # --- flows ------------------------------------------------------------------------------

    def redeem_code(self, mobile: str, points: int = 100) -> str:
        """A redeem code for the customer, issued the documented way (validationcode)."""
        body = self.validationcode(mobile=mobile, points=points).json()
        assert body["response"]["validation_code"]["code"]["item_status"]["code"] == 200, body
        code = self.otp(mobile=mobile)
        assert code
        return code

    def redeem_points(self, mobile: str, points: int) -> dict:
        """validationcode -> code hook -> redeem; the redeemed block of a successful answer."""
        code = self.redeem_code(mobile, points)
        block = redeemed(self.redeem({"mobile": mobile, "points_redeemed": points,
                                      "validation_code": code}))
        assert block["item_status"]["code"] == 800, block
        return block

    def transfer_code(self, source: str, destination: str, points: int) -> str:
        body = self.post("/v2/points/isTransferrable", transfer_body(source, destination, points,
                                                                     issueOtp=True)).json()
        assert body["data"] and body["data"][0]["transferrable"] is True, body
        code = self.otp(purpose="transfer", mobile=source)
        assert code
        return code


def transfer_body(source: str, destination: str, points: Any, **extra: Any) -> dict:
    return {"pointsTobeTransferred": points,
            "fromCustomerIdentifier": {"type": "MOBILE", "value": source},
            "toCustomerIdentifier": {"type": "MOBILE", "value": destination}, **extra}


def entity(kind: str, identifier_type: str, value: Any) -> dict:
    return {"type": kind, "identifierType": identifier_type, "identifierValue": str(value)}


def group_body(source: dict, destination: dict, points: Any, actor: str, **extra: Any) -> dict:
    return {"pointsTobeTransferred": points, "fromEntity": source, "toEntity": destination,
            "transferredBy": {"identifierType": "mobile", "identifierValue": actor}, **extra}


# --- reading answers --------------------------------------------------------------------------

def redeemable(response: requests.Response) -> dict:
    return response.json()["response"]["points"]["redeemable"]


def code_block(response: requests.Response) -> dict:
    return response.json()["response"]["validation_code"]["code"]


def redeemed(response: requests.Response) -> dict:
    return response.json()["response"]["responses"]["points"]


def item_code(block: dict) -> int:
    return block["item_status"]["code"]


def error_codes(response: requests.Response) -> list[int]:
    return [error["code"] for error in response.json().get("errors", [])]


def repo_path(*parts: str) -> Path:
    return Path(__file__).resolve().parents[2].joinpath(*parts)
