"""The HTTP client against real loopback servers: auth, guard, redirects, limits, recording."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler

import pytest
import requests
import schemathesis

from conformance.target import client as client_module
from conformance.target.client import (
    MAX_BODY_BYTES,
    MUTATING_PATHS,
    MutationRefused,
    ResponseTooLarge,
    TargetClient,
    TargetUnreachable,
    is_loopback_host,
)
from conformance.target.exchange import Exchange
from conformance.target.profile import Auth, Identifier, Profile, ProfileError, Program
from tests.targets import Reply, Seen

USER, PASSWORD, UI_TOKEN = "qa-client", "Cl1ent-Secret-pw", "ui-client-token-123"
MD5 = hashlib.md5(PASSWORD.encode()).hexdigest()
NOWHERE = "http://staging.example.invalid"  # .invalid never resolves (RFC 6761)


def echo(seen: Seen, _handler: BaseHTTPRequestHandler) -> Reply:
    """Answers with everything it received, as a hostile target echoing credentials would."""
    body = json.dumps({"method": seen.method, "path": seen.path, "headers": seen.headers,
                       "body": seen.body.decode("utf-8", "replace")}).encode()
    return 200, {"Content-Type": "application/json"}, body


def make_profile(base_url: str, *, md5: bool = False, timeout_s: float = 5.0,
                 ui_token: str | None = UI_TOKEN) -> Profile:
    return Profile(
        base_url=base_url, timeout_s=timeout_s,
        auth=Auth(username=USER, password=PASSWORD, password_md5=md5, org_id="100458",
                  ui_token=ui_token),
        program=Program(points_multiple=10, min_redeem=50, max_redeem=1000),
        customers={"spender": Identifier("mobile", "447700900001")},
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()


# --- credentials ------------------------------------------------------------------------------

def test_basic_auth_with_plain_password(stub):
    server = stub(echo)
    client = TargetClient(make_profile(server.url))
    response = client.request("GET", "/v1.1/points/isredeemable", params={"mobile": "44 7"})
    assert response.status_code == 200
    assert server.seen[0].headers["Authorization"] == basic(PASSWORD)
    assert server.seen[0].path == "/v1.1/points/isredeemable?mobile=44+7"


def test_basic_auth_with_md5_password_as_the_samples_send(stub):
    server = stub(echo)
    TargetClient(make_profile(server.url, md5=True)).request("GET", "/v1.1/points/isredeemable")
    assert server.seen[0].headers["Authorization"] == basic(MD5)


def test_auth_false_sends_no_credentials(stub):
    server = stub(echo)
    TargetClient(make_profile(server.url)).request("GET", "/x", auth=False)
    assert "Authorization" not in server.seen[0].headers


def test_goodwill_headers_only_when_asked(stub):
    server = stub(echo)
    client = TargetClient(make_profile(server.url))
    client.request("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS", json={},
                   goodwill=True)
    client.request("GET", "/v1.1/points/isredeemable")
    with_goodwill, without = server.seen
    assert with_goodwill.headers["X-CAP-API-AUTH-ORG-ID"] == "100458"
    assert with_goodwill.headers["X-CAP-UI-AUTH-TOKEN"] == UI_TOKEN
    assert with_goodwill.headers["Authorization"] == basic(PASSWORD)
    assert "X-CAP-UI-AUTH-TOKEN" not in without.headers
    assert "X-CAP-API-AUTH-ORG-ID" not in without.headers


def test_goodwill_without_token_is_a_profile_error_before_sending(stub):
    server = stub(echo)
    client = TargetClient(make_profile(server.url, ui_token=None))
    with pytest.raises(ProfileError, match="auth.ui_token: needed for goodwill calls"):
        client.request("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS", json={},
                       goodwill=True)
    assert server.seen == []


def test_cookies_set_by_the_target_are_not_sent_back(stub):
    server = stub(lambda seen, h: (200, {"Set-Cookie": "session=abc; Path=/"}, b"{}"))
    client = TargetClient(make_profile(server.url))
    client.request("GET", "/a")
    client.request("GET", "/b", auth=False)
    assert "Cookie" not in server.seen[1].headers  # a session cookie could hide a missing 401


def test_base_url_path_prefix_is_kept(stub):
    server = stub(echo)
    TargetClient(make_profile(server.url + "/api")).request("GET", "/v2/points/transfer")
    assert server.seen[0].path == "/api/v2/points/transfer"


# --- timeouts and unreachable targets ---------------------------------------------------------

def test_timeout_on_a_server_that_never_answers(stub, released):
    def silent(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        released.wait(60)  # until the test is over: only the client's timeout ends the call
        return 200, {}, b"{}"

    server = stub(silent)
    client = TargetClient(make_profile(server.url, timeout_s=0.5))
    with pytest.raises(TargetUnreachable) as info:
        client.request("GET", "/v1.1/points/isredeemable")
    assert "no answer within 0.5 s" in str(info.value)
    assert "\n" not in str(info.value)
    (exchange,) = client.exchanges
    assert exchange.status is None and exchange.error == str(info.value)
    assert info.value.exchange is exchange


def test_a_body_trickling_past_the_timeout_is_abandoned(stub, released):
    def trickle(seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        # Each byte well within the socket timeout, the whole never: a client without a
        # deadline for the whole answer would wait until the test is over.
        while not released.wait(0.2):
            handler.wfile.write(b"x")
            handler.wfile.flush()

    server = stub(trickle)
    client = TargetClient(make_profile(server.url, timeout_s=0.5))
    with pytest.raises(TargetUnreachable, match="still incomplete"):
        client.request("GET", "/slow")
    assert client.exchanges[0].status == 200


def test_connection_refused_is_recorded_and_one_line():
    seen: list[Exchange] = []
    client = TargetClient(make_profile(f"http://127.0.0.1:{closed_port()}"), recorder=seen.append)
    with pytest.raises(TargetUnreachable) as info:
        client.request("GET", "/v1.1/points/isredeemable")
    assert "connection refused" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, requests.ConnectionError)  # schemathesis sees a network error
    assert seen == client.exchanges and seen[0].status is None and seen[0].error


def test_the_client_says_the_target_is_gone_after_calls_in_a_row_without_an_answer(stub):
    silent = threading.Event()

    def answers_until_silenced(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply | None:
        if silent.is_set():
            return None  # hangs up without a word
        return 200, {"Content-Type": "application/json"}, b"{}"

    client = TargetClient(make_profile(stub(answers_until_silenced).url, timeout_s=0.5))
    client.request("GET", "/v1.1/points/isredeemable")
    silent.set()
    for _ in range(client_module.NO_ANSWER_LIMIT - 1):
        with pytest.raises(TargetUnreachable):
            client.request("GET", "/v1.1/points/isredeemable")
    assert client.gone is None  # not yet: one more may still be answered
    with pytest.raises(TargetUnreachable):
        client.request("GET", "/v1.1/points/isredeemable")
    assert "calls in a row got no answer" in client.gone
    assert "connection closed" in client.gone
    silent.clear()
    client.request("GET", "/v1.1/points/isredeemable")
    assert client.gone is None  # an answer resets the count


# --- redirects --------------------------------------------------------------------------------

def test_same_origin_redirect_is_followed_with_credentials(stub):
    def reply(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/start":
            return 302, {"Location": "/final?x=1"}, b""
        return echo(seen, handler)

    server = stub(reply)
    client = TargetClient(make_profile(server.url))
    response = client.request("GET", "/start")
    assert response.status_code == 200 and response.json()["path"] == "/final?x=1"
    assert [r.status_code for r in response.history] == [302]
    assert server.seen[1].headers["Authorization"] == basic(PASSWORD)
    assert [e.status for e in client.exchanges] == [302, 200]


def test_redirect_to_another_host_is_not_followed_and_gets_no_credentials(stub):
    other = stub(echo)
    elsewhere = other.url.replace("127.0.0.1", "localhost") + "/steal"
    server = stub(lambda seen, h: (307, {"Location": elsewhere}, b""))
    client = TargetClient(make_profile(server.url))
    response = client.request("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS",
                              json={"a": 1}, goodwill=True)
    assert response.status_code == 307 and response.headers["Location"] == elsewhere
    assert other.seen == []  # not a single byte reached the other host
    assert [e.status for e in client.exchanges] == [307]
    # Control: the other host is reachable, so following would have been noticed.
    assert requests.get(elsewhere, timeout=5).status_code == 200
    assert other.seen and "Authorization" not in other.seen[0].headers


def test_redirect_to_another_port_of_the_same_host_is_not_followed(stub):
    other = stub(echo)
    server = stub(lambda seen, h: (302, {"Location": other.url + "/x"}, b""))
    response = TargetClient(make_profile(server.url)).request("GET", "/start")
    assert response.status_code == 302 and other.seen == []


def test_307_keeps_method_and_body_303_switches_to_get(stub):
    def reply(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/keep":
            return 307, {"Location": "/kept"}, b""
        if seen.path == "/see":
            return 303, {"Location": "/seen"}, b""
        return echo(seen, handler)

    server = stub(reply)
    client = TargetClient(make_profile(server.url))
    kept = client.request("POST", "/keep", json={"n": 1}).json()
    assert kept["method"] == "POST" and json.loads(kept["body"]) == {"n": 1}
    seen = client.request("POST", "/see", json={"n": 1}).json()
    assert seen["method"] == "GET" and seen["body"] == ""


def test_at_most_five_redirects_are_followed(stub):
    server = stub(lambda seen, h: (302, {"Location": "/again"}, b""))
    client = TargetClient(make_profile(server.url))
    response = client.request("GET", "/start")
    assert response.status_code == 302
    assert len(server.seen) == 6 and len(response.history) == 5


# --- the mutation guard -----------------------------------------------------------------------

@pytest.mark.parametrize("path", MUTATING_PATHS)
def test_mutations_refused_on_a_non_loopback_target_before_connecting(path):
    client = TargetClient(make_profile(NOWHERE))
    # The name cannot resolve: had a connection been tried, TargetUnreachable would come instead.
    with pytest.raises(MutationRefused, match="--allow-mutations"):
        client.request("POST", path, json={})
    assert client.exchanges == []


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1.1/points/Redeem/"),
    ("POST", "/v1.1//points/%72edeem"),
    ("PUT", "/v2/points/reverse"),
    ("DELETE", "/v2/points/transfer"),
    ("PATCH", "/anything"),
    ("POST", "/v2/points/userGroup2/transfer?x=1"),
])
def test_odd_spellings_and_methods_are_refused_too(method, path):
    with pytest.raises(MutationRefused):
        TargetClient(make_profile(NOWHERE)).request(method, path)


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1.1/points/isredeemable"),
    ("GET", "/v2/points/transfer"),  # the transfer history
    ("POST", "/v2/points/isTransferrable"),
    ("POST", "/v2/points/userGroup2/isTransferrable"),
])
def test_read_only_calls_go_out_to_a_non_loopback_target(method, path):
    # Reaching the network (and failing to resolve) proves the guard let it through.
    with pytest.raises(TargetUnreachable, match="host name does not resolve"):
        TargetClient(make_profile(NOWHERE + "/api")).request(method, path, json={})


def test_allow_mutations_lets_a_redeem_out():
    client = TargetClient(make_profile(NOWHERE), allow_mutations=True)
    with pytest.raises(TargetUnreachable):
        client.request("POST", "/v1.1/points/redeem", json={})


def test_loopback_target_gets_mutations_without_the_flag(stub):
    server = stub(echo)
    client = TargetClient(make_profile(server.url))
    assert client.is_loopback
    assert client.request("POST", "/v1.1/points/redeem", json={}).status_code == 200


def test_the_session_applies_the_guard_for_third_party_code():
    client = TargetClient(make_profile(NOWHERE))
    assert not client.is_loopback
    with pytest.raises(MutationRefused):
        client.session.post(NOWHERE + "/v2/points/reverse", json={})
    prepared = requests.Request("POST", NOWHERE + "/v1.1/points/redeem").prepare()
    with pytest.raises(MutationRefused):
        client.session.send(prepared)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("LOCALHOST.", True),
    ("::1", True), ("[::1]", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.1", False), ("staging.example.com", False), ("127.0.0.1.nip.io", False),
    ("2130706433", False), ("", False), (None, False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


# --- size cap ---------------------------------------------------------------------------------

def test_body_over_the_cap_announced_by_content_length_is_not_read(stub, released):
    def huge(seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 * 1024 * 1024))
        handler.end_headers()
        handler.wfile.write(b"x" * 1024)
        released.wait(60)  # the rest never comes: a client reading it whole would hang

    server = stub(huge)
    client = TargetClient(make_profile(server.url))
    with pytest.raises(ResponseTooLarge, match="over the 5 MB limit"):
        client.request("GET", "/huge")
    (exchange,) = client.exchanges
    assert exchange.status == 200 and "5 MB" in (exchange.error or "")


def test_streamed_body_over_the_cap_stops_at_the_limit(stub):
    def stream(seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: the body ends when the connection closes
        chunk = b"y" * 65536
        try:
            for _ in range(6 * 1024 * 1024 // len(chunk) + 1):
                handler.wfile.write(chunk)
        except OSError:
            pass

    server = stub(stream)
    client = TargetClient(make_profile(server.url))
    with pytest.raises(ResponseTooLarge, match="stopped reading") as info:
        client.request("GET", "/stream")
    evidence = info.value.exchange
    assert evidence is not None and evidence.status == 200
    assert len(evidence.response_body or "") < 70 * 1024  # clipped evidence, not 5 MB


def test_body_under_the_cap_is_read_whole(stub):
    payload = b"z" * (MAX_BODY_BYTES - 10)
    server = stub(lambda seen, h: (200, {"Content-Type": "text/plain"}, payload))
    response = TargetClient(make_profile(server.url)).request("GET", "/big")
    assert response.content == payload
    assert b"".join(response.iter_content(1 << 20)) == payload


# --- recording --------------------------------------------------------------------------------

def test_every_exchange_is_recorded_and_handed_to_the_recorder(stub):
    server = stub(echo)
    recorded: list[Exchange] = []
    client = TargetClient(make_profile(server.url), recorder=recorded.append)
    client.request("POST", "/v1.1/points/redeem", json={"points": 10}, note="redeem 10")
    (exchange,) = recorded
    assert client.exchanges == recorded
    assert exchange.method == "POST" and exchange.url == server.url + "/v1.1/points/redeem"
    assert exchange.status == 200 and exchange.note == "redeem 10"
    assert json.loads(exchange.request_body or "") == {"points": 10}
    assert json.loads(exchange.response_body or "")["method"] == "POST"
    assert exchange.elapsed_ms > 0


def test_recorded_exchanges_are_bounded(stub, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_KEPT_EXCHANGES", 3)
    server = stub(echo)
    client = TargetClient(make_profile(server.url))
    for n in range(5):
        client.request("GET", f"/n{n}")
    assert [e.url.rsplit("/", 1)[1] for e in client.exchanges] == ["n2", "n3", "n4"]


def test_recording_is_thread_safe(stub):
    server = stub(echo)
    client = TargetClient(make_profile(server.url))
    threads = [threading.Thread(target=client.request, args=("GET", f"/t{n}")) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e.url for e in client.exchanges) == sorted(f"{server.url}/t{n}"
                                                             for n in range(20))


@pytest.mark.parametrize("md5", [False, True])
def test_recorded_exchanges_never_contain_a_credential(stub, md5):
    server = stub(echo)
    recorded: list[Exchange] = []
    client = TargetClient(make_profile(server.url, md5=md5), recorder=recorded.append)
    client.request("POST", "/api_gateway/v2/request-workflow/GOODWILL-POINTS", goodwill=True,
                   json={"note": f"{PASSWORD} {UI_TOKEN} {MD5}"})
    client.request("GET", "/v1.1/points/isredeemable", params={"t": UI_TOKEN})
    dead = TargetClient(make_profile(f"http://127.0.0.1:{closed_port()}", md5=md5),
                        recorder=recorded.append)
    with pytest.raises(TargetUnreachable) as info:
        dead.request("GET", f"/x?p={PASSWORD}")
    assert len(recorded) == 3
    evidence = json.dumps([e.to_dict() for e in recorded]) + str(info.value)
    assert PASSWORD in server.seen[0].body.decode()  # the echo really carried them
    assert server.seen[0].headers["Authorization"] == basic(MD5 if md5 else PASSWORD)
    forbidden = [PASSWORD, MD5, UI_TOKEN, basic(PASSWORD)[6:], basic(MD5)[6:]]
    for secret in forbidden:
        assert secret not in evidence
    assert "[REDACTED]" in evidence


# --- third-party code on the session ----------------------------------------------------------

def test_schemathesis_case_call_goes_through_the_session(stub):
    server = stub(echo)
    client = TargetClient(make_profile(server.url))
    schema = schemathesis.openapi.from_dict({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/v1.1/points/isredeemable": {"get": {
            "parameters": [{"name": "mobile", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}}}}},
    })
    case = schema["/v1.1/points/isredeemable"]["GET"].Case(query={"mobile": "447700900001"})
    response = case.call(base_url=server.url, session=client.session)
    assert response.status_code == 200
    assert server.seen[0].headers["Authorization"] == basic(PASSWORD)
    assert client.exchanges[0].url.endswith("/v1.1/points/isredeemable?mobile=447700900001")


def test_mutations_allowed_and_password_as_sent_for_the_fuzzer(stub):
    server = stub(echo)
    assert TargetClient(make_profile(server.url)).mutations_allowed
    assert not TargetClient(make_profile(NOWHERE)).mutations_allowed
    assert TargetClient(make_profile(NOWHERE), allow_mutations=True).mutations_allowed
    assert TargetClient(make_profile(NOWHERE, md5=True)).password_as_sent == MD5
    assert TargetClient(make_profile(NOWHERE)).password_as_sent == PASSWORD
