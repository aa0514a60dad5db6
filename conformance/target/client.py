"""The suite's HTTP client: every call to a target goes through one guarded, recorded code path.

Guard: a target that is not on loopback gets no state-changing call
unless mutations are allowed. Credentials go only to the target's origin; a redirect to any
other origin is returned as is, never followed. Every exchange, failed or not, is recorded with
its secrets redacted, and no body larger than ``MAX_BODY_BYTES`` is read whole.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from conformance import __version__
from conformance.target.exchange import Exchange, clip
from conformance.target.profile import Profile, ProfileError
from conformance.target.redaction import REDACTOR
from conformance.target.throttle import Throttle, Throttled

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_KEPT_EXCHANGES = 2000
# Calls in a row without an answer (refused, timed out, hung up) before ``gone`` says so: the
# run then stops instead of waiting out the timeout in every remaining test.
NO_ANSWER_LIMIT = 3
_CHUNK = 64 * 1024

ORG_ID_HEADER = "X-CAP-API-AUTH-ORG-ID"
UI_TOKEN_HEADER = "X-CAP-UI-AUTH-TOKEN"
# Never carried to another origin, whoever set them.
_CREDENTIAL_HEADERS = ("Authorization", UI_TOKEN_HEADER, "Cookie")

# The documented state-changing operations. The guard is wider than this
# list: any unsafe method is refused unless its path is one of READ_ONLY_POSTS, so an odd
# spelling (%72edeem, a trailing slash, another case) can only be refused, never let through.
MUTATING_PATHS = (
    "/v1.1/points/redeem",
    "/v2/points/reverse",
    "/v2/points/transfer",
    "/v2/points/userGroup2/transfer",
    "/api_gateway/v2/request-workflow/GOODWILL-POINTS",
    "/v2/api_gateway/v2/request-workflow/GOODWILL-POINTS",
)
READ_ONLY_POSTS = frozenset({"/v2/points/istransferrable", "/v2/points/usergroup2/istransferrable"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Why a run skips what the mutation guard refuses (plugin, scenarios, contract tests alike).
MUTATIONS_REFUSED = "state-changing call to a non-loopback target: pass --allow-mutations"


class ClientError(Exception):
    """A call that did not produce a usable response; ``exchange`` is the evidence, if any."""

    exchange: Exchange | None = None


class MutationRefused(ClientError):
    """A state-changing call to a non-loopback target without --allow-mutations; nothing sent."""


class TargetUnreachable(ClientError, requests.exceptions.ConnectionError):
    """No (complete) answer: refused, unresolvable, timed out or cut off. One-line message."""


class TargetThrottled(ClientError):
    """429 Too Many Requests to every try of a call (see target.throttle): the requirement it
    was for is left unverified, never failed."""


class ResponseUnreadable(ClientError):
    """The target answered, but the body cannot be read (bad encoding, broken compression)."""


class ResponseTooLarge(ResponseUnreadable):
    """The body is larger than MAX_BODY_BYTES; reading stopped at the limit."""


def is_loopback_host(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and ``localhost``; names are not resolved."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        # A DNS name could point anywhere (or change between calls): never trust it.
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_state_changing(method: str, url: str, base_path: str = "") -> bool:
    """Whether the guard treats this call as one that may change the target's data."""
    if method.upper() in SAFE_METHODS:
        return False
    path = urlsplit(url).path
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path):]
    normalized = "/" + "/".join(s for s in unquote(path).lower().split("/") if s)
    return normalized not in READ_ONLY_POSTS


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default_port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").rstrip("."), port or default_port


