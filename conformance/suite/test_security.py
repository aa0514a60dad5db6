"""Security advisories: answers echo no credential and error bodies leak no internals.

The contract phase applies the same checks to every fuzzed call; these scenarios add the calls
fuzzing rarely makes: a goodwill task carrying a credential, and input that cannot be parsed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

# One definition of a leak, shared with fuzzing.
from conformance.checks.contract import LEAK_PATTERN
from conformance.suite.steps import goodwill, transfer
from conformance.suite.steps.common import expect, identifier, note, points_multiple
from conformance.target.client import MUTATIONS_REFUSED
from conformance.target.profile import ProfileError
from conformance.target.redaction import REDACTOR

ISREDEEMABLE_PATH = "/v1.1/points/isredeemable"
REVERSE_PATH = "/v2/points/reverse"
# Cut off inside an object: no JSON parser can read it.
BROKEN_JSON = '{"pointsTobeTransferred": 10, "fromCustomerIdentifier": {"type": '
JSON_HEADERS = {"Content-Type": "application/json"}
SAMPLE_EARNING_ID = 382332518


def _texts(response: Any) -> list[str]:
    """The answer as sent and as parsed (a target may escape "/" in JSON), with its headers."""
    raw = response.content.decode("utf-8", "replace")
    texts = [raw, " ".join(f"{name}: {value}" for name, value in response.headers.items())]
    try:
        texts.append(json.dumps(response.json(), ensure_ascii=False))
    except ValueError:
        pass
    return texts


def _echoes_a_credential(response: Any) -> bool:
    secrets = REDACTOR.secrets
    return any(secret in text for text in _texts(response) for secret in secrets)


@pytest.mark.requirement("SEC-01")
def test_responses_do_not_echo_credentials(pc):
    points = points_multiple(pc)
    spender = identifier(pc, "spender")
    # Registered with the redactor before it is sent, so no report of ours can carry it either.
    fake = goodwill.fake_authorization("sec01")
    answers: list[tuple[str, Any]] = [
        ("isredeemable", pc.client.request(
            "GET", ISREDEEMABLE_PATH, note="isredeemable (credential echo check)",
            params={spender.key: spender.value, "points": pc.profile.program.min_redeem,
                    "format": "json"})),
        ("isTransferrable", pc.client.request(
            "POST", transfer.TRANSFER_CHECK_PATH, note="isTransferrable (credential echo check)",
            json=transfer.transfer_body(pc, "spender", "receiver", points))),
    ]
    history = transfer.ENTITY_TYPES.get(spender.key)
    if history is not None:
        answers.append(("transfer history", pc.client.request(
            "GET", transfer.TRANSFER_PATH, note="transfer history (credential echo check)",
            params={"identifierName": history, "identifierValue": spender.value,
                    "userEntityType": "CUSTOMER"})))
    if not pc.client.mutations_allowed:
        note(pc, f"goodwill not tried ({MUTATIONS_REFUSED}): the echo of a credential "
                 "inside a goodwill task was not checked")
    else:
        try:
            pc.client.goodwill_headers()
        except ProfileError as exc:
            note(pc, f"goodwill not tried: {exc}")
        else:
            user_id = transfer.user_id(pc, "spender") or SAMPLE_EARNING_ID
            document = goodwill.goodwill_document(pc, user_id, points, authorization=fake)
            answers.append(("goodwill (a recognisable fake Authorization in the task headers)",
                            goodwill.goodwill_response(
                                pc, document, what="goodwill request (credential echo check)")))
    echoing = [what for what, response in answers if _echoes_a_credential(response)]
    expect(not echoing, "no answer carries a credential the suite sent (Basic credentials, the "
           "UI token, the fake Authorization in the goodwill task), in clear or encoded",
           f"a credential (not shown) in: {', '.join(echoing)}")


@pytest.mark.requirement("SEC-02")
def test_error_bodies_leak_no_internals(pc):
    spender = identifier(pc, "spender")
    broken = {"data": BROKEN_JSON, "headers": JSON_HEADERS}
    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("isTransferrable with a broken JSON body", "POST", transfer.TRANSFER_CHECK_PATH, broken),
        ("userGroup2/isTransferrable with a broken JSON body", "POST",
         transfer.GROUP_CHECK_PATH, broken),
        ("isredeemable with points=abc (json)", "GET", ISREDEEMABLE_PATH,
         {"params": {spender.key: spender.value, "points": "abc", "format": "json"}}),
        ("isredeemable with points=abc (xml)", "GET", ISREDEEMABLE_PATH,
         {"params": {spender.key: spender.value, "points": "abc", "format": "xml"}}),
        ("transfer history with an unknown identifierName", "GET", transfer.TRANSFER_PATH,
         {"params": {"identifierName": "pc-unknown", "identifierValue": spender.value}}),
    ]
    if pc.client.mutations_allowed:
        # Nothing can change: a body no parser reads names no redemption or transfer.
        calls += [("reverse with a broken JSON body", "POST", REVERSE_PATH, broken),
                  ("transfer with a broken JSON body", "POST", transfer.TRANSFER_PATH, broken)]
    else:
        note(pc, f"reverse and transfer not tried ({MUTATIONS_REFUSED})")
    leaks = []
    for what, method, path, options in calls:
        response = pc.client.request(method, path, note=what, **options)
        found = LEAK_PATTERN.search(response.content.decode("utf-8", "replace"))
        if found:
            leaks.append(f"{what}: HTTP {response.status_code}, {found.group(0)!r}")
    expect(not leaks, "no stack trace or internal host name in any error body",
           "; ".join(leaks))
