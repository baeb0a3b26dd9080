"""The worker log server: a Celery worker's machine serves its attempts' logs to the web UI and the CLI.

``dagflow celery worker`` starts it on ``[logging] worker_log_server_port`` (8793 by default) and
records its address on each try it claims, so a reader on another machine finds the log while the
try runs and after. A request names the log by its path under the worker's log folder and carries a
token signed with the shared ``[webserver] secret_key`` for that very path, valid for a short time
(an HMAC, as Airflow's log server checks a signed JWT): an unsigned request, one signed with another
key, an expired one, one whose token names another path, or a path that leaves the log folder is
refused, and nothing but ``.log`` files under the folder is ever read.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from dagflow.exceptions import LogUnavailable

log = logging.getLogger("dagflow.logserver")
_SALT = "dagflow-worker-log"
#: How long a signed request stays valid (seconds): the reader signs each request just before it.
MAX_AGE = 30
#: The most one response carries; a reader asks again from where it stopped.
CHUNK = 1024 * 1024


def sign(secret_key: str, relative_path: str) -> str:
    """A token that lets its bearer read the log at ``relative_path`` for :data:`MAX_AGE` seconds."""
    return str(URLSafeTimedSerializer(secret_key, salt=_SALT).dumps(relative_path))


def verify(secret_key: str, token: str, relative_path: str, *, max_age: int = MAX_AGE) -> str | None:
    """Why a request for ``relative_path`` with ``token`` is refused; None if it is allowed."""
    if not token:
        return "unsigned request"
    try:
        signed = URLSafeTimedSerializer(secret_key, salt=_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        return "expired signature"
    except BadSignature:
        return "bad signature"
    if signed != relative_path:
        return "the signature is for another log"
    return None


def resolve(log_folder: Path, relative_path: str) -> Path | None:
    """The log file ``relative_path`` names under ``log_folder``; None if it would leave the folder
    (``..``, an absolute path, a symbolic link out) or is not a log file."""
    if not relative_path or relative_path.startswith("/") or "\\" in relative_path:
        return None
    base = log_folder.resolve()
    path = (base / relative_path).resolve()
    if not path.is_relative_to(base) or path.suffix != ".log":
        return None
    return path


class _Handler(BaseHTTPRequestHandler):
    server: _LogHTTPServer

    def do_GET(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        if not parsed.path.startswith("/log/"):
            self._refuse(404, "not found")
            return
        relative = urllib.parse.unquote(parsed.path[len("/log/") :])
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        refused = verify(self.server.secret_key, token, relative)
        if refused is not None:
            self._refuse(403, refused)
            return
        path = resolve(self.server.log_folder, relative)
        if path is None:
            self._refuse(403, "path outside the log folder")
            return
        query = urllib.parse.parse_qs(parsed.query)
        self._send_log(path, _number(query, "offset", 0), min(CHUNK, _number(query, "length", CHUNK)))

    def _send_log(self, path: Path, offset: int, length: int) -> None:
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except FileNotFoundError:
            self._refuse(404, "no such log")
            return
        except OSError as exc:
            self._refuse(500, str(exc))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, reason: str) -> None:
        body = reason.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def _number(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return max(0, int(query.get(name, [str(default)])[0]))
    except ValueError:
        return default


class _LogHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], log_folder: Path, secret_key: str):
        super().__init__(address, _Handler)
        self.log_folder = log_folder
        self.secret_key = secret_key


class LogServer:
    """The log server of one worker, serving ``log_folder`` in a thread of its own."""

    def __init__(self, log_folder: Path, secret_key: str, *, host: str = "0.0.0.0", port: int = 8793):
        if not secret_key:
            raise ValueError("[webserver] secret_key is empty: the log server cannot check requests")
        self.httpd = _LogHTTPServer((host, port), log_folder, secret_key)
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="dagflow-log-server", daemon=True
        )

    def start(self) -> LogServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # (shutdown waits for a serving loop that was never started)
            self.httpd.shutdown()
        self.httpd.server_close()


def fetch(
    log_url: str,
    relative_path: str,
    secret_key: str,
    *,
    offset: int = 0,
    length: int = CHUNK,
    timeout: float = 5.0,
) -> bytes:
    """The log at ``relative_path`` on the log server ``log_url``, ``length`` bytes (at most
    :data:`CHUNK`) from byte ``offset``; ``LogUnavailable`` with the reason if it cannot be read."""
    quoted = urllib.parse.quote(relative_path)
    request = urllib.request.Request(
        f"{log_url.rstrip('/')}/log/{quoted}?offset={offset}&length={length}",
        headers={"Authorization": f"Bearer {sign(secret_key, relative_path)}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise LogUnavailable(f"the log server {log_url} answered {exc.code}: {exc.read().decode()}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LogUnavailable(f"the log server {log_url} cannot be reached: {exc}") from None
