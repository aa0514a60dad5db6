"""The access log: one line per request, with no credentials or codes in it."""

from __future__ import annotations

import logging
import re
import time

import pytest

from conformance.server.accesslog import redact_query

from .support import AUTH, MOBILE, Api


def test_redact_query() -> None:
    assert redact_query("mobile=1&validation_code=ABC123&code=X&points=5") == (
        "mobile=1&validation_code=REDACTED&code=REDACTED&points=5")
    assert redact_query("Password=p&token=t&client_secret=s") == (
        "Password=REDACTED&token=REDACTED&client_secret=REDACTED")
    assert redact_query("barcode=1&mobile=2") == "barcode=1&mobile=2"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "conformance.server.access"]


def test_one_line_per_request(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="conformance.server.access"):
        api.isredeemable(mobile=MOBILE["spender"], points=100, validation_code="SECRET")
        api.request("POST", "/v2/points/reverse", json={"redemptionId": 1}, auth=None)
        # The line is written once the response has gone, maybe after the client has it.
        deadline = time.monotonic() + 5
        while len(_lines(caplog)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = _lines(caplog)
    assert len(lines) == 2
    assert re.fullmatch(r"127\.0\.0\.1 GET /v1\.1/points/isredeemable\?mobile=447700900001"
                        r"&points=100&validation_code=REDACTED 200 \d+\.\dms", lines[0])
    assert re.fullmatch(r"127\.0\.0\.1 POST /v2/points/reverse 401 \d+\.\dms", lines[1])
    assert "SECRET" not in caplog.text and AUTH[1] not in caplog.text
