"""Throttling, both ways: the run's own rate limit, and a gateway's 429 Too Many Requests.

One `Throttle` per run, shared by every thread and by both paths to the target (our client
and schemathesis's transport): ``acquire`` before each call keeps the run within
``target.rate_limit``; ``on_response`` (a requests response hook) waits out a 429 as its
``Retry-After`` says, else backing off from 1 s, and sends the same call again, at most
``MAX_RETRIES`` times. A 429 is never the API's failure: it is counted and reported, and only
a call still refused after the last try (`Throttled`) leaves its requirement unverified.
"""

from __future__ import annotations

import email.utils
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

from conformance.core import interrupt
from conformance.target.redaction import REDACTOR

MAX_RETRIES = 5
FIRST_BACKOFF_S = 1.0
# A Retry-After longer than this is waited only this long: the call is then tried again (and
# counts as one of its tries), so a gateway asking for an hour cannot hold a run for an hour.
LONGEST_WAIT_S = 60.0
# Clocks differ a little between us and the target: a window this much longer than a second.
WINDOW_MARGIN_S = 0.01
_POLL_S = 0.2  # how often a wait looks for Ctrl-C
# Where a schema built for the run names its throttle (``info``): schemathesis's hooks see the
# case and its schema, not the run's objects.
THROTTLE_KEY = "x-throttle"


class Throttled(Exception):
    """Still 429 Too Many Requests after the last try; ``response`` is the last answer."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(REDACTOR.text(message))
        self.response = response


def _sleep(seconds: float) -> None:
    """Sleep, looking for Ctrl-C/SIGTERM every _POLL_S."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        interrupt.raise_if_requested()
        time.sleep(min(left, _POLL_S))
    interrupt.raise_if_requested()


