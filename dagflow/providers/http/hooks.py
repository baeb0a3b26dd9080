"""``HttpHook``: HTTP requests to the service an ``http`` Connection names, with ``requests``.

The base URL is the connection's host (with its own ``http(s)://``, or the schema as protocol,
``http`` by default) and port. A login gives basic auth (or ``auth_type``); the connection's extras
are sent as headers, except the ``requests`` options (``verify``, ``proxies``, ``timeout``...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests

from dagflow.exceptions import DagflowError
from dagflow.hooks.base import BaseHook

if TYPE_CHECKING:
    from dagflow.models.connection import Connection

#: Extras that are ``requests`` options rather than headers.
REQUEST_OPTIONS = (
    "stream",
    "verify",
    "proxies",
    "cert",
    "max_redirects",
    "trust_env",
    "allow_redirects",
    "timeout",
)


class HttpError(DagflowError):
    """The service answered with an error status: ``"<status>:<reason>"``, as Airflow's message."""

    def __init__(self, status: int, reason: str, url: str):
        super().__init__(f"{status}:{reason}")
        self.status, self.reason, self.url = status, reason, url


class HttpHook(BaseHook):
    conn_name_attr = "http_conn_id"
    default_conn_name = "http_default"
    conn_type = "http"
    hook_name = "HTTP"

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str = default_conn_name,
        auth_type: Callable[..., Any] | None = None,
        tcp_keep_alive: bool = True,
        *,
        connection: Connection | None = None,
        **kwargs: Any,
    ):
        super().__init__()
        self.method = method.upper()
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.base_url = ""
        self._connection = connection
        self._options: dict[str, Any] = {}

    def _conn(self) -> Connection | None:
        if self._connection is None and self.http_conn_id:
            self._connection = self.get_connection(self.http_conn_id)
        return self._connection

    def get_conn(self, headers: dict[str, Any] | None = None) -> requests.Session:
        """A session with the connection's base URL, auth and extra headers, then ``headers``."""
        session = requests.Session()
        conn = self._conn()
        if conn is not None:
            self.base_url = _base_url(conn)
            if conn.login:
                auth_type = self.auth_type or requests.auth.HTTPBasicAuth
                session.auth = auth_type(conn.login, conn.password or "")
            extra = conn.extra_dejson
            self._options = {k: extra[k] for k in REQUEST_OPTIONS if k in extra}
            session.headers.update({k: str(v) for k, v in extra.items() if k not in REQUEST_OPTIONS})
        if headers:
            session.headers.update(headers)
        return session

    def url_from_endpoint(self, endpoint: str | None) -> str:
        if self.base_url and not self.base_url.endswith("/") and endpoint and not endpoint.startswith("/"):
            return f"{self.base_url}/{endpoint}"
        return (self.base_url or "") + (endpoint or "")

    def run(
        self,
        endpoint: str | None = None,
        data: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """Send the request: ``data`` is the query for GET and HEAD, the body otherwise. An error status
        raises :class:`HttpError` unless ``extra_options={"check_response": False}``."""
        options = dict(extra_options or {})
        session = self.get_conn(headers)
        url = self.url_from_endpoint(endpoint)
        check = options.pop("check_response", True)
        options = {**self._options, **options}
        if self.method in ("GET", "HEAD"):
            request = requests.Request(self.method, url, params=data, **request_kwargs)
        else:
            request = requests.Request(self.method, url, data=data, **request_kwargs)
        prepared = session.prepare_request(request)
        self.log.info("Sending %r to url: %s", self.method, url)
        with session:
            response = session.send(prepared, **_send_options(session, prepared.url or url, options))
        if check:
            self.check_response(response)
        return response

    @staticmethod
    def check_response(response: requests.Response) -> None:
        if response.status_code >= 400:
            raise HttpError(response.status_code, response.reason, response.url)

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.run()
        except Exception as exc:  # the answer to a test is the error, in one line
            return False, f"{type(exc).__name__}: {exc}".splitlines()[0]
        return True, "Connection successfully tested"


def _base_url(conn: Connection) -> str:
    host = conn.host or ""
    base = host if "://" in host or not host else f"{conn.schema or 'http'}://{host}"
    if conn.port:
        base += f":{conn.port}"
    return base


def _send_options(session: requests.Session, url: str, options: dict[str, Any]) -> dict[str, Any]:
    settings = session.merge_environment_settings(
        url,
        options.get("proxies", {}),
        options.get("stream", False),
        options.get("verify"),
        options.get("cert"),
    )
    return {
        **settings,
        "timeout": options.get("timeout"),
        "allow_redirects": options.get("allow_redirects", True),
    }
