"""Keep credentials out of everything the suite writes or prints."""

from __future__ import annotations

import base64
import hashlib
import re
import threading

MASK = "[REDACTED]"
# The profile's Basic credentials as they travel: the password as given, or its md5 hex digest
BASIC, BASIC_MD5 = "basic", "basic-md5"
SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "x-cap-ui-auth-token", "cookie",
                     "set-cookie"}
# Words in a header's name that say its value is a credential (X-Api-Key, X-Gateway-Token,
# Ocp-Apim-Subscription-Key, X-Signature ...): such values the user adds are masked.
_SECRET_WORDS = ("auth", "token", "key", "secret", "signature", "cookie", "session",
                 "password", "credential", "jwt", "bearer")


def is_secret_header(name: str) -> bool:
    """Whether a header the user adds (target.headers, --header) carries a credential."""
    lowered = name.lower()
    return lowered in SENSITIVE_HEADERS or any(word in lowered for word in _SECRET_WORDS)


class Redactor:
    """Replaces every known secret, and the encodings it travels in, with a mask."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._basic: dict[str, str] = {}  # "Basic <token>" -> BASIC or BASIC_MD5

    def add(self, secret: str | None, *, username: str | None = None) -> None:
        """Register a secret; with ``username``, also its Basic and md5 forms."""
        if not secret or len(secret) < 3:
            return
        digest = hashlib.md5(secret.encode()).hexdigest()
        forms = {secret, digest}
        basic = {}
        if username is not None:
            for password, kind in ((secret, BASIC), (digest, BASIC_MD5)):
                token = base64.b64encode(f"{username}:{password}".encode()).decode()
                forms |= {token, f"Basic {token}"}
                basic[f"Basic {token}"] = kind
        with self._lock:
            self._basic.update(basic)
            self._secrets |= forms
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_forms(self, forms) -> None:
        """Register secrets exactly as given (``secrets`` of another process's redactor)."""
        with self._lock:
            self._secrets |= set(forms)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) \
                if ordered else None

    def basic_kind(self, authorization: str | None) -> str | None:
        """BASIC or BASIC_MD5 when an Authorization value is a registered user's Basic
        credentials (password as given, or its md5 digest); else None."""
        with self._lock:
            return self._basic.get((authorization or "").strip())

    def text(self, value: str | None) -> str | None:
        if value is None or self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {name: (MASK if name.lower() in SENSITIVE_HEADERS else self.text(str(value)) or "")
                for name, value in (headers or {}).items()}

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)


# One per process: the profile registers its secrets once, every writer consults it.
REDACTOR = Redactor()