class _NoAuth(requests.auth.AuthBase):
    """Sends no credentials; also keeps requests from falling back to ~/.netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_NO_AUTH = _NoAuth()
_NO_ANSWER = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Cookies set by a target are never sent back: a session cookie could mask a 401."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class TargetSession(requests.Session):
    """A requests.Session whose every request goes through the client's guarded path.

    Third-party code (schemathesis ``case.call(session=client.session)``) gets the same guard,
    credentials, timeout, redirect policy, size cap and recording as the suite's own calls.
    ``self.auth`` is the Basic tuple so that schemathesis can lift it for its negative-auth check.
    """

    def __init__(self, client: TargetClient) -> None:
        super().__init__()
        self._client = client
        self.auth = (client.profile.auth.username, client.profile.auth.basic_password)
        self.cookies.set_policy(_NoCookies())
        self.max_redirects = MAX_REDIRECTS
        self.headers["User-Agent"] = f"points-conformance/{__version__}"
        # TLS and proxy for every call, the hooks' too (the proxy may be the only way out)
        settings = client.profile.connection.requests_settings()
        self.verify, self.cert = settings["verify"], settings["cert"]
        self.proxies.update(settings["proxies"])

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, params: Any = None, data: Any = None,
        headers: Mapping[str, Any] | None = None, cookies: Any = None, files: Any = None,
        auth: Any = None, timeout: Any = None, allow_redirects: bool = True,
        proxies: Any = None, hooks: Any = None, stream: bool | None = None, verify: Any = None,
        cert: Any = None, json: Any = None, *, goodwill: bool = False, note: str = "",
    ) -> requests.Response:
        """Like requests.Session.request, through the guard; ``auth=False`` sends no Basic."""
        # timeout and stream are accepted for compatibility: the profile's timeout always
        # applies, and the body is always read here (capped), so iter_content still works.
        del timeout, stream
        return self._client._call(
            method, url, params=params, data=data, headers=headers, cookies=cookies,
            files=files, auth=auth, allow_redirects=allow_redirects, proxies=proxies,
            hooks=hooks, verify=verify, cert=cert, json=json, goodwill=goodwill, note=note,
            credentials=True, guard=True,
        )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Guard even a prepared request sent directly, bypassing request()."""
        self._client._check_mutation(request.method or "GET", request.url or "")
        return super().send(request, **kwargs)


class NoAnswerStreak:
    """Calls in a row that got no usable answer; ``gone`` says why once there were ``limit``.

    The client keeps one for the scenarios' calls, the fuzz phase one for the engine's: each
    lets a run stop early on a target that stopped answering. Thread-safe.
    """

    def __init__(self, limit: int, calls: str = "calls", answer: str = "no answer") -> None:
        self.limit = limit
        self._what = f"{calls} in a row got {answer}"
        self._count = 0
        self._last = ""
        self._lock = threading.Lock()

    def answered(self) -> None:
        with self._lock:
            self._count = 0

    def missed(self, why: str) -> None:
        with self._lock:
            self._count += 1
            self._last = why

    @property
    def gone(self) -> str | None:
        """Why the target seems gone, or None while fewer than ``limit`` calls went unanswered."""
        with self._lock:
            if self._count < self.limit:
                return None
            return f"{self._count} {self._what} (last: {self._last})"