class Slot:
    """One call's place in the rate limiter, from before it is sent until its answer came."""

    __slots__ = ("ended", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.ended: float | None = None


class RateLimiter:
    """At most ``rate`` calls arrive at the target in any one-second window.

    A call counts from the moment it is let go until one second after its answer came (or,
    never released, until ``stale_after`` seconds after it was let go): the target received
    it somewhere in between, so however long a thread takes between being let go and sending
    (a busy CPU, a TLS handshake), no second can see more than ``rate`` calls arrive. A
    fractional rate above 1 keeps to its whole part; below 1, one call per ``1/rate`` seconds.
    """

    def __init__(self, rate: float, stale_after: float = 60.0) -> None:
        self.rate = rate
        self.capacity = max(1, int(rate))
        self.window = max(1.0, 1.0 / rate) + WINDOW_MARGIN_S
        self.stale_after = stale_after
        self._slots: deque[Slot] = deque()
        self._changed = threading.Condition()

    def _free_at(self, slot: Slot) -> float:
        if slot.ended is None:
            return slot.started + self.stale_after + self.window
        return slot.ended + self.window

    def acquire(self) -> Slot:
        """Wait until one more call fits (interruptible); ``release`` it once answered."""
        with self._changed:
            while True:
                now = time.monotonic()
                self._slots = deque(slot for slot in self._slots if self._free_at(slot) > now)
                if len(self._slots) < self.capacity:
                    slot = Slot(now)
                    self._slots.append(slot)
                    return slot
                # Until the first slot frees itself, a release, or a look for Ctrl-C
                first = min(self._free_at(slot) for slot in self._slots)
                self._changed.wait(min(max(first - now, 0.001), _POLL_S))
                interrupt.raise_if_requested()

    def release(self, slot: Slot) -> None:
        """The call's answer (or its failure) has come."""
        with self._changed:
            if slot.ended is None:
                slot.ended = time.monotonic()
                self._changed.notify_all()


def retry_after(response: requests.Response) -> float | None:
    """Seconds the answer's Retry-After asks for (delay-seconds or an HTTP-date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), LONGEST_WAIT_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max(0.0, when.timestamp() - time.time()), LONGEST_WAIT_S)


@dataclass(frozen=True)
class ThrottleCounts:
    """How often the run was throttled: 429 answers waited out, calls that got one or more,
    and calls still refused after the last try."""

    answers_429: int = 0
    calls_throttled: int = 0
    calls_given_up: int = 0

    def __add__(self, other: ThrottleCounts) -> ThrottleCounts:
        return ThrottleCounts(self.answers_429 + other.answers_429,
                              self.calls_throttled + other.calls_throttled,
                              self.calls_given_up + other.calls_given_up)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThrottleCounts:
        """The counts of results.json's ``throttling`` (which also names the rate limit)."""
        return cls(data["answers_429"], data["calls_throttled"], data["calls_given_up"])

    def to_json(self) -> dict[str, int]:
        return {"answers_429": self.answers_429, "calls_throttled": self.calls_throttled,
                "calls_given_up": self.calls_given_up}

    def line(self) -> str:
        """One line for the terminal and the report's notes."""
        calls = f"{self.calls_throttled} call{'s' if self.calls_throttled != 1 else ''}"
        text = (f"throttled: {self.answers_429} answers 429 Too Many Requests to {calls}, "
                f"waited out and sent again")
        if self.calls_given_up:
            text += (f"; {self.calls_given_up} still refused after {MAX_RETRIES} tries "
                     f"(their requirements unverified)")
        return text


_ids = itertools.count(1)
_REGISTRY: weakref.WeakValueDictionary[str, Throttle] = weakref.WeakValueDictionary()


class Throttle:
    """The run's rate limit (None: none) and its 429 handling, with the counts."""

    def __init__(self, rate_limit: float | None = None, stale_after: float = 60.0) -> None:
        """``stale_after``: seconds after which a call never released (it failed where no
        hook saw it) stops counting: the longest a call can take (its timeouts)."""
        self.rate_limit = rate_limit
        self.limiter = RateLimiter(rate_limit, stale_after) if rate_limit else None
        self._lock = threading.Lock()
        self._counts = ThrottleCounts()
        # Code that finds the run's throttle by name (schemathesis's hooks see the schema,
        # not our objects): ``Throttle.named(throttle.name)``.
        self.name = f"throttle-{next(_ids)}"
        _REGISTRY[self.name] = self
        self._local = threading.local()

    @staticmethod
    def named(name: object) -> Throttle | None:
        return _REGISTRY.get(name) if isinstance(name, str) else None

    @property
    def counts(self) -> ThrottleCounts:
        with self._lock:
            return self._counts

    def add(self, counts: ThrottleCounts) -> None:
        """Fold in what another process's throttle counted (the CON-08 child)."""
        with self._lock:
            self._counts = self._counts + counts

    def acquire(self) -> Slot | None:
        """Wait until the rate limit lets one more call go (at once without a limit); the
        call's answer ``release``s it (``hook`` does)."""
        return self.limiter.acquire() if self.limiter is not None else None

    def release(self, slot: Slot | None) -> None:
        if slot is not None and self.limiter is not None:
            self.limiter.release(slot)

    def begin(self) -> None:
        """``acquire`` for a call this thread is about to send, where no one can hand the
        slot to its answer (schemathesis's transport): the thread's ``end`` releases it, or
        else its next ``begin`` (this thread's previous call is surely over by then)."""
        self.release(getattr(self._local, "slot", None))
        self._local.slot = self.acquire()

    def end(self) -> None:
        """The answer to this thread's call from ``begin`` has come."""
        slot, self._local.slot = getattr(self._local, "slot", None), None
        self.release(slot)

    def hook(self, slot: Slot | None = None) -> Callable[..., requests.Response]:
        """The requests response hook of one call: releases its ``slot`` (None: the slot this
        thread's ``begin`` took), then ``on_response``."""
        def on_answer(response: requests.Response, *args: Any, **kwargs: Any
                      ) -> requests.Response:
            if slot is None:
                self.end()
            else:
                self.release(slot)
            return self.on_response(response, **kwargs)

        on_answer.throttle = self  # type: ignore[attr-defined]  # whose hook it is
        return on_answer

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any
                    ) -> requests.Response:
        """requests response hook: a 429 waited out and the same call sent again.

        ``kwargs`` are the send settings (timeout, verify, cert, proxies, stream) requests
        hands its hooks; the call goes again through the same adapter with them, as a call of
        its own for the rate limit.
        """
        tries = 0
        while response.status_code == 429:
            self.add(ThrottleCounts(answers_429=1, calls_throttled=int(tries == 0)))
            if tries == MAX_RETRIES:
                self.add(ThrottleCounts(calls_given_up=1))
                request = response.request
                where = f"{request.method} {request.url}" if request is not None else "a call"
                raise Throttled(f"{where}: still 429 Too Many Requests after {tries + 1} "
                                f"tries", response)
            wait = retry_after(response)
            _sleep(FIRST_BACKOFF_S * 2 ** tries if wait is None else wait)
            response.close()
            prepared = response.request.copy()
            slot = self.acquire()
            started = time.perf_counter()
            try:
                again = response.connection.send(prepared, **kwargs)
            finally:
                self.release(slot)
            again.elapsed = timedelta(seconds=time.perf_counter() - started)
            response, tries = again, tries + 1
        return response
