"""The server's clock: wall time plus an offset that the /_test/clock hook moves forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """UTC time as this server sees it."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def now(self) -> float:
        return time.time() + self.offset_s

    def stamp(self) -> str:
        """``YYYY-MM-DD HH:MM:SS``, the form of the v2 transfer dates."""
        return datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%d %H:%M:%S")

    def iso(self) -> str:
        """``YYYY-MM-DDTHH:MM:SS``, the form of the goodwill workflow's times."""
        return datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S")