class TargetClient:
    """HTTP client for one target profile; see the module docstring for what it guarantees."""

    def __init__(self, profile: Profile, *, allow_mutations: bool = False,
                 recorder: Callable[[Exchange], None] | None = None,
                 observer: Callable[[str, str, requests.Response, Exchange], None] | None = None,
                 throttle: Throttle | None = None) -> None:
        self.profile = profile
        self.allow_mutations = allow_mutations
        self.recorder = recorder
        # Sees every complete answer to an API call (not the hooks'): method, the path below
        # base_url, the response with its body read, and its exchange. The run judges them.
        self.observer = observer
        # Profiles built in code skip load_profile: register the secrets here too.
        REDACTOR.add(profile.auth.password, username=profile.auth.username)
        REDACTOR.add(profile.auth.ui_token)
        for value in profile.connection.headers.values():
            REDACTOR.add(value)
        # The run's rate limit and 429 handling: one for the whole run, shared with the fuzzer
        self.throttle = throttle or Throttle(profile.connection.rate_limit,
                                             stale_after=2 * profile.timeout_s)
        self._origin = _origin(profile.base_url)
        self._base_path = urlsplit(profile.base_url).path.rstrip("/")
        self._lock = threading.Lock()
        self._exchanges: deque[Exchange] = deque(maxlen=MAX_KEPT_EXCHANGES)
        self._unanswered = NoAnswerStreak(NO_ANSWER_LIMIT)
        self.session = TargetSession(self)

    @property
    def is_loopback(self) -> bool:
        """Whether the target's host is a loopback address (mutations allowed without a flag)."""
        return is_loopback_host(urlsplit(self.profile.base_url).hostname)

    @property
    def mutations_allowed(self) -> bool:
        """Whether state-changing calls may go out: a loopback target or --allow-mutations."""
        return self.allow_mutations or self.is_loopback

    @property
    def password_as_sent(self) -> str:
        """The Basic password as it travels (md5 hex when the profile says so)."""
        return self.profile.auth.basic_password

    @property
    def exchanges(self) -> list[Exchange]:
        """The most recent recorded exchanges, oldest first (at most MAX_KEPT_EXCHANGES)."""
        with self._lock:
            return list(self._exchanges)

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on the target (base_url may carry a path prefix)."""
        if urlsplit(path).scheme:
            return path
        return self.profile.base_url + ("" if path.startswith("/") else "/") + path

    def goodwill_headers(self) -> dict[str, str]:
        """The goodwill workflow's org id and UI token headers, from the profile."""
        auth, where = self.profile.auth, f"profile {self.profile.path or '(in code)'}"
        if not auth.org_id:
            raise ProfileError(f"{where}: auth.org_id: needed for goodwill calls but not set")
        if not auth.ui_token:
            raise ProfileError(f"{where}: auth.ui_token: needed for goodwill calls but not set")
        return {ORG_ID_HEADER: auth.org_id, UI_TOKEN_HEADER: auth.ui_token}

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                data: Any = None, headers: Mapping[str, str] | None = None, auth: bool = True,
                goodwill: bool = False, note: str = "") -> requests.Response:
        """Call the target; ``auth`` adds Basic, ``goodwill`` the org id and UI token headers."""
        return self.session.request(method, self.url(path), params=params, json=json,
                                    data=data, headers=headers, auth=None if auth else False,
                                    goodwill=goodwill, note=note)

    def call_hook(self, method: str, url: str, *, json: Any = None,
                  note: str = "") -> requests.Response:
        """Call a target-side test hook: no credentials, no mutation guard, still recorded."""
        return self._call(method, url, json=json, note=note, credentials=False, guard=False)

    # --- the one code path ----------------------------------------------------------------------

    def _check_mutation(self, method: str, url: str) -> None:
        if self.allow_mutations or is_loopback_host(urlsplit(url).hostname):
            return
        base = self._base_path if _origin(url) == self._origin else ""
        if is_state_changing(method, url, base):
            host = urlsplit(url).hostname
            raise MutationRefused(
                f"refused {method.upper()} {urlsplit(url).path or '/'} on {host}: it may change "
                f"data on a target outside loopback; pass --allow-mutations to allow it")

    def _call(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:
        """``_follow``, counting the calls in a row that got no answer (see ``gone``)."""
        try:
            response = self._follow(method, url, **kwargs)
        except TargetUnreachable as exc:
            self._unanswered.missed(str(exc))
            raise
        self._unanswered.answered()
        return response

    @property
    def gone(self) -> str | None:
        """Why the target seems gone (NO_ANSWER_LIMIT calls in a row unanswered), or None."""
        return self._unanswered.gone

    def _follow(self, method: str | bytes, url: str | bytes, *, params: Any = None,
              data: Any = None, headers: Mapping[str, Any] | None = None, cookies: Any = None,
              files: Any = None, auth: Any = None, allow_redirects: bool = True,
              proxies: Any = None, hooks: Any = None, verify: Any = None, cert: Any = None,
              json: Any = None, goodwill: bool = False, note: str = "", credentials: bool,
              guard: bool) -> requests.Response:
        method = (method.decode() if isinstance(method, bytes) else method).upper()
        url = self.url(url.decode() if isinstance(url, bytes) else url)
        first_origin = _origin(url)
        history: list[requests.Response] = []
        hop_params, hop_data, hop_json, hop_files = params, data, json, files
        hop_headers = CaseInsensitiveDict(headers or {})
        for hop in range(MAX_REDIRECTS + 1):
            response = self._send_one(
                method, url, params=hop_params, data=hop_data, json=hop_json, files=hop_files,
                headers=hop_headers, cookies=cookies, auth=auth, proxies=proxies, hooks=hooks,
                verify=verify, cert=cert, goodwill=goodwill, credentials=credentials,
                guard=guard, note=note if hop == 0 else f"{note} (redirect {hop})".strip())
            location = self.session.get_redirect_target(response)
            if not allow_redirects or location is None or hop == MAX_REDIRECTS:
                break
            next_url = urljoin(response.url, location)
            if _origin(next_url) != first_origin:
                break  # returned as is: credentials stay with the origin they were meant for
            history.append(response)
            status = response.status_code
            if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
                method = "GET"  # what requests and browsers do; the body goes with it
                hop_data = hop_json = hop_files = None
                for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                    hop_headers.pop(name, None)
            hop_params, url = None, next_url  # the Location carries its own query
        response.history = history
        return response

    def _send_one(self, method: str, url: str, *, params: Any, data: Any, json: Any,
                  files: Any, headers: CaseInsensitiveDict, cookies: Any, auth: Any,
                  proxies: Any, hooks: Any, verify: Any, cert: Any, goodwill: bool,
                  credentials: bool, guard: bool, note: str) -> requests.Response:
        if guard:
            self._check_mutation(method, url)  # before any connection is opened
        headers = CaseInsensitiveDict(headers)
        on_target = _origin(url) == self._origin
        if not (credentials and on_target):
            effective_auth: Any = _NO_AUTH
            for name in _CREDENTIAL_HEADERS:
                headers.pop(name, None)
        else:
            if goodwill:
                for name, value in self.goodwill_headers().items():
                    headers.setdefault(name, value)
            if auth is False or (auth is None and "Authorization" in headers):
                effective_auth = _NO_AUTH  # none asked, or the caller wrote its own header
            elif auth is None:
                effective_auth = self.session.auth or _NO_AUTH  # schemathesis may lift it
            else:
                effective_auth = auth
        if on_target:  # target.headers and --header: to the target's origin only
            for name, value in self.profile.connection.headers.items():
                headers.setdefault(name, value)
        session = self.session
        prepared = session.prepare_request(requests.Request(
            method=method, url=url, headers=headers, files=files, data=data, json=json,
            params=params, auth=effective_auth, cookies=cookies, hooks=hooks))
        # verify given, never None: requests would let REQUESTS_CA_BUNDLE replace the CA
        # bundle the profile or --tls-verify names (it does only for True)
        settings = session.merge_environment_settings(
            prepared.url, proxies or {}, True, session.verify if verify is None else verify,
            cert)
        settings["stream"] = True  # the body is read below, under the size cap
        # The rate limit holds for API calls, not for the hooks; a 429 is waited out and the
        # call sent again before the answer comes back here
        slot = self.throttle.acquire() if credentials else None
        prepared.hooks["response"].insert(0, self.throttle.hook(slot))
        timeout = self.profile.timeout_s
        started = time.monotonic()
        exchange = Exchange(method=method, url=REDACTOR.text(prepared.url) or "",
                            request_headers=REDACTOR.headers(dict(prepared.headers)),
                            request_body=_evidence(_body_text(prepared.body)), note=note,
                            auth=REDACTOR.basic_kind(prepared.headers.get("Authorization")))
        try:
            response = requests.Session.send(session, prepared, timeout=timeout,
                                              allow_redirects=False, **settings)
        except Throttled as exc:
            exchange.elapsed_ms = (time.monotonic() - started) * 1000
            if exc.response is not None:
                exchange.status = exc.response.status_code
                exchange.response_headers = REDACTOR.headers(dict(exc.response.headers))
            raise self._fail(TargetThrottled, exchange, str(exc), request=prepared) from None
        except requests.exceptions.RequestException as exc:
            self.throttle.release(slot)
            if not isinstance(exc, _NO_ANSWER):
                raise  # a malformed URL or header: the caller's mistake, not the target's
            why = why_no_answer(exc, timeout)
            exchange.elapsed_ms = (time.monotonic() - started) * 1000
            raise self._fail(TargetUnreachable, exchange, f"{method} {exchange.url}: {why}",
                             request=prepared) from None
        exchange.status = response.status_code
        exchange.response_headers = REDACTOR.headers(dict(response.headers))
        try:
            body = _read_body(response, time.monotonic() + timeout)
        except _BodyFailure as exc:
            response.close()  # drop the connection: the rest of the body is never read
            exchange.elapsed_ms = (time.monotonic() - started) * 1000
            exchange.response_body = _evidence(_decode(exc.partial, response))
            raise self._fail(exc.kind, exchange, f"{method} {exchange.url}: {exc.why}",
                             request=prepared) from None
        response._content = body
        response._content_consumed = True
        response.exchange_id = exchange.id  # lets a check name the answer that decided it
        exchange.elapsed_ms = (time.monotonic() - started) * 1000
        exchange.response_body = _evidence(_decode(body, response))
        self._record(exchange)
        if self.observer is not None and credentials and on_target:
            path = urlsplit(url).path
            if self._base_path and path.startswith(self._base_path):
                path = path[len(self._base_path):] or "/"
            self.observer(method, path, response, exchange)
        return response

    def _fail(self, kind: type[ClientError], exchange: Exchange, message: str,
              request: requests.PreparedRequest) -> ClientError:
        message = REDACTOR.text(" ".join(message.split())) or ""
        exchange.error = message
        self._record(exchange)
        error = kind(message, request=request) if kind is TargetUnreachable else kind(message)
        error.exchange = exchange
        return error

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)
        if self.recorder is not None:
            self.recorder(exchange)


