"""How the run reaches the target: rate limit, extra headers, proxy and TLS.

One value, `Connection`, filled from the profile's `target` section and overridden by the
`run` flags; both paths to the target (our client and the fuzzer's transport) apply it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from conformance.target.redaction import MASK

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")


def parse_rate(text: object) -> float | None:
    """``20/s``, ``20`` or ``2.5/s`` -> calls per second; None when it is none of these or
    not above zero."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text) if text > 0 else None
    match = _RATE.match(str(text))
    if not match:
        return None
    rate = float(match.group(1))
    return rate if rate > 0 else None


@dataclass(frozen=True, kw_only=True)
class Tls:
    """``target.tls``: verify the server (against the system's CAs or ``ca_bundle``) and,
    for mutual TLS, present ``client_cert`` (with ``client_key`` unless the PEM holds both)."""

    verify: bool = True
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    @property
    def requests_verify(self) -> bool | str:
        """requests' ``verify``: False, the CA bundle's path, or True (the system's CAs)."""
        if not self.verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True

    @property
    def requests_cert(self) -> str | tuple[str, str] | None:
        """requests' ``cert``: the client certificate (with its key when apart), or None."""
        if self.client_cert is None:
            return None
        if self.client_key is None:
            return str(self.client_cert)
        return str(self.client_cert), str(self.client_key)


@dataclass(frozen=True, kw_only=True)
class Connection:
    """``target.rate_limit`` (calls per second, None: unlimited), ``target.headers`` (sent on
    every call), ``target.proxy`` and ``target.tls``."""

    rate_limit: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    proxy: str | None = None
    tls: Tls = field(default_factory=Tls)

    def requests_settings(self) -> dict:
        """``verify``, ``cert`` and ``proxies`` as requests takes them, for every path to the
        target (our client, the fuzzer's transport, the preflight)."""
        return {"verify": self.tls.requests_verify, "cert": self.tls.requests_cert,
                "proxies": {"http": self.proxy, "https": self.proxy} if self.proxy else {}}


# Headers a profile or --header may not set: the run's credentials and the message's framing
# are the run's own (a gateway key goes under any other name).
RESERVED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "host",
                              "x-cap-api-auth-org-id", "x-cap-ui-auth-token", "content-length",
                              "transfer-encoding", "connection"})


def reserved_header(name: str) -> bool:
    """Whether ``name`` is one of RESERVED_HEADERS (any case)."""
    return name.strip().lower() in RESERVED_HEADERS


def proxy_shown(proxy: str | None) -> str | None:
    """A proxy URL as reports and messages may show it: any userinfo masked."""
    if not proxy:
        return proxy
    parts = urlsplit(proxy)
    if parts.username is None and parts.password is None:
        return proxy
    port = "" if parts.port is None else f":{parts.port}"
    return parts._replace(netloc=f"{MASK}@{parts.hostname}{port}").geturl()


def proxy_secret(proxy: str | None) -> str | None:
    """The password in a proxy URL's userinfo (``http://user:pass@host:3128``), if any."""
    if not proxy:
        return None
    password = urlsplit(proxy).password
    return unquote(password) if password else None
