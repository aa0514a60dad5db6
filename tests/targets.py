"""Small real servers on loopback for the tests: a scriptable stub, and on it a rewriting
proxy and a recording gateway."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "host"}


class Seen(NamedTuple):
    """One request a stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Stub:
    """A loopback HTTP/1.0 server; ``reply`` answers, or writes to the handler itself (None)."""

    reply: Callable[[Seen, BaseHTTPRequestHandler], Reply | None]
    host: str = "127.0.0.1"
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
                stub.seen.append(seen)
                answer = stub.reply(seen, self)
                if answer is None:
                    return
                status, headers, body = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def __getattr__(self, name: str):
                # Every method, even made-up ones the fuzzer tries: http.server would answer
                # 501 itself, which would be the stub's doing, not the reply's.
                if name.startswith("do_"):
                    return self.handle_one
                raise AttributeError(name)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # the client hung up on purpose (timeouts, size cap)

        self.server = Server((self.host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_reply(status: int, data: object) -> Reply:
    payload = data if isinstance(data, bytes) else json.dumps(data).encode()
    return status, {"Content-Type": "application/json"}, payload


def _forward(url: str, seen: Seen) -> requests.Response:
    """``seen`` sent on to ``url`` as it came, bar the hop-by-hop headers; no proxy of the
    environment's in between."""
    headers = {k: v for k, v in seen.headers.items()
               if k.lower() not in HOP_HEADERS | {"proxy-connection"}}
    with requests.Session() as session:
        session.trust_env = False
        return session.request(seen.method, url, data=seen.body or None, headers=headers,
                               allow_redirects=False, timeout=30)


@contextmanager
def _serving(reply: Callable[[Seen, BaseHTTPRequestHandler], Reply | None]) -> Iterator[str]:
    """A Stub answering with ``reply``, for the length of the ``with``; yields its URL."""
    stub = Stub(reply)
    try:
        yield stub.url
    finally:
        stub.close()


@contextmanager
def rewriting_proxy(upstream: str, rewrite: Callable[[str, bytes], bytes], *,
                    status: Callable[[int], int] = lambda code: code,
                    content_type: Callable[[str], str] = lambda value: value,
                    gateway: Callable[[str, bytes], bytes | None] | None = None
                    ) -> Iterator[str]:
    """A proxy to ``upstream`` whose answers pass through ``rewrite(path, body)``, ``status``
    and ``content_type``: a deliberately wrong server built on a right one. ``gateway(path,
    upstream body)`` returning a body answers it with 422 instead (a validating gateway)."""

    def reply(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        upstream_response = _forward(upstream + seen.path, seen)
        refusal = gateway(seen.path, upstream_response.content) if gateway else None
        if refusal is not None:
            return 422, {"content-type": "application/json"}, refusal
        headers = {name: content_type(value) if name.lower() == "content-type" else value
                   for name, value in upstream_response.headers.items()
                   if name.lower() not in HOP_HEADERS}
        return (status(upstream_response.status_code), headers,
                rewrite(seen.path, upstream_response.content))

    with _serving(reply) as url:
        yield url



class Arrival(NamedTuple):
    """One request a gateway received: when (time.monotonic()), and what."""

    at: float
    method: str
    target: str  # the path, or the absolute URL a forward proxy is asked for
    headers: dict[str, str]


@contextmanager
def gateway(upstream: str | None,
            answer: Callable[[int, Arrival], Reply | None] = lambda number, arrival: None
            ) -> Iterator[tuple[str, list[Arrival]]]:
    """A loopback gateway recording every request it receives (``arrivals``), answering those
    ``answer(number, arrival)`` answers itself (number counts from 1) and forwarding the rest:
    to ``upstream`` + path, or, with ``upstream`` None, as a forward proxy to the absolute URL
    it is asked for. Yields its URL and the arrivals list."""
    arrivals: list[Arrival] = []
    lock = threading.Lock()

    def reply(seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        arrival = Arrival(time.monotonic(), seen.method, seen.path, seen.headers)
        with lock:
            arrivals.append(arrival)
            number = len(arrivals)
        answered = answer(number, arrival)
        if answered is not None:
            return answered
        forwarded = _forward(seen.path if upstream is None else upstream + seen.path, seen)
        return (forwarded.status_code,
                {k: v for k, v in forwarded.headers.items() if k.lower() not in HOP_HEADERS},
                forwarded.content)

    with _serving(reply) as url:
        yield url, arrivals


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any one-second window (closed at both ends)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most
