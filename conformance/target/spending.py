"""Keeping a run's footprint small on a shared target: a points budget and an undo log."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from conformance.target.client import ClientError, TargetClient, TargetUnreachable
from conformance.target.profile import Identifier

REVERSE_PATH = "/v2/points/reverse"
# The reversal body's identifier types (ReverseIdentifier in specs/openapi/points-v2.yaml).
_REVERSE_TYPES = {"mobile": "mobile", "email": "email", "external_id": "externalId"}


def reverse_identifier(identifier: Identifier) -> dict[str, str] | None:
    """The reversal body's ``identifier`` for a customer, or None when it cannot carry it.

    The field is optional; card_number and user_id have no reversal type, so a reversal for a
    customer named that way goes without one.
    """
    kind = _REVERSE_TYPES.get(identifier.key)
    return None if kind is None else {"type": kind, "value": identifier.value}


class BudgetExceeded(Exception):
    """A call would take the run past budget.max_points; nothing was spent."""


class Budget:
    """The most points one run may redeem or transfer; thread-safe."""

    def __init__(self, max_points: int) -> None:
        if max_points < 0:
            raise ValueError(f"max_points must not be negative, got {max_points}")
        self.max_points = max_points
        self._spent = 0
        self._lock = threading.Lock()

    @property
    def spent(self) -> int:
        """Points spent so far."""
        with self._lock:
            return self._spent

    @property
    def remaining(self) -> int:
        """Points still available to this run."""
        with self._lock:
            return self.max_points - self._spent

    def spend(self, points: int, what: str) -> None:
        """Reserve ``points`` for ``what`` before the call, or raise BudgetExceeded."""
        if points < 0:
            raise ValueError(f"{what}: cannot spend a negative amount ({points})")
        with self._lock:
            remaining = self.max_points - self._spent
            if points > remaining:
                raise BudgetExceeded(
                    f"{what}: asked for {points} points but only {remaining} of the run's "
                    f"budget of {self.max_points} remain (budget.max_points)")
            self._spent += points


@dataclass
class Redemption:
    """One redemption the run made, and how much of it has been given back."""

    redemption_id: str
    identifier: Identifier
    points: int
    reversed_points: int = 0

    @property
    def outstanding(self) -> int:
        """Points still to give back."""
        return max(self.points - self.reversed_points, 0)


class UndoLog:
    """Every redemption the run made, so that whatever is left can be reversed at the end."""

    def __init__(self) -> None:
        self._entries: dict[str, Redemption] = {}
        self._lock = threading.Lock()

    def redeemed(self, redemption_id: str, identifier: Identifier, points: int) -> None:
        """Note a successful redemption."""
        with self._lock:
            entry = self._entries.get(redemption_id)
            if entry is None:
                self._entries[redemption_id] = Redemption(str(redemption_id), identifier, points)
            else:
                entry.points += points  # a target that reuses an id: owe both

    def reversed(self, redemption_id: str, points: int) -> None:
        """Note a successful (possibly partial) reversal made by a scenario."""
        with self._lock:
            entry = self._entries.get(redemption_id)
            if entry is not None:
                entry.reversed_points += points

    @property
    def outstanding(self) -> list[Redemption]:
        """Redemptions not yet fully reversed (copies)."""
        with self._lock:
            return [Redemption(e.redemption_id, e.identifier, e.points, e.reversed_points)
                    for e in self._entries.values() if e.outstanding > 0]

    def undo_all(self, client: TargetClient) -> list[str]:
        """Reverse everything outstanding; one line per redemption that could not be undone."""
        pending = self.outstanding
        if not pending:
            return []
        if not client.profile.program.reversal_enabled:
            return [_line(e, "not attempted: program.reversal_enabled is false")
                    for e in pending]
        lines: list[str] = []
        unreachable: str | None = None
        for entry in pending:
            if unreachable is not None:
                lines.append(_line(entry, f"not attempted: {unreachable}"))
                continue
            try:
                reversed_points, why = _reverse(client, entry)
            except TargetUnreachable as exc:
                unreachable = "the target stopped answering"
                lines.append(_line(entry, f"not reversed: {exc}"))
                continue
            except ClientError as exc:  # MutationRefused, ResponseTooLarge, …
                lines.append(_line(entry, f"not reversed: {exc}"))
                continue
            if reversed_points:
                self.reversed(entry.redemption_id, reversed_points)
            if why is not None:
                lines.append(_line(entry, why))
        return lines


def _line(entry: Redemption, why: str) -> str:
    return (f"redemption {entry.redemption_id} ({entry.outstanding} of {entry.points} points, "
            f"{entry.identifier}): {why}")


def _reverse(client: TargetClient, entry: Redemption) -> tuple[int, str | None]:
    """POST the reversal; the points given back and, if not all of them, why not."""
    body: dict[str, Any] = {"redemptionId": entry.redemption_id,
                            "pointsToBeReversed": entry.outstanding}
    who = reverse_identifier(entry.identifier)
    if who is not None:
        body["identifier"] = who
    response = client.request("POST", REVERSE_PATH, json=body,
                              note=f"undo: reverse redemption {entry.redemption_id}")
    try:
        data = response.json()
    except ValueError:
        data = None
    # Judged by the body, as every business outcome (DC-11), not the status.
    if not isinstance(data, dict):
        return 0, f"not reversed: HTTP {response.status_code}, the answer is not a JSON object"
    errors = data.get("errors") or []
    if errors:
        return 0, f"not reversed: {_messages(errors)}"
    if not data.get("reversalId"):
        warnings = data.get("warnings") or []
        detail = f": {_messages(warnings)}" if warnings else ""
        return 0, f"not reversed: HTTP {response.status_code}, no reversalId{detail}"
    given_back = _whole(data.get("pointsReversed"), default=entry.outstanding)
    if given_back < entry.outstanding:
        return given_back, (f"only {given_back} of {entry.outstanding} points reversed "
                            f"(reversalId {data['reversalId']})")
    return entry.outstanding, None


def _whole(value: Any, *, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return default
    return default


def _messages(items: Any) -> str:
    if not isinstance(items, list):
        return str(items)[:200]
    parts = []
    for item in items[:5]:
        if isinstance(item, dict):
            parts.append(f"{item.get('code', '?')} {item.get('message', '')}".strip())
        else:
            parts.append(str(item))
    return "; ".join(parts)[:300]
