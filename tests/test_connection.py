"""How a run reaches its target: rate limit, 429 from a gateway, extra headers, proxy and TLS,
on both paths to the target (our client and schemathesis's transport), against real loopback
servers."""

from __future__ import annotations

import base64
import dataclasses
import json
import ssl
import threading
from pathlib import Path

import pytest
import requests
import trustme

from conformance import server
from conformance.paths import fixtures_dir
from conformance.suite.options import OptionError, RunOptions
from conformance.target.connection import Tls
from conformance.target.profile import load_profile
from conformance.target.throttle import RateLimiter, retry_after
from tests.targets import busiest_second, gateway

REFERENCE_PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
OURS = "points-conformance/"  # our client's User-Agent; schemathesis's is "schemathesis/…"
# CON-08 runs schemathesis's state machine and the link walk; RDM-01 and OTP-01 are scenarios.
BOTH_PATHS = ("--only", "CON-08", "RDM-01", "OTP-01", "--seed", "7")
PROBE_HEADER = "x-schemathesis-probe"


def _api(arrivals):
    """The calls the run made to the API (not to the target-side test hooks)."""
    return [a for a in arrivals if "/_test/" not in a.target]


def _paths(arrivals) -> set[str]:
    """Which paths to the target the calls came by: ours, schemathesis's, or both."""
    return {"ours" if a.headers.get("User-Agent", "").startswith(OURS) else "schemathesis"
            for a in arrivals}


def _results(report_dir: Path) -> dict:
    return json.loads((report_dir / "results.json").read_text())


# --- the options ------------------------------------------------------------------------------

@pytest.fixture
def profile():
    return load_profile(REFERENCE_PROFILE)


