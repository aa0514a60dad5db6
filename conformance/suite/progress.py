"""The run's progress on the terminal while pytest's own output is kept off it.

On a terminal: one status line redrawn in place. Elsewhere (a CI log, a pipe): a plain line at
each quarter of the tests and, while the background fuzzing reports, at most one line every
30 seconds, so that a long run shows it is alive without filling the log.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import TextIO

PREFIX = "[points-conformance] "
QUIET_S = 30.0  # off a terminal: the least time between two lines of background news
STEPS = 4  # off a terminal: a line each time another quarter of the tests is done
REDRAW_S = 0.1  # on a terminal: the background news redraws the line at most this often
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}  # a test's worst phase counts


class Progress:
    """Counts finished tests and shows them with the latest news; safe from any thread."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        if tty is None:
            isatty = getattr(stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self._clock = clock
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._counts = {"failed": 0, "skipped": 0, "error": 0}
        self._pending: dict[str, str] = {}  # test id -> its outcome so far
        self._news = ""
        self._last_news: float | None = None  # when news was last written (off a terminal)
        self._last_draw = -REDRAW_S
        self._step = 0
        self._drawn = False  # a status line is on the screen, not ended by a newline

    def start(self, total: int) -> None:
        """The number of tests the run is about to run."""
        with self._lock:
            self._total = total
            self._redraw()

    def note(self, message: str, *, always: bool = False) -> None:
        """News from the run; ``always`` for the few lines every log must keep (the target)."""
        with self._lock:
            now = self._clock()
            if always:
                self._permanent(message)
                return
            self._news = message
            if self.tty:
                if now - self._last_draw >= REDRAW_S:
                    self._redraw()
            elif self._last_news is None or now - self._last_news >= QUIET_S:
                self._plain(f"{self._counts_text()}; {message}")
                self._last_news = now

    def report(self, test_id: str, when: str, outcome: str) -> None:
        """One of pytest's reports (setup, call, teardown) of a test."""
        with self._lock:
            status = outcome if outcome != "failed" else \
                ("failed" if when == "call" else "error")
            if _RANK.get(status, 0) > _RANK[self._pending.get(test_id, "passed")]:
                self._pending[test_id] = status
            if when != "teardown":
                return
            final = self._pending.pop(test_id, "passed")
            self._done += 1
            if final in self._counts:
                self._counts[final] += 1
            if self.tty:
                self._redraw()
                return
            step = self._done * STEPS // self._total if self._total else 0
            if step > self._step:
                self._step = step
                self._plain(self._counts_text())

    def finish(self) -> None:
        """The tests are over: end the status line so the summary starts on its own line."""
        with self._lock:
            if self.tty and self._drawn:
                self._redraw()
                self._write("\n")
                self._drawn = False

    # --- writing (under the lock) ---------------------------------------------------------

    def _counts_text(self) -> str:
        text = f"{self._done}/{self._total} tests done"
        shown = [f"{n} {name}" for name, n in self._counts.items() if n]
        return f"{text} ({', '.join(shown)})" if shown else text

    def _plain(self, text: str) -> None:
        self._write(f"{PREFIX}{text}\n")

    def _permanent(self, message: str) -> None:
        if self.tty:
            self._write("\r\x1b[K" if self._drawn else "")
            self._write(f"{PREFIX}{message}\n")
            self._drawn = False
            self._redraw()
        else:
            self._write(f"{PREFIX}{message}\n")

    def _redraw(self) -> None:
        if not self.tty or not self._total:
            return
        line = PREFIX + self._counts_text()
        if self._news:
            line += f" | {self._news}"
        width = shutil.get_terminal_size((100, 24)).columns - 1
        if len(line) > width:
            line = line[:max(width - 3, 0)] + "..."
        self._write(f"\r{line}\x1b[K")
        self._drawn = True
        self._last_draw = self._clock()

    def _write(self, text: str) -> None:
        if not text:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken terminal must not fail the run
