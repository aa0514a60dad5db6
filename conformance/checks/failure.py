"""The one type of a contract failure found by fuzzing or the link walk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FuzzFailure:
    """A contract failure found on one operation: which requirement, which check, what it said.

    The engine keeps the first failure of each check's title per operation (hypothesis finds
    the same one from many examples); the results collector keeps each distinct message once.
    """

    req_id: str
    operation: str
    check: str
    message: str
    curl: str = ""  # the call again, secrets masked (for the terminal; not in results.json)
    exchange: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        """The requirement id (results.json's name for it)."""
        return self.req_id

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two failures the same one."""
        return (self.req_id, self.operation, self.check, self.message)

    def describe(self) -> str:
        """One line: operation, check, message."""
        return f"{self.operation}: {self.check}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The entry of results.json fuzz.failures."""
        return {"id": self.req_id, "operation": self.operation, "check": self.check,
                "message": self.message, "exchange": self.exchange}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FuzzFailure:
        return cls(req_id=data["id"], operation=data["operation"], check=data["check"],
                   message=data["message"], exchange=data.get("exchange"))
