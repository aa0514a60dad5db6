"""How the run reaches the target: rate limit, extra headers, proxy and TLS.

One value, `Connection`, filled from the profile's `target` section and overridden by the
`run` flags; both paths to the target (our client and the fuzzer's transport) apply it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True, kw_only=True)
class Connection:
    """``target.rate_limit`` (calls per second, None: unlimited), ``target.headers`` (sent on
    every call), ``target.proxy`` and ``target.tls``."""

    rate_limit: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    proxy: str | None = None
    tls: Tls = field(default_factory=Tls)
