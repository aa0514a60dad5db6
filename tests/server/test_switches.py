"""Behavioural fault switches over HTTP: each turns on its one bug and leaves the rest documented.

tests/test_faults.py proves the suite's scenarios notice each switch; these tests pin down
what the server itself does under it, so that a switch cannot quietly grow or stop working.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable

import requests

from conformance.server import FAULTS, RunningServer, switches
from conformance.server.rules import RULE_FAULTS, check_faults

from .support import (
    AUTH,
    CUSTOMERS,
    GROUP_ID,
    MOBILE,
    ORG_ID,
    UNKNOWN_MOBILE,
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
from .test_concurrency import race
from .test_goodwill import HEADERS, PATHS, request_body

SPENDER, RECEIVER, LOW = MOBILE["spender"], MOBILE["receiver"], MOBILE["low_balance"]
VALIDITY_S = 900
Start = Callable[..., RunningServer]


def _api(start: Start, *faults: str) -> Api:
    return Api(start(faults=faults).base_url)


def _wrong(code: str) -> str:
    return "A" * len(code) if code != "A" * len(code) else "B" * len(code)


def _redeem(api: Api, code: str | None, points: int = 100, mobile: str = SPENDER) -> dict:
    item = {"mobile": mobile, "points_redeemed": points}
    if code is not None:
        item["validation_code"] = code
    return redeemed(api.redeem(item))


def test_behaviours_are_known_faults_apart_from_the_rule_names() -> None:
    assert switches.BEHAVIOURS <= FAULTS and RULE_FAULTS <= FAULTS
    assert not switches.BEHAVIOURS & RULE_FAULTS
    assert check_faults(switches.BEHAVIOURS) == switches.BEHAVIOURS


# --- redemption ---------------------------------------------------------------------------

def test_isredeemable_always_refuse_refuses_what_passes_and_issues_no_code(start: Start) -> None:
    api = _api(start, switches.ISREDEEMABLE_ALWAYS_REFUSE)
    block = redeemable(api.isredeemable(mobile=SPENDER, points=100, issue_otp="true"))
    assert (block["is_redeemable"], item_code(block)) == (False, 818)
    assert api.otp(mobile=SPENDER) is None
    # A broken rule keeps its own code, and redeem is untouched.
    assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=105))) == 807
    assert item_code(api.redeem_points(SPENDER, 100)) == 800


def test_redeem_deducts_double_but_answers_the_amount(start: Start) -> None:
    api = _api(start, switches.REDEEM_DEDUCTS_DOUBLE)
    before = api.balance(mobile=SPENDER)
    block = api.redeem_points(SPENDER, 100)
    assert block["points_redeemed"] == 100
    assert api.balance(mobile=SPENDER) == block["balance"] == before - 200


def test_redeem_race_lets_concurrent_redemptions_overdraw(start: Start) -> None:
    server = start(faults=(switches.REDEEM_RACE,))
    api = Api(server.base_url)
    code = api.redeem_code(LOW)
    before = api.balance(mobile=LOW)
    answers = race(10, lambda s: s.post(server.base_url + "/v1.1/points/redeem", json={
        "root": {"redeem": [{"mobile": LOW, "points_redeemed": 50, "validation_code": code}]}}))
    codes = [a["response"]["responses"]["points"]["item_status"]["code"] for a in answers]
    # One code and a balance for 6 redemptions, yet all 10 passed the checks before any wrote.
    assert codes == [800] * 10
    assert api.balance(mobile=LOW) == before - 500 < 0
    # One at a time, the checks still hold.
    assert item_code(_redeem(api, api.redeem_code(LOW), 50, LOW)) == 818


def test_redeem_unknown_as_empty_refuses_an_unknown_customer_for_points(start: Start) -> None:
    api = _api(start, switches.REDEEM_UNKNOWN_AS_EMPTY)
    assert item_code(redeemable(api.isredeemable(mobile=UNKNOWN_MOBILE, points=100))) == 818
    assert item_code(_redeem(api, "ABCDEF", mobile=UNKNOWN_MOBILE)) == 818
    assert item_code(code_block(api.validationcode(mobile=UNKNOWN_MOBILE, points=100))) == 816
    assert item_code(redeemable(api.isredeemable(mobile="12", points=100))) == 802


def test_redeem_renames_balance_in_json_and_xml(start: Start) -> None:
    api = _api(start, switches.REDEEM_RENAMES_BALANCE)
    for fmt, left in (("json", 20000 - 100), ("xml", 20000 - 200)):
        item = {"mobile": SPENDER, "points_redeemed": 100,
                "validation_code": api.redeem_code(SPENDER)}
        # Raw: the answer breaks the strict schema on purpose (a redemption needs a balance).
        answer = api.session.post(api.base_url + "/v1.1/points/redeem", params={"format": fmt},
                                  json={"root": {"redeem": [item]}}, auth=AUTH, timeout=15)
        assert answer.status_code == 200
        if fmt == "json":
            block = redeemed(answer)
            assert "balance" not in block and block["current_balance"] == left
            assert item_code(block) == 800
        else:
            points = ET.fromstring(answer.content).find("responses/points")
            assert points.find("balance") is None
            assert points.findtext("current_balance") == str(left)
            assert points.findtext("item_status/code") == "800"
    assert api.balance(mobile=SPENDER) == 20000 - 200
    # Refusals carry no balance: they are as documented.
    assert item_code(_redeem(api, "000000", points=105)) == 807


# --- validation codes -----------------------------------------------------------------------

def test_otp_not_issued_answers_success_and_sends_nothing(start: Start) -> None:
    api = _api(start, switches.OTP_NOT_ISSUED)
    assert item_code(code_block(api.validationcode(mobile=SPENDER, points=100))) == 200
    assert api.otp(mobile=SPENDER) is None
    api.isredeemable(mobile=SPENDER, points=100, issue_otp="true")
    assert api.otp(mobile=SPENDER)  # issue_otp is another switch's business


def test_otp_regenerate_replaces_a_valid_redeem_code_only(start: Start) -> None:
    api = _api(start, switches.OTP_REGENERATE)
    first = api.redeem_code(SPENDER)
    second = api.redeem_code(SPENDER)
    assert first != second
    assert item_code(_redeem(api, first)) == 808
    assert item_code(_redeem(api, second)) == 800
    assert api.transfer_code(SPENDER, RECEIVER, 100) == api.transfer_code(SPENDER, RECEIVER, 100)


def test_otp_any_code_passes_while_a_code_is_active(start: Start) -> None:
    api = _api(start, switches.OTP_ANY_CODE)
    code = api.redeem_code(SPENDER)
    assert item_code(_redeem(api, _wrong(code))) == 800
    assert item_code(_redeem(api, code)) == 808  # used up by the wrong one
    expired = api.redeem_code(SPENDER)
    api.advance_clock(VALIDITY_S + 1)
    assert item_code(_redeem(api, expired)) == 808


def test_otp_reusable_redeems_twice_with_one_redeem_code(start: Start) -> None:
    api = _api(start, switches.OTP_REUSABLE)
    code = api.redeem_code(SPENDER)
    assert [item_code(_redeem(api, code)) for _ in range(2)] == [800, 800]
    transfer = api.transfer_code(SPENDER, RECEIVER, 100)
    body = transfer_body(SPENDER, RECEIVER, 100, code=transfer)
    assert not error_codes(api.post("/v2/points/transfer", body))
    assert error_codes(api.post("/v2/points/transfer", body)) == [808]


def test_otp_no_expiry_keeps_an_old_code_valid_and_sent(start: Start) -> None:
    api = _api(start, switches.OTP_NO_EXPIRY)
    code = api.redeem_code(SPENDER)
    api.advance_clock(VALIDITY_S * 10)
    assert api.redeem_code(SPENDER) == code
    assert item_code(_redeem(api, code)) == 800
    assert item_code(_redeem(api, code)) == 808  # still single-use


def test_otp_isredeemable_no_issue_says_issued_but_issues_nothing(start: Start) -> None:
    api = _api(start, switches.OTP_ISREDEEMABLE_NO_ISSUE)
    block = redeemable(api.isredeemable(mobile=SPENDER, points=100, issue_otp="true"))
    assert item_code(block) == 800 and "issued" in block["item_status"]["message"]
    assert api.otp(mobile=SPENDER) is None
    assert item_code(code_block(api.validationcode(mobile=SPENDER, points=100))) == 200
    assert api.otp(mobile=SPENDER)


def test_otp_not_required_redeems_without_a_code_but_checks_one_sent(start: Start) -> None:
    api = _api(start, switches.OTP_NOT_REQUIRED)
    before = api.balance(mobile=SPENDER)
    assert item_code(_redeem(api, None)) == 800
    assert api.balance(mobile=SPENDER) == before - 100
    api.redeem_code(SPENDER)
    assert item_code(_redeem(api, "ZZZZZZ")) == 808


# --- reversal -------------------------------------------------------------------------------

def test_reverse_credits_double_but_answers_the_amount(start: Start) -> None:
    api = _api(start, switches.REVERSE_CREDITS_DOUBLE)
    block = api.redeem_points(SPENDER, 100)
    answer = api.reverse({"redemptionId": block["redemption_id"]}).json()
    assert answer["pointsReversed"] == 100
    assert api.balance(mobile=SPENDER) == block["balance"] + 200


def test_reverse_unknown_as_reversed_answers_812_for_an_unknown_id(start: Start) -> None:
    api = _api(start, switches.REVERSE_UNKNOWN_AS_REVERSED)
    assert error_codes(api.reverse({"redemptionId": 987654321})) == [812]
    malformed = api.reverse({"redemptionId": "r0njPT"})
    assert (malformed.status_code, error_codes(malformed)) == (400, [901])


def test_reverse_no_partial_refuses_the_remainder(start: Start) -> None:
    api = _api(start, switches.REVERSE_NO_PARTIAL)
    block = api.redeem_points(SPENDER, 100)
    first = api.reverse({"redemptionId": block["redemption_id"], "pointsToBeReversed": 40})
    assert first.json()["pointsReversed"] == 40
    rest = api.reverse({"redemptionId": block["redemption_id"], "pointsToBeReversed": 60})
    assert error_codes(rest) == [812]
    # Asking for more than remains is still 810, not 812.
    over = api.reverse({"redemptionId": block["redemption_id"], "pointsToBeReversed": 70})
    assert error_codes(over) == [810]
    whole = api.redeem_points(SPENDER, 100)
    assert not error_codes(api.reverse({"redemptionId": whole["redemption_id"]}))


# --- transfers ------------------------------------------------------------------------------

def test_transfer_no_otp_issued_confirms_but_sends_nothing(start: Start) -> None:
    api = _api(start, switches.TRANSFER_NO_OTP_ISSUED)
    check = api.post("/v2/points/isTransferrable",
                     transfer_body(SPENDER, RECEIVER, 100, issueOtp=True)).json()
    assert check["data"][0]["transferrable"] is True
    assert api.otp(purpose="transfer", mobile=SPENDER) is None


def test_transfer_debit_only_credits_no_one(start: Start) -> None:
    api = _api(start, switches.TRANSFER_DEBIT_ONLY)
    before = api.balance(mobile=SPENDER), api.balance(mobile=RECEIVER)
    code = api.transfer_code(SPENDER, RECEIVER, 100)
    record = api.post("/v2/points/transfer",
                      transfer_body(SPENDER, RECEIVER, 100, code=code)).json()["data"][0]
    assert record["pointsTransferred"] == 100
    assert (api.balance(mobile=SPENDER), api.balance(mobile=RECEIVER)) == (before[0] - 100,
                                                                           before[1])


def test_transfer_any_code_moves_points_on_a_wrong_code(start: Start) -> None:
    api = _api(start, switches.TRANSFER_ANY_CODE)
    before = api.balance(mobile=RECEIVER)
    response = api.post("/v2/points/transfer", transfer_body(SPENDER, RECEIVER, 100, code="NOPE"))
    assert not error_codes(response)
    assert api.balance(mobile=RECEIVER) == before + 100
    # Redeem codes are a different switch.
    api.redeem_code(SPENDER)
    assert item_code(_redeem(api, "ZZZZZZ")) == 808


def test_transfer_no_history_lists_nothing_but_still_knows_customers(start: Start) -> None:
    api = _api(start, switches.TRANSFER_NO_HISTORY)
    code = api.transfer_code(SPENDER, RECEIVER, 100)
    assert not error_codes(api.post("/v2/points/transfer",
                                    transfer_body(SPENDER, RECEIVER, 100, code=code)))
    listed = api.history(identifierName="mobile", identifierValue=SPENDER).json()
    assert listed["data"] == [] and listed["errors"] == []
    unknown = api.history(identifierName="mobile", identifierValue=UNKNOWN_MOBILE)
    assert error_codes(unknown) == [816]


def test_group_transfer_noop_answers_a_transfer_and_moves_nothing(start: Start) -> None:
    api = _api(start, switches.GROUP_TRANSFER_NOOP)
    before = api.balance(group_id=GROUP_ID), api.balance(mobile=RECEIVER)
    body = group_body(entity("USERGROUP2", "id", GROUP_ID), entity("CUSTOMER", "mobile", RECEIVER),
                      300, SPENDER)
    record = api.post("/v2/points/userGroup2/transfer", body).json()["data"][0]
    assert record["pointsTransferred"] == 300 and record["transferId"]
    assert (api.balance(group_id=GROUP_ID), api.balance(mobile=RECEIVER)) == before


# --- goodwill -------------------------------------------------------------------------------

def _goodwill(api: Api, body: dict, **kwargs: object) -> requests.Response:
    # Raw requests: some switches answer what the strict spec forbids (a state, a 500).
    kwargs.setdefault("headers", HEADERS)
    kwargs.setdefault("auth", AUTH)
    return api.session.post(api.base_url + PATHS[0], json=body, timeout=15, **kwargs)


def test_goodwill_wrong_state_reports_approved_and_credits_nothing(start: Start) -> None:
    api = _api(start, switches.GOODWILL_WRONG_STATE)
    before = api.balance(mobile=SPENDER)
    data = _goodwill(api, request_body()).json()["data"]
    assert data["state"] == "Approved" and data["requestType"] == "goodwill-points"
    assert api.balance(mobile=SPENDER) == before


def test_goodwill_no_validation_accepts_missing_fields_not_wrong_types(start: Start) -> None:
    api = _api(start, switches.GOODWILL_NO_VALIDATION)
    without = request_body()
    del without["entityInfo"]["tillId"]
    del without["payload"]["IntouchAPITask-Payload"]["body"]["reason"]
    del without["payload"]["IntouchAPITask-Payload"]["body"]["earningEntityId"]
    accepted = _goodwill(api, without)
    assert accepted.status_code == 200 and accepted.json()["data"]["state"] == "AdminTask"
    assert _goodwill(api, {}).status_code == 200
    wrong_type = request_body()
    wrong_type["payload"]["IntouchAPITask-Payload"]["body"]["points"] = "many"
    assert _goodwill(api, wrong_type).status_code == 400


def test_goodwill_credit_pending_credits_at_once(start: Start) -> None:
    api = _api(start, switches.GOODWILL_CREDIT_PENDING)
    before = api.balance(mobile=SPENDER)
    data = _goodwill(api, request_body(points=40)).json()["data"]
    assert data["state"] == "AdminTask"
    assert api.balance(mobile=SPENDER) == before + 40


def test_goodwill_no_token_check_still_wants_basic_credentials(start: Start) -> None:
    api = _api(start, switches.GOODWILL_NO_TOKEN_CHECK)
    assert _goodwill(api, request_body(), headers={}).status_code == 200
    assert _goodwill(api, request_body(), auth=None).status_code == 401


def test_goodwill_echo_credentials_echoes_the_authorization(start: Start) -> None:
    api = _api(start, switches.GOODWILL_ECHO_CREDENTIALS)
    sent = request_body()
    echoed = _goodwill(api, sent).json()["data"]["details"]["IntouchAPITask-Payload"]["headers"]
    headers = sent["payload"]["IntouchAPITask-Payload"]["headers"]
    for name in ("Authorization", "X-CAP-UI-AUTH-TOKEN"):
        assert echoed[name] == headers[name]
    assert echoed["X-CAP-API-AUTH-ORG-ID"] == int(ORG_ID)  # still answered as the table types it


# --- every operation ------------------------------------------------------------------------

TRACEBACK = re.compile(r"Traceback \(most recent call last\):\n  File \"[^\"]+\", line \d+")


def test_errors_stack_trace_answers_500_with_a_traceback_and_the_code(start: Start) -> None:
    server = start(faults=(switches.ERRORS_STACK_TRACE,))
    api = Api(server.base_url)
    get = api.session.get
    refused = get(api.base_url + "/v1.1/points/isredeemable",
                  params={"mobile": SPENDER, "points": "abc"}, auth=AUTH, timeout=15)
    block = redeemable(refused)
    assert refused.status_code == 500 and item_code(block) == 801
    assert TRACEBACK.search(block["item_status"]["message"])
    xml = get(api.base_url + "/v1.1/points/isredeemable", auth=AUTH, timeout=15,
              params={"mobile": SPENDER, "points": "abc", "format": "xml"})
    assert xml.status_code == 500 and "Traceback (most recent call last)" in xml.text
    broken = api.session.post(api.base_url + "/v2/points/reverse", data=b"{", auth=AUTH,
                              headers={"Content-Type": "application/json"}, timeout=15)
    assert broken.status_code == 500 and TRACEBACK.search(broken.json()["errors"][0]["message"])
    goodwill = _goodwill(api, {})
    assert goodwill.status_code == 500 and TRACEBACK.search(goodwill.json()["message"])
    # Business refusals are not errors: they keep their documented answer.
    assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=105))) == 807
    assert server.state.internal_errors == 0


# --- the command line -----------------------------------------------------------------------

def test_serve_fault_option_turns_the_switch_on() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", "--port", "0", "--fault",
         switches.OTP_REGENERATE, "--fault", "redeem.multiple"],
        cwd=repo_path(), env={**os.environ, "PYTHONPATH": str(repo_path())},
        stderr=subprocess.PIPE, text=True)
    try:
        match = re.search(r"on (http://127\.0\.0\.1:\d+) ", process.stderr.readline())
        assert match
        api = Api(match.group(1))
        assert api.redeem_code(SPENDER) != api.redeem_code(SPENDER)
        assert item_code(redeemable(api.isredeemable(mobile=SPENDER, points=105))) == 800
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_without_switches_the_documented_behaviour_holds(api: Api) -> None:
    # What several switches above depart from, on a server with none on.
    code = api.redeem_code(SPENDER)
    assert api.redeem_code(SPENDER) == code
    assert item_code(_redeem(api, _wrong(code))) == 808
    assert item_code(_redeem(api, None)) == 824
    assert api.otp(mobile=CUSTOMERS["spender"]["mobile"]) == code
