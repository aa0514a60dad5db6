"""HTTP Basic credentials and the goodwill workflow's org-id and UI-token headers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from conformance.server.seed import Credentials

ORG_HEADER = "x-cap-api-auth-org-id"
UI_TOKEN_HEADER = "x-cap-ui-auth-token"
CHALLENGE = {"WWW-Authenticate": 'Basic realm="Points API"'}
_CACHE_SIZE = 256


class Authenticator:
    """Checks credentials; accepts the password itself or its md5 hex digest (DC-12)."""

    def __init__(self, credentials: Credentials, org_id: int, enforce: bool = True) -> None:
        # enforce=False is the contract.no-auth fault switch: any credentials, or none, pass.
        self._enforce = enforce
        self._username = credentials.username.encode()
        password = credentials.password.encode()
        self._passwords = (password, hashlib.md5(password).hexdigest().encode())
        self._ui_token = credentials.ui_token.encode()
        self._org_id = str(org_id).encode()
        # Decoding and comparing on every request costs more than the rest of isredeemable;
        # a client sends the same header each time.
        self._verdicts: dict[str, bool] = {}

    def basic_ok(self, header: str | None) -> bool:
        """Whether an Authorization header carries the configured Basic credentials."""
        if not self._enforce:
            return True
        if not header:
            return False
        verdict = self._verdicts.get(header)
        if verdict is None:
            verdict = self._check_basic(header)
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[header] = verdict
        return verdict

    def _check_basic(self, header: str) -> bool:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        username, sep, password = decoded.partition(b":")
        if not sep:
            return False
        # Compare everything, always: the time taken says nothing about which part was wrong.
        user_ok = hmac.compare_digest(username, self._username)
        pass_ok = any([hmac.compare_digest(password, self._passwords[0]),
                       hmac.compare_digest(password.lower(), self._passwords[1])])
        return user_ok and pass_ok

    def workflow_ok(self, headers: Mapping[str, str]) -> bool:
        """Basic credentials plus the org id and UI token the goodwill workflow requires."""
        if not self._enforce:
            return True
        org = headers.get(ORG_HEADER, "").strip().encode("utf-8", "replace")
        token = headers.get(UI_TOKEN_HEADER, "").strip().encode("utf-8", "replace")
        return all([self.basic_ok(headers.get("authorization")),
                    hmac.compare_digest(org, self._org_id),
                    hmac.compare_digest(token, self._ui_token)])
