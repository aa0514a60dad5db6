"""The run's options, declared once.

`points-conformance run`'s flags, the pytest plugin's ``--pc-*`` options (for plain
``pytest --pyargs conformance.suite``) and the arguments the runner hands to pytest are all
derived from the fields of `RunOptions`: adding an option is one field here.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.target.connection import proxy_shown

SUITES = ("all", "contract", "fuzz", "scenarios")
PYTEST_PREFIX = "pc_"


def _option(help: str, *, metavar: str | None = None, type: Any = str,
            choices: tuple[str, ...] | None = None, repeat: bool = False) -> dict[str, Any]:
    # repeat: the flag may be given more than once, each adding one value (--header)
    return {"help": help, "metavar": metavar, "type": type, "choices": choices,
            "repeat": repeat}


class OptionError(ValueError):
    """A flag's value that cannot be used: one line naming the flag (exit 2)."""


@dataclass(frozen=True)
class RunOptions:
    """What one run was asked to do (defaults are the defaults users get)."""

    base_url: str | None = field(default=None, metadata=_option(
        "the target (needs --profile)", metavar="URL"))
    profile: Path | None = field(default=None, metadata=_option(
        "target profile (YAML)", metavar="PATH", type=Path))
    report_dir: Path | None = field(default=None, metadata=_option(
        "where to write the reports (default: reports/<UTC timestamp>/)", metavar="DIR",
        type=Path))
    suite: str = field(default="all", metadata=_option(
        "which tests: all, contract (examples and coverage phases), fuzz (the fuzzing phase "
        "and the linked sequences), scenarios (the business rules) (default all)",
        choices=SUITES))
    only: tuple[str, ...] = field(default=(), metadata=_option(
        "run only the tests of these requirement ids", metavar="ID"))
    max_examples: int = field(default=25, metadata=_option(
        "schemathesis examples per operation and phase (default 25)", metavar="N", type=int))
    seed: int | None = field(default=None, metadata=_option(
        "make generated data repeatable (default: a random seed, printed first)", metavar="N",
        type=int))
    workers: int = field(default=1, metadata=_option(
        "schemathesis workers fuzzing at once (default 1)", metavar="N", type=int))
    strict: bool = field(default=False, metadata=_option(
        "judge by the strict specs: flag every undocumented choice", type=bool))
    allow_mutations: bool = field(default=False, metadata=_option(
        "allow state-changing calls to a target outside loopback", type=bool))
    baseline: Path | None = field(default=None, metadata=_option(
        "known failures: reported, but they do not fail the run", metavar="FILE", type=Path))
    baseline_update: Path | None = field(default=None, metadata=_option(
        "write the run's MUST failures to FILE as a baseline (keeps the reason and until of "
        "entries --baseline already lists)", metavar="FILE", type=Path))
    max_wait: float = field(default=30.0, metadata=_option(
        "longest a scenario may wait for a code to expire, in seconds (default 30)",
        metavar="S", type=float))
    min_coverage: float | None = field(default=None, metadata=_option(
        "a run whose total coverage (coverage.json) is below PCT percent is non-conformant",
        metavar="PCT", type=float))
    shard: str | None = field(default=None, metadata=_option(
        "run share I of N of the suite (1/4 ... 4/4, one CI job each, same --seed), then "
        "`points-conformance merge` the N report folders into one verdict", metavar="I/N"))
    verbose: bool = field(default=False, metadata=_option(
        "also show pytest's own output: tracebacks, its FAILED lines and totals, warnings",
        type=bool))
    rate_limit: str | None = field(default=None, metadata=_option(
        "most calls per second to the target, fuzzing and scenarios together (overrides "
        "target.rate_limit)", metavar="N/s"))
    request_timeout: float | None = field(default=None, metadata=_option(
        "seconds to wait for each answer (overrides target.timeout_s)", metavar="S",
        type=float))
    header: tuple[str, ...] = field(default=(), metadata=_option(
        "a header sent on every call to the target, added to target.headers (repeatable)",
        metavar="'Name: value'", repeat=True))
    proxy: str | None = field(default=None, metadata=_option(
        "reach the target through this proxy (overrides target.proxy)", metavar="URL"))
    tls_verify: str | None = field(default=None, metadata=_option(
        "verify the target's certificate: true (the system's CAs), false, or a CA bundle "
        "(overrides target.tls.verify and ca_bundle)", metavar="true|false|CA.pem"))
    client_cert: Path | None = field(default=None, metadata=_option(
        "client certificate for mutual TLS (overrides target.tls.client_cert)", metavar="PEM",
        type=Path))
    client_key: Path | None = field(default=None, metadata=_option(
        "the client certificate's private key, when not in the certificate's PEM",
        metavar="PEM", type=Path))

    def as_state(self) -> dict[str, Any]:
        """The options as the suite's tests read them (``pc.options[...]``)."""
        return {"strict": self.strict, "allow_mutations": self.allow_mutations,
                "max_examples": self.max_examples, "seed": self.seed, "workers": self.workers,
                "max_wait": self.max_wait, "suite": self.suite, "only": set(self.only),
                "min_coverage": self.min_coverage,
                "shard": list(parse_shard(self.shard)) if self.shard else None,
                "rate_limit": self.rate_limit,
                "request_timeout": self.request_timeout,
                # Header values may be gateway keys, a proxy URL may carry a password: the
                # fingerprint shows names and hosts only.
                "header": sorted({_header_name(text) for text in self.header}),
                "proxy": proxy_shown(self.proxy), "tls_verify": self.tls_verify,
                "client_cert": self.client_cert and str(self.client_cert),
                "client_key": self.client_key and str(self.client_key)}

    def connect(self, profile: Any) -> Any:
        """``profile`` with the connection flags applied over its ``target`` section (a flag
        wins over the profile's key); OptionError names a flag that cannot be used, and a
        profile header no flag may set either."""
        from conformance.target.connection import parse_rate, proxy_secret, reserved_header
        from conformance.target.redaction import REDACTOR, is_secret_header

        conn = profile.connection
        changes: dict[str, Any] = {}
        if self.rate_limit is not None:
            rate = parse_rate(self.rate_limit)
            if rate is None:
                raise OptionError(f"--rate-limit {self.rate_limit}: expected calls per second "
                                  f"such as 20/s")
            changes["rate_limit"] = rate
        headers = dict(conn.headers)
        for name in headers:
            if reserved_header(name):
                where = f"profile {profile.path}: " if profile.path else ""
                raise OptionError(f"{where}target.headers.{name}: would override a header the "
                                  f"run sets itself (credentials, Host or framing)")
        for text in self.header:
            name, sep, value = text.partition(":")
            name, value = name.strip(), value.strip()
            if not sep or not name or not _TOKEN.match(name) or "\r" in value or "\n" in value:
                raise OptionError(f"--header {_header_name(text)!r}: expected 'Name: value'")
            if reserved_header(name):
                raise OptionError(f"--header {name}: would override a header the run sets "
                                  f"itself (credentials, Host or framing)")
            if is_secret_header(name):  # X-Api-Key: masked; X-Env: staging stays readable
                REDACTOR.add(value)
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        changes["headers"] = headers
        if self.proxy is not None:
            parts = urlsplit(self.proxy.strip())
            if parts.scheme not in ("http", "https", "socks5", "socks5h") or not parts.hostname:
                raise OptionError(f"--proxy {proxy_shown(self.proxy)}: expected a proxy "
                                  f"URL such as http://host:3128")
            changes["proxy"] = self.proxy.strip()
        REDACTOR.add(proxy_secret(changes.get("proxy", conn.proxy)))
        tls = conn.tls
        tls_changes: dict[str, Any] = {}
        if self.tls_verify is not None:
            word = self.tls_verify.strip().lower()
            if word in ("true", "false"):
                tls_changes.update(verify=word == "true", ca_bundle=None)
            else:
                _must_exist("--tls-verify", Path(self.tls_verify), "true, false or a CA bundle")
                tls_changes.update(verify=True, ca_bundle=Path(self.tls_verify))
        if self.client_cert is not None:
            _must_exist("--client-cert", self.client_cert, "a PEM file")
            tls_changes.update(client_cert=self.client_cert, client_key=None)
        if self.client_key is not None:
            if self.client_cert is None and tls.client_cert is None:
                raise OptionError("--client-key needs --client-cert (or target.tls.client_cert)")
            _must_exist("--client-key", self.client_key, "a PEM file")
            tls_changes["client_key"] = self.client_key
        if tls_changes:
            changes["tls"] = dataclasses.replace(tls, **tls_changes)
        profile = dataclasses.replace(profile, connection=dataclasses.replace(conn, **changes))
        if self.request_timeout is not None:
            if not self.request_timeout > 0 or self.request_timeout == float("inf"):
                raise OptionError(f"--request-timeout {self.request_timeout:g}: expected a "
                                  f"positive number of seconds")
            profile = dataclasses.replace(profile, timeout_s=self.request_timeout)
        return profile


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110)


