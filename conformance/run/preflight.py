"""Before the first test: is the profile right? Read-only calls, one line naming the key.

A wrong password, an OTP command that does not exist or a customer the target does not know
are the user's configuration, not the API's failures: reported as such they would turn a
run into dozens of false failures. The preflight finds them first and the run stops with
exit 2 and one line naming the profile key to fix. Every call here changes nothing on the
target: isredeemable, the OTP and balance hooks read, the clock hook moved by 0 seconds.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import requests

from conformance.specs import catalog
from conformance.target.bodies import as_bool, redeemable_block, v11_code
from conformance.target.client import ClientError, TargetClient
from conformance.target.profile import Identifier, Profile, format_placeholders
from conformance.target.redaction import REDACTOR

ISREDEEMABLE = "/v1.1/points/isredeemable"
# The role a profile names as "not registered on the target".
UNKNOWN_ROLE = "unknown"


class PreflightError(Exception):
    """The profile does not fit the target; the message names the key (one line)."""

    def __init__(self, message: str) -> None:
        super().__init__(REDACTOR.text(" ".join(message.split())))


class Unanswered(Exception):
    """The target gave no usable answer to the preflight: the run is aborted, not misconfigured
    (the message is one line)."""

    def __init__(self, message: str) -> None:
        super().__init__(REDACTOR.text(" ".join(message.split())))


# A hook answering this is not there at all (a profile pointing at the wrong URL); any other
# answer is the target's, good or bad, and the scenarios that use the hook will say so.
NO_SUCH_HOOK = (401, 403, 404, 405, 410)


def check(profile: Profile, client: TargetClient) -> None:
    """Raise PreflightError for the first thing in the profile the target contradicts."""
    _credentials(profile, client)
    _hooks(profile, client)
    _roles(profile, client)


def _first_role(profile: Profile) -> str:
    """The role the credentials and hooks are tried with: spender, else the first named."""
    return "spender" if "spender" in profile.customers else next(iter(profile.customers))


def _isredeemable(profile: Profile, client: TargetClient, role: str,
                  identifier: Identifier) -> requests.Response:
    params: dict[str, Any] = {identifier.key: identifier.value, "format": "json",
                              "points": profile.program.smallest_amount}
    if profile.program.id is not None:
        params["program_id"] = profile.program.id
    try:
        return client.request("GET", ISREDEEMABLE, params=params,
                              note=f"preflight: isredeemable for {role}")
    except ClientError as exc:
        raise Unanswered(str(exc)) from None


def _credentials(profile: Profile, client: TargetClient) -> None:
    role = _first_role(profile)
    response = _isredeemable(profile, client, role, profile.customers[role])
    if response.status_code in (401, 403):
        md5 = " (sent as its md5, auth.password_md5: true)" if profile.auth.password_md5 else ""
        raise PreflightError(f"auth: credentials refused by {profile.base_url} (HTTP "
                             f"{response.status_code} to isredeemable): check auth.username "
                             f"and auth.password{md5}")


def _hooks(profile: Profile, client: TargetClient) -> None:
    otp = profile.otp
    identifier = profile.customers[_first_role(profile)]
    if otp is not None and otp.source == "command" and otp.command:
        _command_exists(otp.command)
    if otp is not None and otp.source == "hook" and otp.url:
        # 404 is the OTP hook's "no code active": only no answer at all says it is not there.
        url = format_placeholders(otp.url, profile, identifier, "redeem")
        _hook_answers(client, "otp.url", "GET", url, missing=())
    if profile.balance_url:
        url = format_placeholders(profile.balance_url, profile, identifier)
        _hook_answers(client, "balance.url", "GET", url, missing=NO_SUCH_HOOK)
    if profile.clock_url:
        url = format_placeholders(profile.clock_url, profile)
        _hook_answers(client, "clock.url", "POST", url, missing=NO_SUCH_HOOK,
                      json={"advance_s": 0})


def _command_exists(command: str) -> None:
    try:
        program = shlex.split(command)[0]
    except (ValueError, IndexError):
        raise PreflightError(f"otp.command: cannot be read as a command line: {command}") \
            from None
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(program)
        if not path.is_file():
            raise PreflightError(f"otp.command: {program} does not exist")
        if not os.access(path, os.X_OK):
            raise PreflightError(f"otp.command: {program} is not executable")
    elif shutil.which(program) is None:
        raise PreflightError(f"otp.command: {program} is not found on PATH")


def _hook_answers(client: TargetClient, key: str, method: str, url: str, *, missing,
                  json: Any = None) -> None:
    try:
        response = client.call_hook(method, url, json=json, note=f"preflight: {key}")
    except ClientError as exc:
        raise PreflightError(f"{key}: {url} got no answer: {exc}") from None
    if response.status_code in missing:
        raise PreflightError(f"{key}: {url} answered HTTP {response.status_code}: no such "
                             f"hook there")


def _not_found_codes() -> frozenset[int]:
    """The codes a target answers for an identifier no customer holds (RDM-09's)."""
    return frozenset(next(r for r in catalog.requirements() if r.id == "RDM-09").codes)


def _roles(profile: Profile, client: TargetClient) -> None:
    not_found = _not_found_codes()
    for role, identifier in profile.customers.items():
        response = _isredeemable(profile, client, role, identifier)
        try:
            body = response.json()
        except ValueError:
            return  # not the API's envelope: the contract checks will say so, not the profile
        code = v11_code(body)
        if role == UNKNOWN_ROLE:
            # Only a customer the target lets redeem is surely registered: any refusal may be
            # the target's own way (right or wrong, RDM-09 judges it) of not finding one.
            redeemable = as_bool((redeemable_block(body) or {}).get("is_redeemable"))
            if code == 800 and redeemable:
                raise PreflightError(
                    f"customers.{role}: {identifier} is a registered customer on the target "
                    f"(isredeemable {profile.program.smallest_amount} answered 800); name an "
                    f"identifier no customer holds")
        elif code in not_found:
            raise PreflightError(
                f"customers.{role}: the target has no customer {identifier} (isredeemable "
                f"answered {code}); name a registered customer for this role")
