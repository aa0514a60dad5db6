"""One-time validation codes for redemptions and transfers.

A code stays the same while it is valid (asking again returns it), is single-use, and the
code issued after an expiry always differs from the one before it.
"""

from __future__ import annotations

import secrets

from conformance.server.clock import Clock
from conformance.server.ledger import Ledger, Otp

PURPOSES = ("redeem", "transfer")
# No 0/O or 1/I: the code is read off a phone and typed in.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 6


def _new_code(previous: str | None) -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if code != previous:
            return code


def issue(ledger: Ledger, clock: Clock, user_id: int, purpose: str, validity_s: int) -> str:
    """The customer's active code for ``purpose``, or a new one; call inside a transaction."""
    now = clock.now()
    active = ledger.active_otp(user_id, purpose, now)
    if active is not None:
        return active.code
    code = _new_code(ledger.last_otp_code(user_id, purpose))
    ledger.add_otp(user_id, purpose, code, now, now + validity_s)
    return code


def active(ledger: Ledger, clock: Clock, user_id: int, purpose: str) -> Otp | None:
    """The code the customer may use now for ``purpose``, if any."""
    return ledger.active_otp(user_id, purpose, clock.now())


def matching(ledger: Ledger, clock: Clock, user_id: int, purpose: str, code: str) -> Otp | None:
    """The active code equal to ``code`` (case-insensitive), or None when wrong, used or expired."""
    current = active(ledger, clock, user_id, purpose)
    # Bytes: compare_digest refuses non-ASCII str, and a client may send anything.
    given = code.strip().upper().encode("utf-8", "replace")
    if current is None or not secrets.compare_digest(current.code.encode(), given):
        return None
    return current


def consume(ledger: Ledger, otp: Otp) -> None:
    """Mark a code used; call in the transaction that performs what it authorises."""
    ledger.use_otp(otp.id)