def _header_name(text: str) -> str:
    return text.partition(":")[0].strip()


def _must_exist(flag: str, path: Path, what: str) -> None:
    if not path.is_file():
        raise OptionError(f"{flag} {path}: no such file (expected {what})")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; ValueError with a one-line reason for anything else."""
    index, slash, count = str(text).partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"--shard {text}: expected I/N, as in 2/4")
    i, n = int(index), int(count)
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"--shard {text}: I must be from 1 to N, and N at least 1")
    return i, n


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kwargs(f: dataclasses.Field, *, repeat: str) -> dict[str, Any]:
    meta = f.metadata
    if meta["type"] is bool:
        return {"action": "store_true", "help": meta["help"]}
    kwargs: dict[str, Any] = {"help": meta["help"], "metavar": meta["metavar"],
                              "default": f.default}
    if f.name == "only":
        kwargs.update({"default": []} | ({"nargs": "+"} if repeat == "nargs" else
                                         {"action": "append"}))
    elif meta["repeat"]:
        kwargs.update(default=[], action="append", type=meta["type"])
    else:
        kwargs["type"] = meta["type"]
    if meta["choices"]:
        kwargs["choices"] = meta["choices"]
        kwargs.pop("metavar")
    return kwargs


def add_to_argparse(parser: argparse.ArgumentParser) -> None:
    """`points-conformance run`'s flags: ``--base-url``, ``--only ID [ID ...]``, ..."""
    for f in dataclasses.fields(RunOptions):
        parser.add_argument(_flag(f.name), **_kwargs(f, repeat="nargs"))


