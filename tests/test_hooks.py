"""OTP sources (hook, fixed, command, prompt), the balance hook and the clock hook."""

from __future__ import annotations

import json
import shlex
import socket
import sys
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from conformance.target.client import TargetClient, TargetUnreachable
from conformance.target.hooks import BalanceSource, Clock, HookError, OtpSource
from conformance.target.profile import Auth, Identifier, OtpConfig, Profile, Program
from tests.targets import Reply, Seen, json_reply

SPENDER = Identifier("mobile", "447700900001")
EMAIL = Identifier("email", "a+b@example.com")
PASSWORD = "H00ks-Secret-pw"
PYTHON = shlex.quote(sys.executable)

Route = Callable[[str, dict[str, list[str]], bytes], tuple[int, object]]


@pytest.fixture
def hooks(stub):
    """Loopback stand-ins for the reference server's /_test/ hooks, answering ``route``."""

    def start(route: Route):
        def reply(seen: Seen, _handler) -> Reply:
            parts = urlsplit(seen.path)
            return json_reply(*route(parts.path, parse_qs(parts.query), seen.body))

        server = stub(reply)
        return server

    return start


def make_profile(base_url: str, *, otp: OtpConfig | None = None, balance_url: str | None = None,
                 clock_url: str | None = None) -> Profile:
    return Profile(
        base_url=base_url,
        auth=Auth(username="qa-hooks", password=PASSWORD, org_id="1", ui_token="hook-ui-tok"),
        program=Program(points_multiple=10, min_redeem=50, max_redeem=1000),
        customers={"spender": SPENDER}, otp=otp, balance_url=balance_url, clock_url=clock_url,
    )


def otp_source(profile: Profile, **kwargs) -> OtpSource:
    return OtpSource(profile, TargetClient(profile), **kwargs)


HOOK_URL = "{base_url}/_test/otp?{identifier}={value}&purpose={purpose}"


def otp_route(path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, object]:
    if path != "/_test/otp":
        return 404, {}
    if query.get("mobile") == ["447700900001"] and query.get("purpose") == ["redeem"]:
        return 200, {"code": "481516"}
    if query.get("email") == ["a+b@example.com"]:
        return 200, {"code": 2342}
    return 404, {"error": "no active code"}


# --- OTP: hook --------------------------------------------------------------------------------

def test_hook_returns_the_active_code_without_credentials(hooks):
    server = hooks(otp_route)
    profile = make_profile(server.url, otp=OtpConfig(source="hook", url=HOOK_URL))
    source = otp_source(profile)
    assert source.unavailable_reason is None and source.source == "hook"
    assert source.get(SPENDER, "redeem") == "481516"
    method, path, headers, _ = server.seen[0]
    assert (method, path) == ("GET", "/_test/otp?mobile=447700900001&purpose=redeem")
    # Target-side test hooks get no credentials, even on the target's own origin.
    assert "Authorization" not in headers and "X-CAP-UI-AUTH-TOKEN" not in headers


def test_hook_call_is_recorded_as_evidence(hooks):
    server = hooks(otp_route)
    profile = make_profile(server.url, otp=OtpConfig(source="hook", url=HOOK_URL))
    client = TargetClient(profile)
    OtpSource(profile, client).get(SPENDER, "redeem")
    (exchange,) = client.exchanges
    assert exchange.status == 200 and "481516" in (exchange.response_body or "")
    assert "OTP hook" in exchange.note and "Authorization" not in exchange.request_headers


def test_hook_encodes_the_value_and_accepts_a_numeric_code(hooks):
    server = hooks(otp_route)
    profile = make_profile(server.url, otp=OtpConfig(source="hook", url=HOOK_URL))
    assert otp_source(profile).get(EMAIL, "transfer") == "2342"
    assert "email=a%2Bb%40example.com" in server.seen[0][1]


