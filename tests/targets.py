"""Small real servers on loopback for the tests: a scriptable stub and a rewriting proxy."""

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


@contextmanager
def rewriting_proxy(upstream: str, rewrite: Callable[[str, bytes], bytes], *,
                    status: Callable[[int], int] = lambda code: code,
                    content_type: Callable[[str], str] = lambda value: value,
                    gateway: Callable[[str, bytes], bytes | None] | None = None
                    ) -> Iterator[str]:
    """A proxy to ``upstream`` whose answers pass through ``rewrite(path, body)``, ``status``
    and ``content_type``: a deliberately wrong server built on a right one. ``gateway(path,
    upstream body)`` returning a body answers it with 422 instead (a validating gateway)."""

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            upstream_response = requests.request(self.command, upstream + self.path, data=body,
                                                 headers=headers, allow_redirects=False,
                                                 timeout=30)
            content = rewrite(self.path, upstream_response.content)
            refusal = gateway(self.path, upstream_response.content) if gateway else None
            if refusal is not None:
                self.send_response(422)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(refusal)))
                self.end_headers()
                self.wfile.write(refusal)
                return
            self.send_response(status(upstream_response.status_code))
            for name, value in upstream_response.headers.items():
                if name.lower() == "content-type":
                    value = content_type(value)
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def __getattr__(self, name: str):
            # Every method, even made-up ones the fuzzer tries: http.server would answer 501
            # itself, which would be the proxy's fault, not the target's.
            if name.startswith("do_"):
                return self._forward
            raise AttributeError(name)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


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

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            arrival = Arrival(time.monotonic(), self.command, self.path, dict(self.headers))
            with lock:
                arrivals.append(arrival)
                number = len(arrivals)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            reply = answer(number, arrival)
            if reply is None:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_HEADERS | {"proxy-connection"}}
                url = self.path if upstream is None else upstream + self.path
                with requests.Session() as session:
                    session.trust_env = False  # no proxy of the environment's in between
                    forwarded = session.request(self.command, url, data=body, headers=headers,
                                                allow_redirects=False, timeout=30)
                reply = (forwarded.status_code,
                         {k: v for k, v in forwarded.headers.items()
                          if k.lower() not in HOP_HEADERS}, forwarded.content)
            status, headers, content = reply
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def __getattr__(self, name: str):
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", arrivals
    finally:
        server.shutdown()
        server.server_close()


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any one-second window (closed at both ends)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most
