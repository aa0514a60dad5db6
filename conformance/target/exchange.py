"""One recorded HTTP exchange, as evidence in the reports (credentials already redacted)."""

from __future__ import annotations

import shlex
import uuid
from dataclasses import asdict, dataclass, field

BODY_LIMIT = 64 * 1024  # characters of a body kept as evidence


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    status: int | None = None  # None: no response (timeout, refused, reset)
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None  # why there is no response
    note: str = ""  # what this call was for, in the scenario's words
    # Names the call in exchanges.ndjson and results.json alike: a failure's ``decided``
    # mark points at it, so that `replay` finds the call to send again.
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def curl(self) -> str:
        """A curl line that repeats the request; redacted values stay redacted."""
        parts = ["curl", "-sS", "-X", self.method]
        for name, value in self.request_headers.items():
            parts += ["-H", f"{name}: {value}"]
        if self.request_body is not None:
            parts += ["--data-raw", self.request_body]
        parts.append(self.url)
        return " ".join(shlex.quote(p) for p in parts)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["curl"] = self.curl()
        return data


def clip(text: str | None, limit: int = BODY_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters not kept]"