# --- body reading -----------------------------------------------------------------------------

def capped_body(response: requests.Response, *args: object, **kwargs: object
                ) -> requests.Response:
    """A requests ``response`` hook: read a streamed body under the cap and the timeout.

    For calls this client does not make itself (the fuzz phase goes through schemathesis's
    transport): over the cap, the call fails with ResponseTooLarge instead of reading on.
    """
    if response.raw is None or getattr(response, "_content_consumed", False):
        return response
    timeout = kwargs.get("timeout")
    if isinstance(timeout, tuple):
        timeout = timeout[-1]
    limit = float(timeout) if isinstance(timeout, int | float) else 30.0
    try:
        body = _read_body(response, time.monotonic() + limit)
    except _BodyFailure as exc:
        response.close()
        request = response.request
        where = f"{request.method} {REDACTOR.text(request.url)}" if request else "a call"
        message = REDACTOR.text(f"{where}: {exc.why}") or ""
        if exc.kind is TargetUnreachable:
            raise TargetUnreachable(message, request=request) from None
        raise exc.kind(message) from None
    response._content = body
    response._content_consumed = True
    return response


class _BodyFailure(Exception):
    def __init__(self, kind: type[ClientError], why: str, partial: bytes) -> None:
        super().__init__(why)
        self.kind, self.why, self.partial = kind, why, partial


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """The whole body, or _BodyFailure: over the cap, past the deadline, or broken."""
    limit_text = f"{MAX_BODY_BYTES // (1024 * 1024)} MB"
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyFailure(ResponseTooLarge, f"response body of {int(declared)} bytes "
                                             f"(Content-Length) is over the {limit_text} limit; "
                                             f"not read", b"")
    raw = response.raw
    buffer = bytearray()
    # read1 returns whatever has arrived, so a server trickling a byte at a time still meets
    # the deadline check; urllib3 1.x lacks it and falls back to fixed-size chunks.
    read1 = getattr(raw, "read1", None)
    chunks = _read1_chunks(read1) if read1 is not None else response.iter_content(_CHUNK)
    try:
        for chunk in chunks:
            buffer += chunk
            if len(buffer) > MAX_BODY_BYTES:
                raise _BodyFailure(ResponseTooLarge, f"response body is over the {limit_text} "
                                                     f"limit; stopped reading there",
                                   bytes(buffer[:MAX_BODY_BYTES]))
            if time.monotonic() > deadline:
                raise _BodyFailure(TargetUnreachable, "response body still incomplete after "
                                                      "the timeout", bytes(buffer))
    except (urllib3.exceptions.ReadTimeoutError, requests.exceptions.Timeout):
        raise _BodyFailure(TargetUnreachable, "timed out reading the response body",
                           bytes(buffer)) from None
    except (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError) as exc:
        raise _BodyFailure(ResponseUnreadable, f"response body cannot be decoded "
                                               f"({type(exc).__name__})", bytes(buffer)) from None
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError):
        raise _BodyFailure(TargetUnreachable, "connection broken while reading the response body",
                           bytes(buffer)) from None
    release = getattr(raw, "release_conn", None)
    if release is not None:
        release()  # fully read: the connection can serve the next call
    return bytes(buffer)


