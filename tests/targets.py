"""Small real servers on loopback for the run's tests: a rewriting proxy in front of a target."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "host"}


@contextmanager
def rewriting_proxy(upstream: str, rewrite: Callable[[str, bytes], bytes], *,
                    status: Callable[[int], int] = lambda code: code,
                    content_type: Callable[[str], str] = lambda value: value) -> Iterator[str]:
    """A proxy to ``upstream`` whose answers pass through ``rewrite(path, body)``, ``status``
    and ``content_type``: a deliberately wrong server built on a right one."""

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            upstream_response = requests.request(self.command, upstream + self.path, data=body,
                                                 headers=headers, allow_redirects=False,
                                                 timeout=30)
            content = rewrite(self.path, upstream_response.content)
            self.send_response(status(upstream_response.status_code))
            for name, value in upstream_response.headers.items():
                if name.lower() == "content-type":
                    value = content_type(value)
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

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
