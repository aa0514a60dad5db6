"""The target profile: which API to test, as whom, and under which rules.

fixtures/profiles/staging-example.yaml explains every key.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from conformance.target.bodies import as_int
from conformance.target.connection import Connection, Tls, parse_rate
from conformance.target.redaction import MASK, REDACTOR

IDENTIFIER_KEYS = ("mobile", "email", "external_id", "card_number", "user_id")
# Roles the scenarios use; only spender is required, others are skipped.
KNOWN_ROLES = ("spender", "receiver", "fraud", "not_enrolled", "low_balance", "unknown")
REQUIRED_ROLES = ("spender",)
# otp.source -> the key that must come with it.
OTP_SOURCES: dict[str, str | None] = {"hook": "url", "fixed": "code", "command": "command",
                                      "prompt": None}
PLACEHOLDERS = ("base_url", "identifier", "value", "purpose", "points")
PURPOSES = ("redeem", "transfer")

_SECTIONS = {
    "target": ("base_url", "timeout_s", "rate_limit", "headers", "proxy", "tls"),
    "auth": ("username", "password", "password_md5", "org_id", "ui_token"),
    "program": ("id", "points_multiple", "min_redeem", "max_redeem", "otp_validity_s",
                "reversal_enabled"),
    "customers": None,  # role names are open: future scenarios may add roles
    "groups": None,
    "otp": ("source", "url", "code", "command"),
    "balance": ("url",),
    "clock": ("url",),
    "budget": ("max_points",),
}
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ProfileError(Exception):
    """A profile that cannot be used; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Identifier:
    """One way to name a customer on the target, e.g. ``mobile=447700900001``."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@dataclass(frozen=True, kw_only=True)
class Auth:
    """Credentials; the secret fields are kept out of repr() and registered with the redactor."""

    username: str
    password: str = field(repr=False)
    password_md5: bool = False
    org_id: str | None = None
    ui_token: str | None = field(default=None, repr=False)

    @property
    def basic_password(self) -> str:
        """The password as it travels in the Basic header (md5 hex when the profile says so)."""
        if self.password_md5:
            return hashlib.md5(self.password.encode()).hexdigest()
        return self.password


@dataclass(frozen=True, kw_only=True)
class Program:
    """The loyalty program's redemption rules the scenarios test against."""

    id: int | None = None
    points_multiple: int
    min_redeem: int
    max_redeem: int
    otp_validity_s: int = 900
    reversal_enabled: bool = True

    @property
    def smallest_amount(self) -> int:
        """The smallest amount the multiple and the minimum both accept (the maximum aside)."""
        step = max(self.points_multiple, 1)
        return -(-max(self.min_redeem, 1) // step) * step


@dataclass(frozen=True)
class Group:
    """A user group (userGroup2) on the target."""

    id: str


@dataclass(frozen=True, kw_only=True)
class OtpConfig:
    """Where the suite gets the validation codes the target sends to customers."""

    source: str
    url: str | None = None
    code: str | None = field(default=None, repr=False)  # often a staging-wide bypass
    command: str | None = None


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A loaded, validated target profile."""

    base_url: str
    timeout_s: float = 10.0
    auth: Auth
    program: Program
    customers: dict[str, Identifier] = field(hash=False)
    groups: dict[str, Group] = field(default_factory=dict, hash=False)
    otp: OtpConfig | None = None
    balance_url: str | None = None
    clock_url: str | None = None
    budget_max_points: int = 5000
    connection: Connection = field(default_factory=Connection)
    path: Path | None = None

    def redacted_dict(self) -> dict[str, Any]:
        """The profile in its YAML shape, for reports, with every secret masked."""
        auth = self.auth
        data: dict[str, Any] = {
            "target": {"base_url": self.base_url, "timeout_s": self.timeout_s,
                       **self._connection_dict()},
            "auth": {"username": auth.username, "password": MASK,
                     "password_md5": auth.password_md5, "org_id": auth.org_id,
                     "ui_token": MASK if auth.ui_token else None},
            "program": {"id": self.program.id,
                        "points_multiple": self.program.points_multiple,
                        "min_redeem": self.program.min_redeem,
                        "max_redeem": self.program.max_redeem,
                        "otp_validity_s": self.program.otp_validity_s,
                        "reversal_enabled": self.program.reversal_enabled},
            "customers": {role: {i.key: i.value} for role, i in self.customers.items()},
            "groups": {name: {"id": g.id} for name, g in self.groups.items()},
            # A fixed code is often a staging-wide bypass: as sensitive as a password.
            "otp": None if self.otp is None else {
                "source": self.otp.source, "url": self.otp.url,
                "code": MASK if self.otp.code else None, "command": self.otp.command},
            "balance": None if self.balance_url is None else {"url": self.balance_url},
            "clock": None if self.clock_url is None else {"url": self.clock_url},
            "budget": {"max_points": self.budget_max_points},
            "path": None if self.path is None else str(self.path),
        }
        return _redact_tree(data)

    def _connection_dict(self) -> dict[str, Any]:
        conn = self.connection
        tls = conn.tls
        return {"rate_limit": None if conn.rate_limit is None else f"{conn.rate_limit:g}/s",
                # Header values may be gateway keys: only the names are shown.
                "headers": {name: MASK for name in conn.headers},
                "proxy": conn.proxy and _without_userinfo(conn.proxy),
                "tls": {"verify": tls.verify,
                        "ca_bundle": tls.ca_bundle and str(tls.ca_bundle),
                        "client_cert": tls.client_cert and str(tls.client_cert),
                        "client_key": tls.client_key and str(tls.client_key)}}


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=f"{MASK}@{parts.hostname}"
                                 f"{'' if parts.port is None else f':{parts.port}'}").geturl()


def _redact_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_tree(v) for k, v in value.items()}
    if isinstance(value, str):
        return REDACTOR.text(value)
    return value


def format_placeholders(template: str, profile: Profile, identifier: Identifier | None = None,
                        purpose: str | None = None, points: int | None = None, *,
                        for_url: bool = True) -> str:
    """Fill ``{base_url} {identifier} {value} {purpose} {points}`` in a hook URL or command.

    With ``for_url`` every value except base_url is percent-encoded, so that an email's ``+`` or
    ``@`` survives a query string and a ``/`` cannot add a path segment. Commands pass
    ``for_url=False`` and format each word after splitting.
    """
    values = {
        "base_url": profile.base_url,
        "identifier": identifier.key if identifier else None,
        "value": identifier.value if identifier else None,
        "purpose": purpose,
        "points": None if points is None else str(points),
    }
    out: list[str] = []
    for literal, name, spec, conversion in _parse_template(template):
        out.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            raise ValueError(f"unknown placeholder {{{name}}} in {template!r}; "
                             f"known: {_known_placeholders()}")
        value = values[name]
        if value is None:
            raise ValueError(f"{template!r} needs {{{name}}} but none was given")
        out.append(quote(value, safe="") if for_url and name != "base_url" else value)
    return "".join(out)


def _parse_template(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(template))


def _known_placeholders() -> str:
    return " ".join("{" + p + "}" for p in PLACEHOLDERS)


def load_profile(path: Path, env: Mapping[str, str] = os.environ,
                 base_url: str | None = None) -> Profile:
    """Read, substitute and validate a profile; ``base_url`` (``--base-url``) wins over the file."""
    path = Path(path)
    where = f"profile {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ProfileError(f"{where}: cannot read the file: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ProfileError(f"{where}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected a mapping with sections target, auth, program, "
                           f"customers…, got {_describe(data)}")
    return _Parser(where, env).profile(data, path, base_url)


# --- YAML -------------------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which PyYAML would silently let the last win."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        return problem
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --- validation -------------------------------------------------------------------------------

def _describe(value: Any, *, secret: bool = False) -> str:
    """How a bad value is shown in an error; secrets only by their kind."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean" if secret else str(value).lower()
    if isinstance(value, int | float):
        return "a number" if secret else str(value)
    if isinstance(value, str):
        return "a string" if secret else f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class _Parser:
    """Turns the raw YAML mapping into a Profile; every error names the dotted key."""

    def __init__(self, where: str, env: Mapping[str, str]) -> None:
        self.where = where
        self.env = env

    def fail(self, key: str, message: str) -> ProfileError:
        # Redacted: a secret the user pasted into another key must not reach the terminal.
        return ProfileError(REDACTOR.text(f"{self.where}: {key}: {message}") or "")

    # env substitution happens per value when it is read, so a key that is never used (target
    # base_url under --base-url) cannot fail for a variable it mentions.
    def substitute(self, key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "$${":
                return "${"  # escaped: a literal ${ in a value
            if match.group(1) is None:
                raise self.fail(key, "malformed ${…} reference; expected ${NAME} or "
                                     "${NAME:-default}")
            name, default = match.group(1), match.group(2)
            found = self.env.get(name)
            if default is not None:
                return found if found else default  # shell semantics: unset or empty
            if found is None:
                raise self.fail(key, f"environment variable {name} is not set "
                                     f"(write ${{{name}:-default}} to give a default)")
            return found

        return _VAR.sub(replace, value)

    def section(self, data: dict, name: str, *, required: bool) -> dict | None:
        if name not in data or data[name] is None:
            if required:
                raise self.fail(name, "required section is missing")
            return None
        value = data[name]
        if not isinstance(value, dict):
            raise self.fail(name, f"expected a mapping, got {_describe(value)}")
        allowed = _SECTIONS[name]
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.fail(f"{name}.{key}", f"unknown key; expected one of "
                                                     f"{', '.join(allowed)}")
        return value

    def raw(self, sec: dict, key: str, dotted: str, *, required: bool) -> Any:
        value = self.substitute(dotted, sec.get(key))
        if value is None and required:
            raise self.fail(dotted, "required key is missing")
        return value

    def string(self, sec: dict, key: str, dotted: str, *, required: bool,
               secret: bool = False, allow_number: bool = False) -> str | None:
        value = self.raw(sec, key, dotted, required=required)
        if value is None:
            return None
        if allow_number and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            # An unquoted 0123 becomes the number 83 in YAML: never guess a credential.
            shown = _describe(value, secret=secret)
            raise self.fail(dotted, f"expected a quoted string, got {shown}")
        if not value.strip():
            raise self.fail(dotted, "must not be empty")
        return value

    def integer(self, sec: dict, key: str, dotted: str, *, default: int | None = None,
                minimum: int = 1) -> int | None:
        value = self.raw(sec, key, dotted, required=default is None)
        if value is None:
            return default
        parsed = as_int(value)
        if parsed is None or parsed < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.fail(dotted, f"expected {kind}, got {_describe(value)}")
        return parsed

    def boolean(self, sec: dict, key: str, dotted: str, *, default: bool) -> bool:
        value = self.raw(sec, key, dotted, required=False)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE  # a ${VAR} always arrives as a string
        raise self.fail(dotted, f"expected true or false, got {_describe(value)}")

    def url(self, value: str, dotted: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail(dotted, f"expected an http:// or https:// URL with a host, "
                                    f"got {_describe(value)}")
        if parts.username is not None or parts.password is not None:
            raise self.fail(dotted, "must not carry credentials; put them in auth.username and "
                                    "auth.password")
        if parts.query or parts.fragment:
            raise self.fail(dotted, "must not have a query or fragment")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise self.fail(dotted, f"malformed port in {_describe(value)}") from None
        return value.strip().rstrip("/")

    def template(self, value: str, dotted: str, *, is_url: bool) -> str:
        try:
            fields = _parse_template(value)
        except ValueError as exc:
            raise self.fail(dotted, f"malformed placeholder: {exc}") from None
        for _, name, spec, conversion in fields:
            if name is not None and (name not in PLACEHOLDERS or spec or conversion):
                raise self.fail(dotted, f"unknown placeholder {{{name}}}; known: "
                                        f"{_known_placeholders()}")
        if is_url:
            sample = "".join(lit + ("" if name is None else
                                    "http://127.0.0.1" if name == "base_url" else "x")
                             for lit, name, _, _ in fields)
            parts = urlsplit(sample)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.fail(dotted, "expected a URL starting with {base_url} or "
                                        "http(s)://host")
        else:
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise self.fail(dotted, f"cannot be split into words: {exc}") from None
            if not words:
                raise self.fail(dotted, "must not be empty")
        return value

    # --- sections -----------------------------------------------------------------------------

    def profile(self, data: dict, path: Path, base_url: str | None) -> Profile:
        for key in data:
            if key not in _SECTIONS:
                raise self.fail(str(key), f"unknown top-level key; expected one of "
                                          f"{', '.join(_SECTIONS)}")
        target = self.section(data, "target", required=base_url is None) or {}
        if base_url is not None:
            base = self.url(base_url, "--base-url")
        else:
            raw_base = self.string(target, "base_url", "target.base_url", required=True)
            base = self.url(raw_base or "", "target.base_url")
        timeout = self.raw(target, "timeout_s", "target.timeout_s", required=False)
        timeout_s = 10.0 if timeout is None else _as_number(timeout)
        if timeout_s is None or not math.isfinite(timeout_s) or timeout_s <= 0:
            raise self.fail("target.timeout_s", f"expected a positive number of seconds, "
                                                f"got {_describe(timeout)}")
        connection = self.connection(target, path)
        auth = self.auth(self.section(data, "auth", required=True) or {})
        program = self.program(self.section(data, "program", required=True) or {})
        customers = self.customers(self.section(data, "customers", required=True) or {})
        groups = self.groups(self.section(data, "groups", required=False) or {})
        otp = self.otp(self.section(data, "otp", required=False))
        balance = self.section(data, "balance", required=False)
        clock = self.section(data, "clock", required=False)
        budget = self.section(data, "budget", required=False) or {}
        return Profile(
            base_url=base, timeout_s=float(timeout_s), auth=auth, program=program,
            customers=customers, groups=groups, otp=otp,
            balance_url=self.hook_url(balance, "balance"),
            clock_url=self.hook_url(clock, "clock"),
            budget_max_points=self.integer(budget, "max_points", "budget.max_points",
                                           default=5000) or 5000,
            connection=connection,
            path=path,
        )

    def connection(self, target: dict, path: Path) -> Connection:
        rate_raw = self.raw(target, "rate_limit", "target.rate_limit", required=False)
        rate = None if rate_raw is None else parse_rate(rate_raw)
        if rate_raw is not None and rate is None:
            raise self.fail("target.rate_limit", f"expected calls per second such as 20/s, "
                                                 f"got {_describe(rate_raw)}")
        headers_raw = target.get("headers") or {}
        if not isinstance(headers_raw, dict):
            raise self.fail("target.headers", f"expected a mapping of header names to "
                                              f"values, got {_describe(headers_raw)}")
        headers: dict[str, str] = {}
        for name in headers_raw:
            dotted = f"target.headers.{name}"
            if not isinstance(name, str) or not _HEADER_NAME.match(name):
                raise self.fail(dotted, "not a valid HTTP header name")
            text = self.string(headers_raw, name, dotted, required=True, secret=True,
                               allow_number=True) or ""
            if "\r" in text or "\n" in text:
                raise self.fail(dotted, "a header value must be one line")
            headers[name] = text
        proxy_raw = self.string(target, "proxy", "target.proxy", required=False)
        proxy = None
        if proxy_raw is not None:
            parts = urlsplit(proxy_raw.strip())
            if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
                raise self.fail("target.proxy", f"expected a proxy URL such as "
                                                f"http://host:3128, got {_describe(proxy_raw)}")
            proxy = proxy_raw.strip()
        tls_raw = target.get("tls")
        tls = Tls()
        if tls_raw is not None:
            if not isinstance(tls_raw, dict):
                raise self.fail("target.tls", f"expected a mapping, got {_describe(tls_raw)}")
            for key in tls_raw:
                if key not in ("verify", "ca_bundle", "client_cert", "client_key"):
                    raise self.fail(f"target.tls.{key}", "unknown key; expected one of verify, "
                                                         "ca_bundle, client_cert, client_key")
            files = {}
            for key in ("ca_bundle", "client_cert", "client_key"):
                text = self.string(tls_raw, key, f"target.tls.{key}", required=False)
                if text is None:
                    continue
                file = Path(text).expanduser()
                if not file.is_absolute():
                    file = path.parent / file  # relative to the profile, as a user expects
                if not file.is_file():
                    raise self.fail(f"target.tls.{key}", f"no such file: {file}")
                files[key] = file
            if "client_key" in files and "client_cert" not in files:
                raise self.fail("target.tls.client_key", "needs target.tls.client_cert")
            tls = Tls(verify=self.boolean(tls_raw, "verify", "target.tls.verify", default=True),
                      **files)
        return Connection(rate_limit=rate, headers=headers, proxy=proxy,
                          tls=tls)

    def auth(self, sec: dict) -> Auth:
        username = self.string(sec, "username", "auth.username", required=True) or ""
        password = self.string(sec, "password", "auth.password", required=True,
                               secret=True) or ""
        # Registered before anything else can fail or print, so no later message carries them.
        REDACTOR.add(password, username=username)
        ui_token = self.string(sec, "ui_token", "auth.ui_token", required=False, secret=True)
        REDACTOR.add(ui_token)
        return Auth(
            username=username, password=password,
            password_md5=self.boolean(sec, "password_md5", "auth.password_md5", default=False),
            org_id=self.string(sec, "org_id", "auth.org_id", required=False, allow_number=True),
            ui_token=ui_token,
        )

    def program(self, sec: dict) -> Program:
        raw_id = self.raw(sec, "id", "program.id", required=False)
        program_id = None if raw_id is None else as_int(raw_id)
        if raw_id is not None and (program_id is None or program_id < 0):
            raise self.fail("program.id", f"expected an integer, got {_describe(raw_id)}")
        multiple = self.integer(sec, "points_multiple", "program.points_multiple") or 1
        min_redeem = self.integer(sec, "min_redeem", "program.min_redeem") or 1
        max_redeem = self.integer(sec, "max_redeem", "program.max_redeem") or 1
        if max_redeem < min_redeem:
            raise self.fail("program.max_redeem", f"must be at least min_redeem ({min_redeem}), "
                                                  f"got {max_redeem}")
        return Program(
            id=program_id, points_multiple=multiple, min_redeem=min_redeem,
            max_redeem=max_redeem,
            otp_validity_s=self.integer(sec, "otp_validity_s", "program.otp_validity_s",
                                        default=900) or 900,
            reversal_enabled=self.boolean(sec, "reversal_enabled", "program.reversal_enabled",
                                          default=True),
        )

    def customers(self, sec: dict) -> dict[str, Identifier]:
        for role in REQUIRED_ROLES:
            if sec.get(role) is None:
                raise self.fail(f"customers.{role}", "required role is missing")
        customers: dict[str, Identifier] = {}
        for role, entry in sec.items():
            dotted = f"customers.{role}"
            if not isinstance(role, str) or not _ROLE.match(role):
                raise self.fail(dotted, "a role name is lower-case letters, digits and _")
            if entry is None:
                continue  # an optional role left empty: its scenarios are skipped
            if not isinstance(entry, dict):
                raise self.fail(dotted, f"expected one identifier such as "
                                        f'{{mobile: "447700900001"}}, got {_describe(entry)}')
            if len(entry) != 1:
                raise self.fail(dotted, f"expected exactly one identifier, got {len(entry)} "
                                        f"({', '.join(map(str, entry)) or 'none'})")
            ((key, _),) = entry.items()
            if key not in IDENTIFIER_KEYS:
                raise self.fail(f"{dotted}.{key}", f"unknown identifier; expected one of "
                                                   f"{', '.join(IDENTIFIER_KEYS)}")
            value = self.string(entry, key, f"{dotted}.{key}", required=True, allow_number=True)
            customers[role] = Identifier(key, (value or "").strip())
        return customers

    def groups(self, sec: dict) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        for name, entry in sec.items():
            dotted = f"groups.{name}"
            if not isinstance(name, str) or not _ROLE.match(name):
                raise self.fail(dotted, "a group name is lower-case letters, digits and _")
            if not isinstance(entry, dict):
                raise self.fail(dotted, f'expected a mapping such as {{id: "2626"}}, '
                                        f"got {_describe(entry)}")
            for key in entry:
                if key != "id":
                    raise self.fail(f"{dotted}.{key}", "unknown key; expected id")
            group_id = self.string(entry, "id", f"{dotted}.id", required=True, allow_number=True)
            groups[name] = Group((group_id or "").strip())
        return groups

    def otp(self, sec: dict | None) -> OtpConfig | None:
        if sec is None:
            return None  # no code source: OTP-dependent scenarios are skipped with a reason
        source = self.string(sec, "source", "otp.source", required=True) or ""
        if source not in OTP_SOURCES:
            raise self.fail("otp.source", f"expected one of {' | '.join(OTP_SOURCES)}, "
                                          f"got {_describe(source)}")
        companion = OTP_SOURCES[source]
        for key in ("url", "code", "command"):
            if key != companion and sec.get(key) is not None:
                # A leftover alternative would look configured while being ignored.
                raise self.fail(f"otp.{key}", f"not used when otp.source is {source}; "
                                              f"remove it or comment it out")
        values: dict[str, str | None] = {}
        if companion is not None:
            dotted = f"otp.{companion}"
            if sec.get(companion) is None:
                raise self.fail(dotted, f"required when otp.source is {source}")
            value = self.string(sec, companion, dotted, required=True, secret=companion == "code")
            if companion == "url":
                value = self.template(value or "", dotted, is_url=True)
            elif companion == "command":
                value = self.template(value or "", dotted, is_url=False)
            values[companion] = value
        return OtpConfig(source=source, **values)

    def hook_url(self, sec: dict | None, name: str) -> str | None:
        if sec is None:
            return None
        dotted = f"{name}.url"
        value = self.string(sec, "url", dotted, required=True) or ""
        return self.template(value, dotted, is_url=True)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