def test_flags_win_over_the_profile_s_target_section(profile, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    profile = dataclasses.replace(profile, connection=dataclasses.replace(
        profile.connection, headers={"X-Env": "staging"}, rate_limit=50.0))
    options = RunOptions(rate_limit="5/s", request_timeout=3, header=("X-Env: prod",
                                                                      "X-Key: k-123"),
                         proxy="http://127.0.0.1:3128", tls_verify=str(ca),
                         client_cert=ca, client_key=ca)
    got = options.connect(profile)
    assert got.timeout_s == 3
    assert got.connection.rate_limit == 5
    assert dict(got.connection.headers) == {"X-Env": "prod", "X-Key": "k-123"}
    assert got.connection.proxy == "http://127.0.0.1:3128"
    assert got.connection.tls == Tls(verify=True, ca_bundle=ca, client_cert=ca, client_key=ca)
    assert got.connection.requests_settings() == {
        "verify": str(ca), "cert": (str(ca), str(ca)),
        "proxies": {"http": "http://127.0.0.1:3128", "https": "http://127.0.0.1:3128"}}
    assert RunOptions(tls_verify="false").connect(profile).connection.tls.requests_verify \
        is False
    # no flag: the profile's own values
    assert RunOptions().connect(profile).connection == profile.connection


@pytest.mark.parametrize(("options", "flag"), [
    (RunOptions(rate_limit="fast"), "--rate-limit fast"),
    (RunOptions(rate_limit="0/s"), "--rate-limit 0/s"),
    (RunOptions(request_timeout=0), "--request-timeout 0"),
    (RunOptions(header=("Authorization: Basic eA==",)), "--header Authorization"),
    (RunOptions(header=("host: elsewhere",)), "--header host"),
    (RunOptions(header=("X-CAP-UI-AUTH-TOKEN: t",)), "--header X-CAP-UI-AUTH-TOKEN"),
    (RunOptions(header=("no colon",)), "--header 'no colon'"),
    (RunOptions(proxy="3128"), "--proxy 3128"),
    (RunOptions(tls_verify="missing.pem"), "--tls-verify missing.pem"),
    (RunOptions(client_cert=Path("missing.pem")), "--client-cert missing.pem"),
    (RunOptions(client_key=Path("missing.pem")), "--client-key needs --client-cert"),
])
def test_an_unusable_connection_flag_is_one_line_naming_it(profile, options, flag):
    with pytest.raises(OptionError) as caught:
        options.connect(profile)
    assert str(caught.value).startswith(flag)
    assert "\n" not in str(caught.value)


def test_a_profile_header_overriding_the_credentials_is_refused(profile):
    profile = dataclasses.replace(profile, connection=dataclasses.replace(
        profile.connection, headers={"Authorization": "Bearer x"}))
    with pytest.raises(OptionError, match=r"target\.headers\.Authorization: would override"):
        RunOptions().connect(profile)


def test_a_bad_connection_flag_exits_2_with_one_line(cli, tmp_path):
    result = cli("run", "--header", "Host: evil.example", "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(
        "--header Host: would override a header the run sets itself (credentials, Host or "
        "framing)")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


# --- the throttle's parts ---------------------------------------------------------------------

def test_retry_after_reads_seconds_and_http_dates_and_caps_them():
    def answer(value: str | None) -> requests.Response:
        response = requests.Response()
        response.status_code = 429
        if value is not None:
            response.headers["Retry-After"] = value
        return response

    assert retry_after(answer("3")) == 3
    assert retry_after(answer("86400")) == 60  # a gateway cannot hold the run for a day
    assert retry_after(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0  # in the past
    assert retry_after(answer(None)) is None
    assert retry_after(answer("soon")) is None


def test_the_limiter_lets_no_call_go_while_its_window_is_full():
    limiter = RateLimiter(2)
    first, second = limiter.acquire(), limiter.acquire()
    went = threading.Event()
    threading.Thread(target=lambda: (limiter.acquire(), went.set()), daemon=True).start()
    # Neither call answered: the third waits (its slot stays taken for a minute at most)
    assert not went.wait(1.5)
    limiter.release(first)
    assert went.wait(10)  # one second after the first call's answer
    limiter.release(second)


# --- against real servers ---------------------------------------------------------------------

def test_the_rate_limit_holds_for_the_whole_run_fuzzing_and_scenarios_together(cli, tmp_path):
    rate = 40
    with server.run_in_thread() as reference, gateway(reference.base_url) as (url, arrivals):
        result = cli("run", "--base-url", url, "--profile", str(REFERENCE_PROFILE),
                     "--rate-limit", f"{rate}/s", "--only", "CON-04", "CON-08", "RDM-01",
                     "OTP-01", "--max-examples", "1", "--seed", "7",
                     "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    calls = _api(arrivals)
    assert _paths(calls) == {"ours", "schemathesis"}
    busiest = busiest_second([a.at for a in calls])
    span = max(a.at for a in calls) - min(a.at for a in calls)
    print(f"\n{len(calls)} calls in {span:.1f} s ({len(calls) / span:.1f}/s), at most "
          f"{busiest} in one second, limit {rate}/s")
    assert busiest <= rate + 1
    assert _results(tmp_path / "r")["throttling"]["rate_limit"] == rate


def test_a_gateway_answering_429_is_waited_out_and_counted_never_a_failure(cli, tmp_path):
    sent_429 = []

    def throttle(number, arrival):
        if "/_test/" in arrival.target or PROBE_HEADER in {k.lower() for k in arrival.headers}:
            return None
        if number % 3:
            return None
        sent_429.append(arrival)
        # mostly "come back now", every 10th without Retry-After: backing off from 1 s
        headers = {} if number % 30 == 0 else {"Retry-After": "0"}
        return 429, {"Content-Type": "text/plain", **headers}, b"slow down"

    with server.run_in_thread() as reference, \
            gateway(reference.base_url, throttle) as (url, arrivals):
        result = cli("run", "--base-url", url, "--profile", str(REFERENCE_PROFILE),
                     *BOTH_PATHS, "--report-dir", str(tmp_path / "r"))
    data = _results(tmp_path / "r")
    assert data["verdict"] == "conformant", result.stdout[-3000:]
    assert result.returncode == 0
    assert _paths(sent_429) == {"ours", "schemathesis"}
    counted = data["throttling"]
    assert counted["answers_429"] == len(sent_429)
    assert counted["calls_given_up"] == 0
    assert f"throttled: {len(sent_429)} answers 429 Too Many Requests" in result.stdout


def test_throttling_that_never_ends_leaves_the_requirement_unverified(cli, tmp_path):
    def refuse(number, arrival):
        if arrival.target.startswith("/v1.1/points/validationcode"):
            return 429, {"Retry-After": "0"}, b""
        return None

    with server.run_in_thread() as reference, \
            gateway(reference.base_url, refuse) as (url, arrivals):
        result = cli("run", "--base-url", url, "--profile", str(REFERENCE_PROFILE),
                     "--suite", "scenarios", "--only", "OTP-01",
                     "--report-dir", str(tmp_path / "r"))
    data = _results(tmp_path / "r")
    row = next(r for r in data["requirements"] if r["id"] == "OTP-01")
    assert (row["status"], data["verdict"], result.returncode) == ("skipped", "incomplete", 4)
    assert row["reason"].startswith("throttled: ")
    assert "still 429 Too Many Requests after 6 tries" in row["reason"]
    assert data["throttling"]["calls_given_up"] >= 1


def test_header_and_proxy_are_used_on_both_paths(cli, tmp_path):
    with server.run_in_thread() as reference, gateway(None) as (proxy, arrivals):
        result = cli("run", "--base-url", reference.base_url, "--profile",
                     str(REFERENCE_PROFILE), "--proxy",
                     proxy.replace("http://", "http://relay:pw-proxy-77@"),
                     "--header", "X-Env: staging",
                     "--header", "X-Gateway-Key: gk-5150", *BOTH_PATHS,
                     "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # A forward proxy is asked for absolute URLs: every call of the run went through it
    calls = _api(arrivals)
    assert calls and all(a.target.startswith(reference.base_url + "/") for a in calls)
    assert _paths(calls) == {"ours", "schemathesis"}
    assert all(a.headers.get("X-Env") == "staging" for a in calls)
    assert all(a.headers.get("Proxy-Authorization") == "Basic "
               + base64.b64encode(b"relay:pw-proxy-77").decode() for a in calls)
    # A header value may be a key, a proxy URL may carry a password: never written anywhere
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "r").iterdir()
                      if p.is_file()) + result.stdout + result.stderr
    assert "gk-5150" not in written
    assert "pw-proxy-77" not in written
    assert "X-Gateway-Key" in written  # its name is shown


# --- TLS ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA of our own, the server's certificate from it, and a client certificate."""
    where = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(where / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(where / "server.pem"))
    client = ca.issue_cert("conformance-client")
    client.cert_chain_pems[0].write_to_path(str(where / "client.pem"))
    client.private_key_pem.write_to_path(str(where / "client.key"))
    return where


def _https_run(cli, pki, tmp_path, *flags, mutual: bool = False):
    tls = {"ssl_certfile": str(pki / "server.pem")}
    if mutual:
        tls.update(ssl_ca_certs=str(pki / "ca.pem"), ssl_cert_reqs=ssl.CERT_REQUIRED)
    with server.run_in_thread(tls=tls) as reference:
        assert reference.base_url.startswith("https://127.0.0.1:")
        result = cli("run", "--base-url", reference.base_url, "--profile",
                     str(REFERENCE_PROFILE), *BOTH_PATHS, *flags,
                     "--report-dir", str(tmp_path / "r"))
    return reference.base_url, result


def test_an_https_target_passes_with_its_ca_and_aborts_with_one_line_without(cli, pki,
                                                                             tmp_path):
    url, result = _https_run(cli, pki, tmp_path)
    assert result.returncode == 3
    port = url.rsplit(":", 1)[1]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"points-conformance: aborted: TLS: certificate of "
                           f"127.0.0.1:{port} not trusted")
    assert line.endswith("use --tls-verify CA.pem)")
    assert "Traceback" not in result.stderr + result.stdout
    assert _results(tmp_path / "r")["verdict"] == "aborted"

    _, result = _https_run(cli, pki, tmp_path / "2", "--tls-verify", str(pki / "ca.pem"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert _results(tmp_path / "2" / "r")["verdict"] == "conformant"


def test_mutual_tls_passes_with_a_client_certificate_and_aborts_without(cli, pki, tmp_path):
    ca = ("--tls-verify", str(pki / "ca.pem"))
    _, result = _https_run(cli, pki, tmp_path, *ca, mutual=True)
    assert result.returncode == 3
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("points-conformance: aborted: ")
    assert "--client-cert PEM" in line
    assert "Traceback" not in result.stderr + result.stdout

    _, result = _https_run(cli, pki, tmp_path / "2", *ca, "--client-cert",
                           str(pki / "client.pem"), "--client-key", str(pki / "client.key"),
                           mutual=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert _results(tmp_path / "2" / "r")["verdict"] == "conformant"


def test_tls_verify_false_runs_against_an_untrusted_certificate_and_says_so(cli, pki,
                                                                            tmp_path):
    _, result = _https_run(cli, pki, tmp_path, "--tls-verify", "false", "--suite",
                           "scenarios")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "TLS: the target's certificate is not verified" in result.stdout
    assert "InsecureRequestWarning" not in result.stdout + result.stderr
