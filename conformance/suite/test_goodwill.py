"""Goodwill workflow: a request for goodwill points waits for approval and credits nothing.

Every request these scenarios create is left pending (state AdminTask) with a reason asking the
target's administrators to reject it; the run cannot withdraw a request.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from conformance.suite.steps import goodwill, transfer
from conformance.suite.steps.common import (
    Answer,
    expect,
    mutates,
    note,
    points_multiple,
    require_balance,
)
from conformance.target.client import ORG_ID_HEADER, UI_TOKEN_HEADER

TASK = "IntouchAPITask-Payload"
# The seed sample's customer: only used where the answer must be 401 whatever the body says.
SAMPLE_EARNING_ID = 382332518


def _document(pc, user_id: int, label: str) -> dict[str, Any]:
    return goodwill.goodwill_document(pc, user_id, points_multiple(pc),
                                      authorization=goodwill.fake_authorization(label))


def _require_authorized(answer: Answer) -> None:
    """A 401 to the profile's own headers means the run cannot judge the workflow at all."""
    if answer.status == 401:
        pytest.fail("the goodwill workflow answered 401 to the profile's credentials, org id "
                    "and UI token: check auth.org_id and auth.ui_token")


def _same(sent: Any, echoed: Any) -> bool:
    """Equal, allowing a number to come back as its digits or as a float (DC-01, DC-08)."""
    if sent == echoed or str(sent) == str(echoed):
        return True
    try:
        return float(sent) == float(echoed)
    except (TypeError, ValueError):
        return False


def _refused(answer: Answer) -> bool:
    """Refused for the body (a 4xx other than 401, or errors[]), and no request created."""
    body_errors = isinstance(answer.body, dict) and bool(answer.body.get("errors"))
    return ((400 <= answer.status < 500 and answer.status != 401) or body_errors) \
        and not goodwill.goodwill_created(answer)


def _describe(answer: Answer) -> str:
    data = goodwill.goodwill_data(answer)
    gist = {k: data[k] for k in ("requestId", "requestType", "state") if k in data}
    return f"HTTP {answer.status}, codes {answer.codes}" + (f", {gist}" if gist else "")


@pytest.mark.requirement("GW-01")
@mutates
def test_complete_goodwill_request_is_pending(pc):
    user_id = goodwill.require_goodwill_user(pc)
    document = _document(pc, user_id, "gw01")
    answer = goodwill.goodwill_request(pc, document)
    _require_authorized(answer)
    data = goodwill.goodwill_data(answer)
    expect(goodwill.goodwill_created(answer), "a non-empty requestId, no errors",
           _describe(answer), answer=answer)
    expect(data.get("requestType") == "goodwill-points", "requestType goodwill-points",
           f"requestType {data.get('requestType')!r}")
    expect(data.get("state") == "AdminTask", "state AdminTask (pending)",
           f"state {data.get('state')!r}")
    sent = document["payload"][TASK]
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    echoed = details.get(TASK) if isinstance(details.get(TASK), dict) else {}
    echoed_body = echoed.get("body") if isinstance(echoed.get("body"), dict) else {}
    # Credential headers may come back redacted, so the headers are not compared.
    differ = [f"{name}: sent {sent[name]!r}, echoed {echoed.get(name)!r}"
              for name in ("hostname", "path", "method") if not _same(sent[name],
                                                                      echoed.get(name))]
    differ += [f"body.{name}: sent {value!r}, echoed {echoed_body.get(name)!r}"
               for name, value in sent["body"].items() if not _same(value, echoed_body.get(name))]
    expect(not differ, f"details.{TASK} repeats the submitted task", "; ".join(differ[:6]))


@pytest.mark.requirement("GW-02")
@mutates
def test_goodwill_request_missing_a_mandatory_field_is_refused(pc):
    user_id = goodwill.require_goodwill_user(pc)
    without_till = _document(pc, user_id, "gw02")
    del without_till["entityInfo"]["tillId"]
    without_reason = _document(pc, user_id, "gw02")
    del without_reason["payload"][TASK]["body"]["reason"]
    answers = {
        "entityInfo.tillId": goodwill.goodwill_request(
            pc, without_till, what="goodwill request without entityInfo.tillId"),
        f"payload.{TASK}.body.reason": goodwill.goodwill_request(
            pc, without_reason, what="goodwill request without body.reason"),
    }
    for answer in answers.values():
        _require_authorized(answer)
    accepted = [f"without {field}: {_describe(answer)}" for field, answer in answers.items()
                if not _refused(answer)]
    expect(not accepted, "each request refused (a 4xx or errors[]) and no requestId",
           "; ".join(accepted))


@pytest.mark.requirement("GW-03")
@mutates
def test_pending_goodwill_request_credits_nothing(pc):
    user_id = goodwill.require_goodwill_user(pc)
    before = require_balance(pc, "spender")
    answer = goodwill.goodwill_request(pc, _document(pc, user_id, "gw03"))
    after = require_balance(pc, "spender")
    _require_authorized(answer)
    if not goodwill.goodwill_created(answer):
        pytest.fail(f"the goodwill request was not created ({_describe(answer)}), so there is "
                    "no pending request to judge")
    state = goodwill.goodwill_data(answer).get("state")
    note(pc, f"goodwill request {goodwill.goodwill_data(answer).get('requestId')} for "
             f"{points_multiple(pc)} points, state {state!r}")
    expect(after == before, f"the spender's balance unchanged at {before} while the request "
           "is pending", f"balance {after}", balance_before=before, balance_after=after)


@pytest.mark.requirement("GW-04")
@mutates
def test_goodwill_request_needs_ui_token_and_org_id(pc):
    valid = goodwill.goodwill_headers(pc)
    user_id = transfer.user_id(pc, "spender")
    if user_id is None:
        user_id = SAMPLE_EARNING_ID
        note(pc, "the spender's user id is unknown: the requests name the seed sample's customer"
                 " (each must be refused 401 before its body matters)")
    document = _document(pc, user_id, "gw04")
    spoiled = f"pc-invalid-{uuid.uuid4().hex[:12]}"
    variants = {
        f"no {UI_TOKEN_HEADER}": {ORG_ID_HEADER: valid[ORG_ID_HEADER]},
        f"an invalid {UI_TOKEN_HEADER}": {**valid, UI_TOKEN_HEADER: spoiled},
        f"no {ORG_ID_HEADER}": {UI_TOKEN_HEADER: valid[UI_TOKEN_HEADER]},
        f"an invalid {ORG_ID_HEADER}": {**valid, ORG_ID_HEADER: "0"},
    }
    wrong = []
    for what, headers in variants.items():
        answer = goodwill.goodwill_request(pc, document, headers=headers,
                                           what=f"goodwill request with {what}")
        if answer.status != 401:
            wrong.append(f"with {what}: {_describe(answer)}")
    expect(not wrong, "HTTP 401 for each", "; ".join(wrong))
