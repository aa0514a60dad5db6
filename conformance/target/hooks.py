"""Where the suite learns what only the target knows: validation codes, balances, the clock.

The HTTP hooks (the reference server's /_test/ endpoints, or a staging org's own) are
target-side test endpoints: they are called through
``TargetClient.call_hook``, which sends no credentials and skips the mutation guard but keeps
the timeout, size cap, redirect policy and recording, so every hook call is evidence too.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import requests

from conformance.target.client import TargetClient
from conformance.target.profile import PURPOSES, Identifier, Profile, format_placeholders
from conformance.target.redaction import REDACTOR

COMMAND_TIMEOUT_S = 30.0


class HookError(Exception):
    """A configured source or hook failed; the message is one line, secrets redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(REDACTOR.text(" ".join(message.split())))


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise HookError(f"{what}: expected a JSON object, got {response.text[:80]!r}")
    return data


class OtpSource:
    """Gets the validation code the target issued to a customer, per the profile's otp section."""

    def __init__(self, profile: Profile, client: TargetClient, *,
                 input_fn: Callable[[str], str] = input,
                 isatty: Callable[[], bool] | None = None,
                 command_timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        self.profile = profile
        self.client = client
        self._input = input_fn
        self._isatty = isatty if isatty is not None else _stdin_isatty
        self._command_timeout_s = command_timeout_s

    @property
    def source(self) -> str | None:
        """hook, fixed, command or prompt; None when the profile has no otp section."""
        return None if self.profile.otp is None else self.profile.otp.source

    @property
    def unavailable_reason(self) -> str | None:
        """Why codes cannot be had in this run (for a scenario's skip reason), else None."""
        if self.profile.otp is None:
            return "the profile has no otp section, so the suite cannot learn validation codes"
        if self.profile.otp.source == "prompt" and not self._isatty():
            return "otp.source is prompt but standard input is not a terminal"
        return None

    def get(self, identifier: Identifier, purpose: str) -> str | None:
        """The active code for ``identifier`` and ``purpose``; None when none is active."""
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
        otp = self.profile.otp
        reason = self.unavailable_reason
        if otp is None or reason is not None:
            raise HookError(reason or "no otp source")
        if otp.source == "fixed":
            return otp.code
        if otp.source == "hook":
            return self._from_hook(otp.url or "", identifier, purpose)
        if otp.source == "command":
            return self._from_command(otp.command or "", identifier, purpose)
        return self._from_prompt(identifier, purpose)

    def _from_hook(self, template: str, identifier: Identifier, purpose: str) -> str | None:
        url = format_placeholders(template, self.profile, identifier, purpose)
        response = self.client.call_hook("GET", url, note=f"OTP hook: code for {identifier} "
                                                          f"({purpose})")
        if response.status_code == 404:
            return None  # the hook's way of saying no code is active
        if response.status_code != 200:
            raise HookError(f"OTP hook {url}: HTTP {response.status_code}")
        code = _json_object(response, f"OTP hook {url}").get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            raise HookError(f"OTP hook {url}: no \"code\" string in the answer")
        return code.strip()

    def _from_command(self, template: str, identifier: Identifier, purpose: str) -> str | None:
        # Split first, then fill each word: a value with spaces or quotes stays one argument
        # and can never become shell syntax (there is no shell).
        argv = [format_placeholders(word, self.profile, identifier, purpose, for_url=False)
                for word in shlex.split(template)]
        shown = shlex.join(argv)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False,
                                  stdin=subprocess.DEVNULL, timeout=self._command_timeout_s)
        except FileNotFoundError:
            raise HookError(f"OTP command not found: {argv[0]}") from None
        except PermissionError:
            raise HookError(f"OTP command not executable: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise HookError(f"OTP command did not finish within {self._command_timeout_s:g} s: "
                            f"{shown}") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
            raise HookError(f"OTP command exited with status {done.returncode}: {shown}: {last}")
        code = done.stdout.strip()
        if not code:
            return None  # printed nothing: no active code
        if len(code.split()) != 1:
            raise HookError(f"OTP command printed more than one word; expected only the code: "
                            f"{shown}")
        return code

    def _from_prompt(self, identifier: Identifier, purpose: str) -> str | None:
        code = self._input(f"Validation code sent to {identifier} for {purpose}: ").strip()
        return code or None


def _stdin_isatty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # stdin closed
        return False


class BalanceSource:
    """A customer's balance from the profile's balance hook, when there is one."""

    def __init__(self, profile: Profile, client: TargetClient) -> None:
        self.profile = profile
        self.client = client

    @property
    def available(self) -> bool:
        """Whether the profile configures a balance hook."""
        return self.profile.balance_url is not None

    def get(self, identifier: Identifier) -> int | None:
        """The current balance; None when no balance hook is configured."""
        if self.profile.balance_url is None:
            return None
        url = format_placeholders(self.profile.balance_url, self.profile, identifier)
        response = self.client.call_hook("GET", url, note=f"balance hook: {identifier}")
        if response.status_code != 200:
            raise HookError(f"balance hook {url}: HTTP {response.status_code}")
        balance = _json_object(response, f"balance hook {url}").get("balance")
        if isinstance(balance, float) and balance.is_integer():
            balance = int(balance)
        if not isinstance(balance, int) or isinstance(balance, bool):
            raise HookError(f"balance hook {url}: \"balance\" is not a whole number: "
                            f"{json.dumps(balance)}")
        return balance


class Clock:
    """Moves the target's clock forward through the profile's clock hook, when there is one."""

    def __init__(self, profile: Profile, client: TargetClient) -> None:
        self.profile = profile
        self.client = client

    @property
    def available(self) -> bool:
        """Whether the profile configures a clock hook."""
        return self.profile.clock_url is not None

    def advance(self, seconds: float) -> bool:
        """Advance the target's clock; False when no clock hook is configured (wait instead)."""
        if self.profile.clock_url is None:
            return False
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds} s")
        url = format_placeholders(self.profile.clock_url, self.profile)
        response = self.client.call_hook("POST", url, json={"advance_s": seconds},
                                         note=f"clock hook: advance {seconds:g} s")
        if not 200 <= response.status_code < 300:
            raise HookError(f"clock hook {url}: HTTP {response.status_code}")
        return True