def add_to_pytest(group: Any) -> None:
    """The plugin's ``--pc-*`` options (``--pc-only`` repeats, one id each)."""
    for f in dataclasses.fields(RunOptions):
        group.addoption("--pc-" + f.name.replace("_", "-"), dest=PYTEST_PREFIX + f.name,
                        **_kwargs(f, repeat="append"))


def from_namespace(args: argparse.Namespace) -> RunOptions:
    """The options of a parsed `run` command line."""
    return _build(lambda name: getattr(args, name))


def from_pytest(config: Any) -> RunOptions:
    """The options of a pytest session started with ``--pc-*`` options."""
    return _build(lambda name: config.getoption(PYTEST_PREFIX + name))


def _build(value) -> RunOptions:
    given = {f.name: value(f.name) for f in dataclasses.fields(RunOptions)}
    given["only"] = tuple(given["only"] or ())
    given["header"] = tuple(given["header"] or ())
    for name in ("profile", "report_dir", "baseline", "baseline_update", "client_cert",
                 "client_key"):
        if given[name] is not None:
            given[name] = Path(given[name])
    return RunOptions(**given)


def pytest_args(options: RunOptions) -> list[str]:
    """The ``--pc-*`` arguments that give a pytest session these options."""
    args: list[str] = []
    for f in dataclasses.fields(RunOptions):
        value = getattr(options, f.name)
        flag = "--pc-" + f.name.replace("_", "-")
        if isinstance(value, tuple):
            for item in value:
                args += [flag, item]
        elif f.metadata["type"] is bool:
            if value:
                args.append(flag)
        elif value is not None and value != f.default:
            args += [flag, str(value)]
    return args
