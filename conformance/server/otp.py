"""One-time validation codes for redemptions and transfers.

A code stays the same while it is valid (asking again returns it), is single-use, and the
code issued after an expiry always differs from the one before it. The otp.* fault switches
break one of these for redeem codes only: the OTP requirements are about redeem codes, and
transfer codes have switches of their own.
"""

from __future__ import annotations

import secrets

from conformance.server import switches
from conformance.server.clock import Clock
from conformance.server.ledger import Ledger, Otp

PURPOSES = ("redeem", "transfer")
# No 0/O or 1/I: the code is read off a phone and typed in.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 6
NO_FAULTS: frozenset[str] = frozenset()


def _on(faults: frozenset[str], switch: str, purpose: str) -> bool:
    return purpose == "redeem" and switch in faults


def _new_code(previous: str | None) -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if code != previous:
            return code


def issue(ledger: Ledger, clock: Clock, user_id: int, purpose: str, validity_s: int,
          faults: frozenset[str] = NO_FAULTS) -> str:
    """The customer's active code for ``purpose``, or a new one; call inside a transaction."""
    now = clock.now()
    current = active(ledger, clock, user_id, purpose, faults)
    if current is not None and not _on(faults, switches.OTP_REGENERATE, purpose):
        return current.code
    code = _new_code(ledger.last_otp_code(user_id, purpose))
    ledger.add_otp(user_id, purpose, code, now, now + validity_s)
    return code


def active(ledger: Ledger, clock: Clock, user_id: int, purpose: str,
           faults: frozenset[str] = NO_FAULTS) -> Otp | None:
    """The code the customer may use now for ``purpose``, if any."""
    # None: any unused code counts, however old (otp.no-expiry).
    now = None if _on(faults, switches.OTP_NO_EXPIRY, purpose) else clock.now()
    return ledger.active_otp(user_id, purpose, now)


def matching(ledger: Ledger, clock: Clock, user_id: int, purpose: str, code: str,
             faults: frozenset[str] = NO_FAULTS) -> Otp | None:
    """The active code equal to ``code`` (case-insensitive), or None when wrong, used or expired."""
    current = active(ledger, clock, user_id, purpose, faults)
    # Bytes: compare_digest refuses non-ASCII str, and a client may send anything.
    given = code.strip().upper().encode("utf-8", "replace")
    if current is None or not secrets.compare_digest(current.code.encode(), given):
        return None
    return current


def consume(ledger: Ledger, otp: Otp, purpose: str, faults: frozenset[str] = NO_FAULTS) -> None:
    """Mark a code used; call in the transaction that performs what it authorises."""
    if not _on(faults, switches.OTP_REUSABLE, purpose):
        ledger.use_otp(otp.id)
