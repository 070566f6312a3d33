"""A loopback webhook receiver that records every JSON body it is sent, by path."""

from __future__ import annotations

import http.server
import json
import threading
import time

from servers import LOOPBACK


class Receiver:
    """Listens on 127.0.0.1:``port`` (a free one when 0); ``bodies`` holds (path, payload)."""

    def __init__(self, port: int = 0) -> None:
        self.bodies: list[tuple[str, object]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner.bodies.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def at(self, path: str) -> list:
        return [body for where, body in self.bodies if where == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 15.0) -> list:
        """Return the bodies sent to ``path`` once there are ``count`` (or after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.at(path)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.at(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
