"""A scripted HTTP/1.1 service on this machine for tests: it answers each ``/<name>`` with the statuses
its script lists, one per request, echoes the request as JSON and counts the requests it gets."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class ScriptedServer(ThreadingHTTPServer):
    """Answers ``/<name>`` with the statuses ``script[name]`` lists, one per request (the last one
    again after that; 200 for a name without a script), and a JSON echo of the request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[str] = Counter()
        self.script: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    def status_for(self, name: str) -> tuple[int, int]:
        with self.lock:
            self.hits[name] += 1
            hit = self.hits[name]
        statuses = self.script.get(name, [200])
        return hit, statuses[min(hit, len(statuses)) - 1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the connection (and its socket options) outlives the answer
    server: ScriptedServer

    def answer(self) -> None:
        url = urlsplit(self.path)
        name = url.path.strip("/")
        hit, status = self.server.status_for(name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if name == "slow":
            time.sleep(1)
        echo = {
            "method": self.command,
            "hit": hit,
            "query": dict(parse_qsl(url.query)),
            "body": body,
            "content_type": self.headers.get("Content-Type"),
            "cookie": self.headers.get("Cookie"),
        }
        payload = json.dumps(echo).encode()
        self.send_response(status)
        if name == "redirect":
            self.send_header("Location", "/echo")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(script: Mapping[str, Sequence[int]] | None = None) -> Iterator[ScriptedServer]:
    """A :class:`ScriptedServer` on a free port of 127.0.0.1 with ``script``, until the block ends."""
    server = ScriptedServer()
    server.script.update({name: list(statuses) for name, statuses in (script or {}).items()})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