def test_hook_404_means_no_active_code(hooks):
    server = hooks(otp_route)
    profile = make_profile(server.url, otp=OtpConfig(source="hook", url=HOOK_URL))
    assert otp_source(profile).get(SPENDER, "transfer") is None


@pytest.mark.parametrize("status, data, message", [
    (500, {"oops": 1}, "HTTP 500"),
    (200, {"otp": "1"}, 'no "code" string'),
    (200, ["481516"], "expected a JSON object"),
])
def test_hook_failures_are_hook_errors(hooks, status, data, message):
    server = hooks(lambda path, query, body: (status, data))
    profile = make_profile(server.url, otp=OtpConfig(source="hook", url=HOOK_URL))
    with pytest.raises(HookError, match=message):
        otp_source(profile).get(SPENDER, "redeem")


def test_hook_on_a_dead_target_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the with block ends
    profile = make_profile(f"http://127.0.0.1:{port}", otp=OtpConfig(source="hook", url=HOOK_URL))
    with pytest.raises(TargetUnreachable):
        otp_source(profile).get(SPENDER, "redeem")


# --- OTP: fixed, command, prompt --------------------------------------------------------------

def test_fixed_code():
    profile = make_profile("http://127.0.0.1:9", otp=OtpConfig(source="fixed", code="123456"))
    assert otp_source(profile).get(SPENDER, "redeem") == "123456"
    assert otp_source(profile).get(EMAIL, "transfer") == "123456"


def command_profile(script: str) -> Profile:
    command = f"{PYTHON} -c {shlex.quote(script)} {{identifier}} {{value}} {{purpose}}"
    return make_profile("http://127.0.0.1:9", otp=OtpConfig(source="command", command=command))


def test_command_prints_the_code_filled_from_placeholders():
    script = "import sys; print('  code-' + '-'.join(sys.argv[1:]) + '  ')"
    source = otp_source(command_profile(script))
    assert source.get(SPENDER, "redeem") == "code-mobile-447700900001-redeem"


def test_command_printing_more_than_the_code_is_an_error():
    script = "print('your code is 1234')"
    with pytest.raises(HookError, match="more than one word"):
        otp_source(command_profile(script)).get(SPENDER, "redeem")


def test_command_argument_boundaries_survive_odd_values():
    # No shell: a value with spaces and ; arrives as one argument, untouched.
    script = "import sys; print(len(sys.argv[1:]), sys.argv[2].replace(' ', '_'), sep='#')"
    odd = Identifier("external_id", "x y; echo pwned")
    assert otp_source(command_profile(script)).get(odd, "redeem") == "3#x_y;_echo_pwned"


def test_command_printing_nothing_means_no_active_code():
    assert otp_source(command_profile("pass")).get(SPENDER, "redeem") is None


def test_command_failure_says_why():
    script = "import sys; sys.stderr.write('gateway said no\\n'); sys.exit(3)"
    with pytest.raises(HookError, match="exited with status 3: .*gateway said no"):
        otp_source(command_profile(script)).get(SPENDER, "redeem")


def test_command_timeout():
    source = otp_source(command_profile("import time; time.sleep(10)"), command_timeout_s=0.5)
    with pytest.raises(HookError, match="did not finish within 0.5 s"):
        source.get(SPENDER, "redeem")


def test_command_not_found():
    profile = make_profile("http://127.0.0.1:9", otp=OtpConfig(
        source="command", command="/nonexistent/get-otp {value}"))
    with pytest.raises(HookError, match="not found: /nonexistent/get-otp"):
        otp_source(profile).get(SPENDER, "redeem")


def test_prompt_asks_on_a_terminal():
    asked: list[str] = []
    profile = make_profile("http://127.0.0.1:9", otp=OtpConfig(source="prompt"))

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return " 777999 \n"

    source = otp_source(profile, input_fn=answer, isatty=lambda: True)
    assert source.unavailable_reason is None
    assert source.get(SPENDER, "transfer") == "777999"
    assert "mobile=447700900001" in asked[0] and "transfer" in asked[0]


