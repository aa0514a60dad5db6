"""The target profile: which API to test, as whom, and under which rules.

specs/profile.schema.json states every key (docs/profile.md is generated from it);
fixtures/profiles/staging-example.yaml is a commented example.
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

from conformance.target import profile_schema
from conformance.target.connection import Connection, Tls, parse_rate, proxy_shown
from conformance.target.profile_schema import describe, dotted
from conformance.target.redaction import MASK, REDACTOR, is_secret_header

# otp.source -> the key that must come with it.
OTP_SOURCES: dict[str, str | None] = {"hook": "url", "fixed": "code", "command": "command",
                                      "prompt": None}
PLACEHOLDERS = ("base_url", "identifier", "value", "purpose", "points")
PURPOSES = ("redeem", "transfer")

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


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
                "headers": {name: MASK if is_secret_header(name) else value
                            for name, value in conn.headers.items()},
                "proxy": proxy_shown(conn.proxy),
                "tls": {"verify": tls.verify,
                        "ca_bundle": tls.ca_bundle and str(tls.ca_bundle),
                        "client_cert": tls.client_cert and str(tls.client_cert),
                        "client_key": tls.client_key and str(tls.client_key)}}


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
    """Read, substitute and validate a profile; ``base_url`` (``--base-url``) wins over the file.

    The order: YAML, ``${VAR}`` substitution, the secrets registered with the redactor, strings
    from the environment read as the numbers and booleans the schema expects, the JSON Schema
    (specs/profile.schema.json), then what a schema cannot say (_Builder).
    """
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
                           f"customers…, got {describe(data)}")
    data = _without_nulls(data)  # an empty key or section means absent, as in the examples
    target = data.get("target")
    if base_url is not None and isinstance(target, dict | None):
        # The file's base_url is not used: a variable it mentions need not be set. A stand-in
        # satisfies the schema; the override itself is checked as --base-url.
        data["target"] = {**(target or {}), "base_url": _OVERRIDDEN}
    data = _Substitution(where, env).tree(data, ())
    _register_secrets(data)
    data = profile_schema.coerce(data)
    problem = profile_schema.first_problem(data)
    if problem is not None:
        raise _fail(where, *problem)
    return _Builder(where, path).profile(data, base_url)


_OVERRIDDEN = "http://base-url.invalid"


def _fail(where: str, dotted: str, message: str) -> ProfileError:
    # Redacted: a secret the user pasted into another key must not reach the terminal.
    return ProfileError(REDACTOR.text(f"{where}: {dotted}: {message}") or "")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


class _Substitution:
    """``${NAME}``, ``${NAME:-default}`` and ``$${`` in every string value of the profile."""

    def __init__(self, where: str, env: Mapping[str, str]) -> None:
        self.where = where
        self.env = env

    def tree(self, value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, dict):
            return {k: self.tree(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return self.text(value, dotted(path))
        return value

    def text(self, value: str, key: str) -> str:
        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "$${":
                return "${"  # escaped: a literal ${ in a value
            if match.group(1) is None:
                raise _fail(self.where, key, "malformed ${…} reference; expected ${NAME} or "
                                             "${NAME:-default}")
            name, default = match.group(1), match.group(2)
            found = self.env.get(name)
            if default is not None:
                return found if found else default  # shell semantics: unset or empty
            if found is None:
                raise _fail(self.where, key, f"environment variable {name} is not set "
                                             f"(write ${{{name}:-default}} to give a default)")
            return found

        return _VAR.sub(replace, value)


def _register_secrets(data: dict[str, Any]) -> None:
    # Before anything can fail or print, so that no later message carries them.
    auth = data.get("auth")
    if isinstance(auth, dict):
        username = auth.get("username")
        for key in ("password", "ui_token"):
            secret = auth.get(key)
            if isinstance(secret, str) and secret.strip():
                REDACTOR.add(secret, username=username if isinstance(username, str) else None)
    target = data.get("target")
    headers = target.get("headers") if isinstance(target, dict) else None
    if isinstance(headers, dict):
        # A header the profile adds is often a gateway key: such a value (by the header's
        # name) is masked like a password; X-Env: staging stays readable.
        for name, value in headers.items():
            if isinstance(name, str) and is_secret_header(name) and isinstance(value, str) \
                    and value.strip():
                REDACTOR.add(value.strip())


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


class _Builder:
    """A schema-valid profile into a Profile: URLs, hook templates, files, cross-key rules."""

    def __init__(self, where: str, path: Path) -> None:
        self.where = where
        self.path = path

    def fail(self, key: str, message: str) -> ProfileError:
        return _fail(self.where, key, message)

    def profile(self, data: dict[str, Any], base_url: str | None) -> Profile:
        target = data.get("target") or {}
        if base_url is not None:
            base = self.url(base_url, "--base-url")
        else:
            base = self.url(target["base_url"], "target.base_url")
        timeout_s = float(target.get("timeout_s", 10.0))
        if not math.isfinite(timeout_s):
            raise self.fail("target.timeout_s", f"expected a positive number of seconds, "
                                                f"got {describe(target['timeout_s'])}")
        otp, balance, clock = data.get("otp"), data.get("balance"), data.get("clock")
        return Profile(
            base_url=base, timeout_s=timeout_s, auth=self.auth(data["auth"]),
            program=self.program(data["program"]),
            customers={role: Identifier(key, value.strip()) for role, entry in
                       data["customers"].items() for key, value in entry.items()},
            groups={name: Group(entry["id"].strip()) for name, entry in
                    (data.get("groups") or {}).items()},
            otp=None if otp is None else self.otp(otp),
            balance_url=None if balance is None else self.template(balance["url"], "balance.url",
                                                                   is_url=True),
            clock_url=None if clock is None else self.template(clock["url"], "clock.url",
                                                               is_url=True),
            budget_max_points=(data.get("budget") or {}).get("max_points", 5000),
            connection=self.connection(target),
            path=self.path,
        )

    def url(self, value: str, dotted: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail(dotted, f"expected an http:// or https:// URL with a host, "
                                    f"got {describe(value)}")
        if parts.username is not None or parts.password is not None:
            raise self.fail(dotted, "must not carry credentials; put them in auth.username and "
                                    "auth.password")
        if parts.query or parts.fragment:
            raise self.fail(dotted, "must not have a query or fragment")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise self.fail(dotted, f"malformed port in {describe(value)}") from None
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

    def connection(self, target: dict[str, Any]) -> Connection:
        rate_raw = target.get("rate_limit")
        rate = None if rate_raw is None else parse_rate(rate_raw)
        if rate_raw is not None and rate is None:  # "0/s": the form is right, the rate is not
            raise self.fail("target.rate_limit", f"expected calls per second such as 20/s, "
                                                 f"got {describe(rate_raw)}")
        headers = dict(target.get("headers") or {})
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise self.fail(f"target.headers.{name}", "a header value must be one line")
        proxy = target.get("proxy")
        if proxy is not None:
            proxy = proxy.strip()
            parts = urlsplit(proxy)
            if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
                raise self.fail("target.proxy", f"expected a proxy URL such as "
                                                f"http://host:3128, got {describe(proxy)}")
        tls_raw = target.get("tls")
        tls = Tls()
        if tls_raw is not None:
            files = {}
            for key in ("ca_bundle", "client_cert", "client_key"):
                if key not in tls_raw:
                    continue
                file = Path(tls_raw[key]).expanduser()
                if not file.is_absolute():
                    file = self.path.parent / file  # relative to the profile, as a user expects
                if not file.is_file():
                    raise self.fail(f"target.tls.{key}", f"no such file: {file}")
                files[key] = file
            if "client_key" in files and "client_cert" not in files:
                raise self.fail("target.tls.client_key", "needs target.tls.client_cert")
            tls = Tls(verify=tls_raw.get("verify", True), **files)
        return Connection(rate_limit=rate, headers=headers, proxy=proxy, tls=tls)

    def auth(self, sec: dict[str, Any]) -> Auth:
        return Auth(username=sec["username"], password=sec["password"],
                    password_md5=sec.get("password_md5", False), org_id=sec.get("org_id"),
                    ui_token=sec.get("ui_token"))

    def program(self, sec: dict[str, Any]) -> Program:
        if sec["max_redeem"] < sec["min_redeem"]:
            raise self.fail("program.max_redeem", f"must be at least min_redeem "
                                                  f"({sec['min_redeem']}), got {sec['max_redeem']}")
        return Program(id=sec.get("id"), points_multiple=sec["points_multiple"],
                       min_redeem=sec["min_redeem"], max_redeem=sec["max_redeem"],
                       otp_validity_s=sec.get("otp_validity_s", 900),
                       reversal_enabled=sec.get("reversal_enabled", True))

    def otp(self, sec: dict[str, Any]) -> OtpConfig:
        source = sec["source"]
        companion = OTP_SOURCES[source]
        for key in ("url", "code", "command"):
            if key != companion and key in sec:
                # A leftover alternative would look configured while being ignored.
                raise self.fail(f"otp.{key}", f"not used when otp.source is {source}; "
                                              f"remove it or comment it out")
        if companion is None:
            return OtpConfig(source=source)
        dotted = f"otp.{companion}"
        if companion not in sec:
            raise self.fail(dotted, f"required when otp.source is {source}")
        value = sec[companion]
        if companion != "code":
            value = self.template(value, dotted, is_url=companion == "url")
        return OtpConfig(source=source, **{companion: value})
