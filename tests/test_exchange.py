"""The curl line of a recorded exchange: it runs as pasted into bash, credentials from the
environment, and gets the answer the run got."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conformance import server
from conformance.paths import fixtures_dir
from conformance.target.client import TargetClient
from conformance.target.exchange import Exchange, curl_line, header_var
from conformance.target.profile import load_profile
from conformance.target.redaction import MASK, REDACTOR

PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
# The reference profile's defaults (fixtures/profiles/reference.yaml) when these are unset
USER, PASSWORD, UI_TOKEN = "conformance", "reference-secret", "reference-ui-token"
ENV = {"POINTS_API_USER": USER, "POINTS_API_PASSWORD": PASSWORD,
       "POINTS_API_PASSWORD_MD5": hashlib.md5(PASSWORD.encode()).hexdigest(),
       "POINTS_UI_TOKEN": UI_TOKEN}
# A body no naive quoting survives: quotes, $, backticks, !, a backslash, a newline
TRICKY = "it's \"$HOME\" `id` !x \\ end\nsecond line"


def run_in_bash(line: str, **env: str) -> tuple[int, dict, str]:
    """Run a curl line as a user would paste it; the status, headers and body it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POINTS_")}
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30,
                          env={**clean, **env})
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = dict(h.split(": ", 1) for h in header_lines if ": " in h)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.fixture
def faulty():
    """The reference server, redeeming amounts that are not a multiple (redeem.multiple)."""
    with server.run_in_thread(faults=("redeem.multiple",)) as running:
        yield running


def client_for(base_url: str, *, md5: bool = False) -> tuple[TargetClient, list[Exchange]]:
    profile = load_profile(PROFILE, env={}, base_url=base_url)
    if md5:
        profile = dataclasses.replace(profile, auth=dataclasses.replace(profile.auth,
                                                                        password_md5=True))
    seen: list[Exchange] = []
    return TargetClient(profile, recorder=seen.append), seen


needs_curl = pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None,
                                reason="curl and bash are what the line is written for")


# --- the line itself ----------------------------------------------------------------------------

def test_credentials_become_environment_variables_and_computed_headers_are_left_to_curl():
    line = curl_line("POST", "http://127.0.0.1:8080/v2/points/isTransferrable",
                     {"Authorization": MASK, "X-CAP-UI-AUTH-TOKEN": MASK,
                      "X-Api-Key": f"Key {MASK}", "Content-Length": "17", "Host": "h",
                      "Content-Type": "application/json", "X-Empty": ""},
                     '{"points": 50}', auth="basic")
    assert '-u "$POINTS_API_USER:$POINTS_API_PASSWORD"' in line
    assert "-H 'X-CAP-UI-AUTH-TOKEN: '\"$POINTS_UI_TOKEN\"" in line
    assert "-H 'X-Api-Key: Key '\"$POINTS_HEADER_X_API_KEY\"" in line
    assert "-H 'X-Empty;'" in line  # "X-Empty:" would make curl drop the header
    assert MASK not in line and "Content-Length" not in line and "Host:" not in line
    assert "Authorization" not in line


def test_an_md5_profile_reads_the_digest_from_its_own_variable():
    line = curl_line("GET", "http://h/x", {"Authorization": MASK}, None, auth="basic-md5")
    assert '-u "$POINTS_API_USER:$POINTS_API_PASSWORD_MD5"' in line


def test_an_authorization_that_is_not_the_profile_s_reads_a_header_variable():
    line = curl_line("GET", "http://h/x", {"Authorization": MASK}, None)
    assert header_var("Authorization") == "POINTS_HEADER_AUTHORIZATION"
    assert "-H 'Authorization: '\"$POINTS_HEADER_AUTHORIZATION\"" in line and "-u" not in line


def test_head_is_sent_as_head_and_urls_are_not_globbed():
    line = curl_line("HEAD", "http://h/x?a[0]={b}", {}, None)
    assert " -I " in line and "-X HEAD" not in line and " -g " in line


def test_the_client_records_which_credentials_it_sent():
    profile = load_profile(PROFILE, env={}, base_url="http://127.0.0.1:9")
    REDACTOR.add(profile.auth.password, username=profile.auth.username)
    digest = hashlib.md5(PASSWORD.encode()).hexdigest()

    def basic(password: str) -> str:
        return "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()

    assert REDACTOR.basic_kind(basic(PASSWORD)) == "basic"
    assert REDACTOR.basic_kind(basic(digest)) == "basic-md5"
    assert REDACTOR.basic_kind(basic("someone-else")) is None


# --- run as pasted, against a real server -------------------------------------------------------

@needs_curl
def test_the_curl_line_of_a_failing_answer_reproduces_it(faulty):
    client, seen = client_for(faulty.base_url)
    response = client.request("GET", "/v1.1/points/isredeemable",
                              params={"mobile": "447700900001", "points": 51, "format": "json",
                                      "program_id": 504})
    exchange = seen[-1]
    line = exchange.curl()
    assert PASSWORD not in line and MASK not in line
    status, _, body = run_in_bash(line, **ENV)
    assert status == response.status_code == 200
    item = json.loads(body)["response"]["points"]["redeemable"]["item_status"]
    assert item["code"] == 800  # 51 is not a multiple of 10, and the faulty server says yes
    # Without the variables the same line is refused: the credentials come from them alone.
    assert run_in_bash(line)[0] == 401


@needs_curl
def test_an_md5_profile_s_line_reproduces_with_the_digest_variable(faulty):
    client, seen = client_for(faulty.base_url, md5=True)
    client.request("GET", "/v1.1/points/isredeemable",
                   params={"mobile": "447700900001", "points": 51, "format": "json"})
    line = seen[-1].curl()
    assert "$POINTS_API_PASSWORD_MD5" in line
    status, _, body = run_in_bash(line, **ENV)
    assert status == 200 and '"code":800' in body.replace(" ", "")


@needs_curl
def test_a_body_no_naive_quoting_survives_arrives_byte_for_byte(faulty):
    client, seen = client_for(faulty.base_url)
    document = {"sourceEntity": {"identifierType": "mobile", "identifierValue": "447700900001"},
                "destinationEntity": {"identifierType": "mobile",
                                      "identifierValue": "447700900002"},
                "pointsToBeTransferred": 50, "notes": TRICKY}
    response = client.request("POST", "/v2/points/isTransferrable", json=document)
    line = seen[-1].curl()
    assert "Content-Length" not in line
    status, _, body = run_in_bash(line, **ENV)
    assert status == response.status_code
    assert json.loads(body) == response.json()
    assert json.loads(seen[-1].request_body)["notes"] == TRICKY


@needs_curl
def test_the_ui_token_comes_from_its_variable(faulty):
    client, seen = client_for(faulty.base_url)
    response = client.request("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS",
                              json={}, goodwill=True)
    line = seen[-1].curl()
    assert "\"$POINTS_UI_TOKEN\"" in line and UI_TOKEN not in line
    assert run_in_bash(line, **ENV)[0] == response.status_code != 401
    assert run_in_bash(line, **{**ENV, "POINTS_UI_TOKEN": "wrong"})[0] == 401