def _read1_chunks(read1: Callable[..., bytes | None]) -> Iterator[bytes]:
    while chunk := read1(_CHUNK, decode_content=True):
        yield chunk


def _decode(body: bytes, response: requests.Response) -> str:
    try:
        return body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name from the target
        return body.decode("utf-8", errors="replace")


def _body_text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        return body
    return "[streamed body, not recorded]"


def _evidence(text: str | None) -> str | None:
    # Redact before clipping, so a secret cut at the clip boundary cannot survive in part.
    return clip(REDACTOR.text(text))


def why_no_answer(exc: BaseException, timeout: float) -> str:
    """One short line saying why there is no answer, from requests' nested exceptions."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection not established within {timeout:g} s"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_problem(exc) or "TLS handshake failed"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy cannot be reached or refused the connection"
    seen: BaseException | None = exc
    for _ in range(8):  # requests wraps urllib3 wraps socket errors; the leaf says most
        if seen is None:
            break
        if isinstance(seen, urllib3.exceptions.NameResolutionError):
            return "host name does not resolve"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, urllib3.exceptions.ProtocolError | ConnectionResetError):
            return "connection closed before a complete answer"
        nested = getattr(seen, "reason", None)
        if not isinstance(nested, BaseException) and seen.args and isinstance(seen.args[0],
                                                                              BaseException):
            nested = seen.args[0]
        seen = nested if isinstance(nested, BaseException) else seen.__cause__
    return f"cannot connect ({type(exc).__name__})"


def tls_problem(exc: BaseException, where: str = "the target") -> str | None:
    """One line for a TLS failure in ``exc``'s chain (``where``: host:port), else None."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or "not trusted"
            return (f"TLS: certificate of {where} not trusted ({reason}; use --tls-verify "
                    f"CA.pem)")
        if isinstance(seen, ssl.SSLError):
            reason = seen.reason or "handshake failed"
            hint = " (use --client-cert PEM)" if "CERTIFICATE" in str(reason).upper() else ""
            return f"TLS: handshake with {where} failed ({reason}){hint}"
        nested = getattr(seen, "reason", None)
        if not isinstance(nested, BaseException) and seen.args and isinstance(seen.args[0],
                                                                              BaseException):
            nested = seen.args[0]
        seen = nested if isinstance(nested, BaseException) else seen.__cause__
    return None
