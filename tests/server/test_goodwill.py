"""The goodwill-points workflow over HTTP: auth headers, validation, pending, approval."""

from __future__ import annotations

import copy
import uuid

import pytest
import requests

from .support import AUTH, CUSTOMERS, GROUP_ID, ORG_ID, UI_TOKEN, Api

PATHS = ["/api_gateway/v2/request-workflow/GOODWILL-POINTS",
         "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS"]
HEADERS = {"X-CAP-API-AUTH-ORG-ID": ORG_ID, "X-CAP-UI-AUTH-TOKEN": UI_TOKEN}
SPENDER_ID = CUSTOMERS["spender"]["user_id"]


def request_body(points: int = 20, entity_id: int = SPENDER_ID,
                 entity_type: str = "CUSTOMER") -> dict:
    return {
        "entityInfo": {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286",
                       "conceptId": "50678331"},
        "payload": {"IntouchAPITask-Payload": {
            "hostname": "http://internal-intouch-api.default:1900",
            "path": "/internal/goodwill/",
            "method": "POST",
            "pathParams": {},
            "queryParams": {},
            "body": {"referenceId": "ref_id_1", "reason": "late delivery", "baseType": "POINTS",
                     "programId": 504, "awardingTillId": 50682616,
                     "earningEntityType": entity_type, "earningEntityId": entity_id,
                     "points": points, "source": "API"},
            "headers": {"Authorization": "Basic c2VjcmV0OnNlY3JldA==",
                        "content-type": "application/json", "X-CAP-API-AUTH-ORG-ID": ORG_ID,
                        "X-CAP-UI-AUTH-TOKEN": "inner-token"},
        }},
    }


@pytest.mark.parametrize("path", PATHS)
def test_complete_request_is_pending_and_echoes_the_payload(api: Api, path: str) -> None:
    sent = request_body()
    response = api.post(path, sent, headers=HEADERS)
    assert response.status_code == 200
    data = response.json()["data"]
    uuid.UUID(data["requestId"])
    assert (data["requestType"], data["state"], data["endTime"]) == ("goodwill-points",
                                                                    "AdminTask", None)
    assert data["userName"] == AUTH[0] and isinstance(data["userId"], int)
    task = data["details"]["IntouchAPITask-Payload"]
    assert task["body"] == sent["payload"]["IntouchAPITask-Payload"]["body"]
    assert task["headers"]["Authorization"] == "REDACTED"
    assert task["headers"]["X-CAP-UI-AUTH-TOKEN"] == "REDACTED"
    assert task["headers"]["X-CAP-API-AUTH-ORG-ID"] == int(ORG_ID)
    assert data["details"]["ValidateMakerAccess_Output"] is True
    assert "c2VjcmV0OnNlY3JldA" not in response.text and "inner-token" not in response.text


def test_pending_request_credits_nothing_until_approved(api: Api) -> None:
    before = api.balance(mobile=CUSTOMERS["spender"]["mobile"])
    request_id = api.post(PATHS[0], request_body(points=40), headers=HEADERS).json()["data"][
        "requestId"]
    assert api.balance(mobile=CUSTOMERS["spender"]["mobile"]) == before
    approve = api.session.post(f"{api.base_url}/_test/goodwill/{request_id}/approve", timeout=10)
    assert approve.status_code == 200 and approve.json()["pointsCredited"] == 40
    assert api.balance(mobile=CUSTOMERS["spender"]["mobile"]) == before + 40
    again = api.session.post(f"{api.base_url}/_test/goodwill/{request_id}/approve", timeout=10)
    assert again.status_code == 409
    assert api.balance(mobile=CUSTOMERS["spender"]["mobile"]) == before + 40


def test_group_goodwill(api: Api) -> None:
    before = api.balance(group_id=GROUP_ID)
    body = request_body(points=30, entity_id=GROUP_ID, entity_type="USERGROUP2")
    request_id = api.post(PATHS[0], body, headers=HEADERS).json()["data"]["requestId"]
    api.session.post(f"{api.base_url}/_test/goodwill/{request_id}/approve", timeout=10)
    assert api.balance(group_id=GROUP_ID) == before + 30


def test_approving_an_unknown_request_is_404(api: Api) -> None:
    response = api.session.post(f"{api.base_url}/_test/goodwill/{uuid.uuid4()}/approve",
                                timeout=10)
    assert response.status_code == 404


@pytest.mark.parametrize(("auth", "headers"), [
    pytest.param(AUTH, {}, id="no-headers"),
    pytest.param(AUTH, {**HEADERS, "X-CAP-UI-AUTH-TOKEN": "wrong"}, id="wrong-ui-token"),
    pytest.param(AUTH, {"X-CAP-UI-AUTH-TOKEN": UI_TOKEN}, id="no-org-id"),
    pytest.param(AUTH, {**HEADERS, "X-CAP-API-AUTH-ORG-ID": "51250"}, id="wrong-org-id"),
    pytest.param(None, HEADERS, id="no-basic"),
    pytest.param(("conformance", "nope"), HEADERS, id="wrong-basic"),
])
@pytest.mark.parametrize("path", PATHS)
def test_missing_or_wrong_credentials_are_401(shared_api: Api, path: str, auth: object,
                                              headers: dict) -> None:
    response = shared_api.post(path, request_body(), headers=headers, auth=auth)
    assert response.status_code == 401
    assert "data" not in response.json()


def _without(path: tuple[str, ...]) -> dict:
    body = copy.deepcopy(request_body())
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


TASK = ("payload", "IntouchAPITask-Payload")


@pytest.mark.parametrize("missing", [
    ("entityInfo",), ("entityInfo", "tillId"), ("payload",), TASK, (*TASK, "hostname"),
    (*TASK, "queryParams"), (*TASK, "headers"), (*TASK, "body"),
    *[(*TASK, "body", name) for name in ("referenceId", "reason", "baseType", "programId",
                                          "awardingTillId", "earningEntityType",
                                          "earningEntityId", "points", "source")],
], ids="/".join)
def test_missing_mandatory_field_is_400(shared_api: Api, missing: tuple[str, ...]) -> None:
    response = shared_api.post(PATHS[0], _without(missing), headers=HEADERS)
    assert response.status_code == 400
    assert missing[-1] in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body", [
    request_body(points=0), request_body(points=-5), request_body(entity_type="STORE"),
])
def test_invalid_request_is_400(shared_api: Api, body: dict) -> None:
    assert shared_api.post(PATHS[0], body, headers=HEADERS).status_code == 400


def test_unknown_customer_is_refused_with_816(shared_api: Api) -> None:
    response = shared_api.post(PATHS[0], request_body(entity_id=424242), headers=HEADERS)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == 816


def test_not_json_is_400(shared_api: Api) -> None:
    response = requests.post(shared_api.base_url + PATHS[0], data=b"{", auth=AUTH,
                             headers={**HEADERS, "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
