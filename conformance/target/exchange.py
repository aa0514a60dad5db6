"""One recorded HTTP exchange, as evidence in the reports (credentials already redacted)."""

from __future__ import annotations

import re
import shlex
import uuid
from dataclasses import asdict, dataclass, field

from conformance.target.redaction import BASIC, BASIC_MD5, MASK

BODY_LIMIT = 64 * 1024  # characters of a body kept as evidence

# Where a curl line takes the credentials from: the names a profile reads them from too, so
# one ``export`` serves both. A profile with password_md5 sends md5(password) as the Basic
# password; its curl lines read that hex digest from its own variable (``export
# POINTS_API_PASSWORD_MD5=$(printf %s "$POINTS_API_PASSWORD" | md5sum | cut -c1-32)``).
USER_VAR = "POINTS_API_USER"
PASSWORD_VAR = "POINTS_API_PASSWORD"
PASSWORD_MD5_VAR = "POINTS_API_PASSWORD_MD5"
UI_TOKEN_VAR = "POINTS_UI_TOKEN"
# Any other header that carried a secret reads it from POINTS_HEADER_<NAME>.
HEADER_VAR_PREFIX = "POINTS_HEADER_"
_NAMED_HEADER_VARS = {"x-cap-ui-auth-token": UI_TOKEN_VAR}
# Headers curl works out itself: a copied Content-Length is wrong as soon as the body is
# edited, Host follows the URL, and an Accept-Encoding without --compressed prints gzip.
_CURL_COMPUTES = {"content-length", "host", "transfer-encoding", "connection", "accept-encoding"}
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9]+")


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    status: int | None = None  # None: no response (timeout, refused, reset)
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None  # why there is no response
    note: str = ""  # what this call was for, in the scenario's words
    # BASIC / BASIC_MD5 when the Authorization header carried the profile's own credentials
    auth: str | None = None
    # Names this exchange in the evidence, so that a check can say which answer decided
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def curl(self) -> str:
        """A curl line that repeats the request, credentials read from environment variables."""
        return curl_line(self.method, self.url, self.request_headers, self.request_body,
                         auth=self.auth)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["curl"] = self.curl()
        return data


def header_var(name: str) -> str:
    """The environment variable a curl line reads a secret header's value from."""
    named = _NAMED_HEADER_VARS.get(name.lower())
    return named or HEADER_VAR_PREFIX + _NOT_A_NAME.sub("_", name).strip("_").upper()


def curl_line(method: str, url: str, headers: dict[str, str] | None, body: str | None, *,
              auth: str | None = None) -> str:
    """A bash line that sends the request again; every masked value becomes a variable."""
    parts = ["curl", "-sS", "-i", "-g", "--path-as-is"]  # no globbing of [] {} nor ./ folding
    method = method.upper()
    if method == "HEAD":
        parts.append("-I")  # -X HEAD would wait for a body that never comes
    elif not (method == "GET" and body is None):
        parts += ["-X", shlex.quote(method)]
    for name, value in (headers or {}).items():
        lower = name.lower()
        if lower in _CURL_COMPUTES:
            continue
        if lower == "authorization" and auth in (BASIC, BASIC_MD5):
            password = PASSWORD_MD5_VAR if auth == BASIC_MD5 else PASSWORD_VAR
            parts += ["-u", f'"${USER_VAR}:${password}"']
        elif MASK in value:
            parts += ["-H", _with_variable(f"{name}: {value}", header_var(name))]
        elif value == "":
            parts += ["-H", shlex.quote(f"{name};")]  # "Name:" would remove the header
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body is not None:
        parts += ["--data-raw", shlex.quote(body)]
    parts.append(shlex.quote(url))
    return " ".join(parts)


def _with_variable(text: str, var: str) -> str:
    """``text`` for bash with every mask read from ``$var``: the literal parts single-quoted
    (nothing expands in them, not even ``!``), the variable double-quoted."""
    return f'"${var}"'.join(shlex.quote(piece) if piece else "" for piece in text.split(MASK))


def clip(text: str | None, limit: int = BODY_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters not kept]"
