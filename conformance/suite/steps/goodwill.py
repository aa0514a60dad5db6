"""Goodwill workflow calls: a goodwill-points request in the seed sample's shape, and its answer.

A request the run creates cannot be withdrawn: it is left pending with a reason asking the
target's administrators to reject it.
"""

from __future__ import annotations

import base64
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from conformance.suite.steps.common import Answer, v2_answer
from conformance.suite.steps.transfer import user_id
from conformance.target import bodies
from conformance.target.profile import ProfileError
from conformance.target.redaction import REDACTOR

if TYPE_CHECKING:
    from conformance.suite.plugin import RunState

# The URI row's path first (the strict one), then the title line's (DC-10).
GOODWILL_PATHS = ("/api_gateway/v2/request-workflow/GOODWILL-POINTS",
                  "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS")
# What the seed sample's internal task names; the profile has no say in it.
GOODWILL_TASK = {"hostname": "http://internal-intouch-api.default:1900",
                 "path": "/internal/goodwill/", "method": "POST"}
# The seed sample's till/store/zone/concept ids: the profile names none (see the GW notes).
GOODWILL_ENTITY_INFO = {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286",
                        "conceptId": "50678331"}
GOODWILL_AWARDING_TILL = 50682616
SAMPLE_PROGRAM_ID = 2739


def goodwill_headers(pc: RunState) -> dict[str, str]:
    """The profile's org id and UI token headers; skips when the profile lacks them."""
    try:
        return pc.client.goodwill_headers()
    except ProfileError as exc:
        pytest.skip(str(exc))


def fake_authorization(label: str) -> str:
    """A recognisable Basic value that is no one's credential, registered for redaction first."""
    username, password = f"pc-{label}", f"pc-fake-{uuid.uuid4().hex}"
    REDACTOR.add(password, username=username)
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def goodwill_document(pc: RunState, earning_user_id: int, points: int, *,
                      authorization: str) -> dict[str, Any]:
    """A complete goodwill-points request in the seed sample's shape, with the run's values."""
    program_id = pc.profile.program.id
    return {
        "entityInfo": dict(GOODWILL_ENTITY_INFO),
        "payload": {"IntouchAPITask-Payload": {
            **GOODWILL_TASK,
            "pathParams": {},
            "queryParams": {},
            "body": {
                "referenceId": f"pc-{uuid.uuid4().hex[:16]}",
                "reason": "points-conformance scenario: please reject, do not approve",
                "baseType": "POINTS",
                "programId": program_id if program_id is not None else SAMPLE_PROGRAM_ID,
                "awardingTillId": GOODWILL_AWARDING_TILL,
                "earningEntityType": "CUSTOMER",
                "earningEntityId": earning_user_id,
                "points": points,
                "source": "API",
            },
            "headers": {"Authorization": authorization, "content-type": "application/json",
                        "X-CAP-API-AUTH-ORG-ID": str(pc.profile.auth.org_id or "")},
        }},
    }


def goodwill_response(pc: RunState, document: Any, *, headers: dict[str, str] | None = None,
                      what: str = "goodwill-points request") -> Any:
    """POST a goodwill request on the first documented path the target has (DC-10).

    Without ``headers`` the profile's org id and UI token go along; with them, exactly those
    headers (and Basic credentials) are sent, so a test can leave one out or spoil it. Returns
    the raw response, for scenarios that inspect its bytes.
    """
    if headers is None:
        goodwill_headers(pc)  # skip early, with the reason, when the profile lacks them
    response = None
    for path in GOODWILL_PATHS:
        response = pc.client.request("POST", path, json=document, headers=headers,
                                     goodwill=headers is None, note=f"{what} ({path})")
        if response.status_code not in (404, 405):
            break
    return response


def goodwill_request(pc: RunState, document: Any, *, headers: dict[str, str] | None = None,
                     what: str = "goodwill-points request") -> Answer:
    """goodwill_response, read as an Answer."""
    return v2_answer(goodwill_response(pc, document, headers=headers, what=what), pc)


def goodwill_data(answer: Answer) -> dict:
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    return data if isinstance(data, dict) else {}


def goodwill_created(answer: Answer) -> bool:
    """Whether the answer reports a created request (a non-empty requestId, no errors)."""
    return (answer.status < 400 and not bodies.v2_refused(answer.body)
            and goodwill_data(answer).get("requestId") not in (None, ""))


def require_goodwill_user(pc: RunState, role: str = "spender") -> int:
    """The user id to credit; skips when the profile and target do not reveal it."""
    found = user_id(pc, role)
    if found is None:
        pytest.skip(f"the {role} customer's user id is unknown (name it by user_id in the "
                    "profile, or let isTransferrable reveal it), so a goodwill request cannot "
                    "name the earning customer")
    return found
