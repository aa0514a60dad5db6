"""The suite's own schemathesis checks, each shown to catch its fault on a real loopback target."""

from __future__ import annotations

import base64
import re

import pytest

from conformance import server
from conformance.checks import fuzz
from conformance.target.redaction import REDACTOR
from tests.targets import rewriting_proxy

USER, PASSWORD = "conformance", "reference-secret"


@pytest.fixture(scope="module")
def reference():
    with server.run_in_thread() as running:
        yield running.base_url


def _fuzz(url: str, operation: str, phases=("coverage", "fuzzing"), **extra) -> fuzz.FuzzOutcome:
    REDACTOR.add(PASSWORD, username=USER)
    settings = fuzz.FuzzSettings(base_url=url, username=USER, password=PASSWORD,
                                 org_id="100458", ui_token="reference-ui-token",
                                 max_examples=10, seed=3, **extra)
    return fuzz.run(settings, phases=list(phases), operation_ids=[operation])


def _failed(outcome: fuzz.FuzzOutcome) -> set[str]:
    return {f.req_id for f in outcome.failures}


def test_reference_server_passes_every_check(reference):
    outcome = _fuzz(reference, "isRedeemable")
    assert outcome.failures == []
    assert {"CON-01", "CON-02", "CON-03", "CON-04", "CON-05", "CON-06", "CON-07", "SEC-01"} <= \
        set(outcome.checks_run)


def _proxy_case(reference, rewrite):
    with rewriting_proxy(reference, rewrite) as url:
        return _fuzz(url, "isRedeemable")


def test_broken_xml_fails_con_02(reference):
    def rewrite(path, body):
        return body.replace(b"</response>", b"") if b"<response>" in body else body

    outcome = _proxy_case(reference, rewrite)
    assert "CON-02" in _failed(outcome)
    assert any("not well-formed" in f.message for f in outcome.failures if f.req_id == "CON-02")


def test_xml_that_breaks_the_xsd_fails_con_02(reference):
    def rewrite(path, body):
        return body.replace(b"<status>", b"<state>").replace(b"</status>", b"</state>")

    assert "CON-02" in _failed(_proxy_case(reference, rewrite))


def test_xml_and_json_disagreeing_fails_con_03(reference):
    def rewrite(path, body):
        return re.sub(rb"<points>(\d+)</points>", rb"<points>9\1</points>", body)

    outcome = _proxy_case(reference, rewrite)
    assert "CON-03" in _failed(outcome)


def _echo_mobile(xml_mobile: bytes, json_mobile: str):
    """A target answering every isredeemable with one customer's mobile, as XML or JSON."""
    import json as json_mod

    def reply(seen, handler):
        item = {"success": "false", "code": 802, "message": "invalid"}
        points = {"redeemable": {"mobile": json_mobile, "points": 10, "is_redeemable": "false",
                                 "item_status": item}}
        status = {"success": "false", "code": 200, "message": "invalid"}
        if "format=xml" in seen.path:
            body = (b"<response><status><success>false</success><code>200</code><message>"
                    b"invalid</message></status><points><redeemable><mobile>" + xml_mobile +
                    b"</mobile><points>10</points><is_redeemable>false</is_redeemable>"
                    b"<item_status><success>false</success><code>802</code><message>invalid"
                    b"</message></item_status></redeemable></points></response>")
            return 200, {"Content-Type": "application/xml"}, body
        data = {"response": {"status": status, "points": points}}
        return 200, {"Content-Type": "application/json"}, json_mod.dumps(data).encode()

    return reply


@pytest.mark.parametrize("xml_mobile", [b"44\r\n77", b"44&#13;\n77"], ids=["raw", "escaped"])
def test_a_carriage_return_written_raw_or_escaped_in_xml_is_parity(stub, xml_mobile):
    # A parser reads a raw CR as LF; writing it raw or as &#13; are both legitimate.
    target = stub(_echo_mobile(xml_mobile, "44\r\n77"))
    outcome = _fuzz(target.url, "isRedeemable", phases=("examples", "coverage"))
    assert outcome.checks_run.get("CON-03")
    assert "CON-03" not in _failed(outcome)