def test_prompt_without_a_terminal_is_an_error_not_a_hang():
    profile = make_profile("http://127.0.0.1:9", otp=OtpConfig(source="prompt"))

    def never(prompt: str) -> str:
        raise AssertionError("must not read stdin when it is not a terminal")

    source = otp_source(profile, input_fn=never, isatty=lambda: False)
    assert "not a terminal" in (source.unavailable_reason or "")
    with pytest.raises(HookError, match="not a terminal"):
        source.get(SPENDER, "redeem")


def test_no_otp_section_gives_a_skip_reason():
    source = otp_source(make_profile("http://127.0.0.1:9"))
    assert source.source is None
    assert "no otp section" in (source.unavailable_reason or "")
    with pytest.raises(HookError, match="no otp section"):
        source.get(SPENDER, "redeem")


def test_purpose_is_redeem_or_transfer():
    profile = make_profile("http://127.0.0.1:9", otp=OtpConfig(source="fixed", code="1"))
    with pytest.raises(ValueError, match="purpose"):
        otp_source(profile).get(SPENDER, "login")


# --- balance and clock ------------------------------------------------------------------------

def balance_route(path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, object]:
    balances = {"447700900001": 1234, "447700900002": 20.0, "447700900003": "lots"}
    value = balances.get((query.get("mobile") or [""])[0])
    return (200, {"balance": value}) if value is not None else (404, {})


def test_balance_hook(hooks):
    server = hooks(balance_route)
    profile = make_profile(server.url, balance_url="{base_url}/_test/balance?{identifier}={value}")
    source = BalanceSource(profile, TargetClient(profile))
    assert source.available
    assert source.get(SPENDER) == 1234
    assert source.get(Identifier("mobile", "447700900002")) == 20
    with pytest.raises(HookError, match="not a whole number"):
        source.get(Identifier("mobile", "447700900003"))
    with pytest.raises(HookError, match="HTTP 404"):
        source.get(Identifier("mobile", "447700999999"))
    assert all("Authorization" not in headers for _, _, headers, _ in server.seen)


def test_no_balance_hook_means_none():
    profile = make_profile("http://127.0.0.1:9")
    source = BalanceSource(profile, TargetClient(profile))
    assert not source.available and source.get(SPENDER) is None


def test_clock_hook_posts_the_advance(hooks):
    server = hooks(lambda path, query, body: (200, {"now": "later"}))
    profile = make_profile(server.url, clock_url="{base_url}/_test/clock")
    clock = Clock(profile, TargetClient(profile))
    assert clock.available and clock.advance(901) is True
    method, path, headers, body = server.seen[0]
    assert (method, path, json.loads(body)) == ("POST", "/_test/clock", {"advance_s": 901})
    assert "Authorization" not in headers


def test_clock_hook_failure_and_absence(hooks):
    server = hooks(lambda path, query, body: (404, {}))
    profile = make_profile(server.url, clock_url="{base_url}/_test/clock")
    with pytest.raises(HookError, match="HTTP 404"):
        Clock(profile, TargetClient(profile)).advance(5)
    bare = make_profile(server.url)
    assert Clock(bare, TargetClient(bare)).advance(5) is False  # wait instead


def test_hooks_are_not_subject_to_the_mutation_guard():
    # A POST to a non-loopback host: the client would refuse an API call, the hook goes out.
    profile = make_profile("http://staging.example.invalid",
                           clock_url="{base_url}/_test/clock")
    with pytest.raises(TargetUnreachable, match="does not resolve"):
        Clock(profile, TargetClient(profile)).advance(5)


def test_each_source_is_built_from_the_profile():
    profile = make_profile("http://127.0.0.1:9", otp=OtpConfig(source="fixed", code="55"))
    client = TargetClient(profile)
    assert OtpSource(profile, client).get(SPENDER, "redeem") == "55"
    assert BalanceSource(profile, client).get(SPENDER) is None
    assert Clock(profile, client).advance(1) is False
