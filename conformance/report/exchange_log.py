"""exchanges.ndjson: every call the run's client made to the target (scenarios, hooks, undo),
one JSON object a line, secrets masked. Fuzzed calls are counted, not logged; the ones that
failed a check are in results.json with their exchange."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from conformance.report.results import scrub

FILE_NAME = "exchanges.ndjson"


class ExchangeLog:
    """Appends one line per exchange; xdist workers append to the same file (O_APPEND)."""

    def __init__(self, report_dir: Path) -> None:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(report_dir) / FILE_NAME
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                       0o644)
        os.fchmod(self._fd, 0o644)  # os.open's mode passes through the umask
        self._lock = threading.Lock()

    def write(self, exchange: dict[str, Any]) -> None:
        line = (json.dumps(scrub(exchange), ensure_ascii=False, sort_keys=True) + "\n").encode()
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