def test_a_different_value_in_xml_and_json_is_caught_by_the_same_target(stub):
    target = stub(_echo_mobile(b"44 77", "44\r\n77"))
    outcome = _fuzz(target.url, "isRedeemable", phases=("examples", "coverage"))
    assert "CON-03" in _failed(outcome)


def test_asking_for_xml_and_getting_json_fails_con_06(reference):
    with rewriting_proxy(reference, lambda path, body: body,
                         content_type=lambda value: "application/json") as url:
        outcome = _fuzz(url, "isRedeemable")
    assert "CON-06" in _failed(outcome)
    assert any("format=xml" in f.message for f in outcome.failures if f.req_id == "CON-06")


def test_a_stack_trace_in_an_error_body_fails_sec_02(reference):
    def rewrite(path, body):
        if b'"success":"false"' in body or b"<success>false" in body:
            return body.replace(b"}", b',"debug":"Traceback (most recent call last):"}', 1)
        return body

    assert "SEC-02" in _failed(_proxy_case(reference, rewrite))


def test_a_credential_echoed_in_a_response_fails_sec_01(reference):
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode())

    def rewrite(path, body):
        return body.replace(b'"message":"', b'"message":"' + token + b" ", 1)

    outcome = _proxy_case(reference, rewrite)
    assert "SEC-01" in _failed(outcome)
    for failure in outcome.failures:
        assert PASSWORD not in failure.message and token.decode() not in failure.message
        assert token.decode() not in (failure.exchange or {}).get("response_body", "")


def test_schema_invalid_input_accepted_fails_con_05(reference):
    def accept(path, body):
        # Every refusal dressed as a success: invalid input now looks accepted.
        for code in (b"400", b"801", b"802", b"816"):
            body = body.replace(b'"code":' + code, b'"code":800')
        return body.replace(b'"success":"false"', b'"success":"true"')

    with rewriting_proxy(reference, accept, status=lambda code: 200 if code == 400 else code) \
            as url:
        outcome = _fuzz(url, "isRedeemable")
    assert "CON-05" in _failed(outcome)


def test_the_fuzz_phase_leaves_out_exactly_the_documented_state_changing_operations():
    assert fuzz.MUTATING_OPERATIONS == {
        "redeemPoints", "reversePoints", "transferPoints", "transferGroupPoints",
        "requestGoodwillPoints", "requestGoodwillPointsV2Prefix"}


def test_a_501_to_a_method_the_path_does_not_serve_is_no_server_error():
    # RFC 9110 lets a server answer 501 to a method it does not support, as 405; schemathesis's
    # own not_a_server_error calls it a server error (CON-04 on every operation).
    with server.run_in_thread(variants=("http.501-unknown-method",)) as running:
        outcome = _fuzz(running.base_url, "getTransferHistory", phases=("coverage",))
    assert "CON-04" not in _failed(outcome), [f.message for f in outcome.failures]
    assert outcome.checks_run.get("CON-04")


def test_a_501_to_a_documented_method_is_still_a_server_error(reference):
    with rewriting_proxy(reference, lambda path, body: body, status=lambda code: 501) as url:
        outcome = _fuzz(url, "getTransferHistory", phases=("coverage",))
    assert "CON-04" in _failed(outcome)


def test_a_generated_header_that_frames_the_message_is_never_sent(stub):
    # Seed 4 generated an empty Transfer-Encoding beside the Content-Length: uvicorn refused
    # the malformed request with a text/plain 400, and CON-06 failed a correct server.
    target = stub(lambda seen, handler: (200, {"Content-Type": "application/json"}, b"{}"))
    settings = fuzz.FuzzSettings(base_url=target.url, username=USER, password=PASSWORD)
    operation = fuzz.build_schema(settings, phases=["examples"]).find_operation_by_id(
        "reversePoints")
    case = operation.Case(body={"redemptionId": 1}, media_type="application/json",
                          headers={"Transfer-Encoding": "", "Connection": "x", "X-Kept": "1"})
    case.call()
    (seen,) = target.seen
    names = {name.lower() for name in seen.headers}
    assert "x-kept" in names
    assert "transfer-encoding" not in names and seen.headers.get("Connection") != "x"
