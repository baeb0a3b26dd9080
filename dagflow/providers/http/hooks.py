"""``HttpHook``: HTTP requests to the service an ``http`` Connection names, with ``requests``.

The base URL is the connection's host (with its own ``http(s)://``, or the schema as protocol,
``http`` by default) and port. A login gives basic auth (or ``auth_type``); the connection's extras
are sent as headers, except the request options (``verify``, ``proxies``, ``timeout``... see
:data:`REQUEST_OPTIONS`), which a task's ``extra_options`` override key by key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import requests
import tenacity
from requests.adapters import HTTPAdapter
from requests.models import DEFAULT_REDIRECT_LIMIT
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from dagflow.exceptions import DagflowError
from dagflow.hooks.base import BaseHook

if TYPE_CHECKING:
    from dagflow.models.connection import Connection

#: Extras (and ``extra_options`` keys) that are request options rather than headers, as Airflow's;
#: ``proxy`` and ``verify_ssl`` are other names for ``proxies`` and ``verify``.
REQUEST_OPTIONS = (
    "stream",
    "verify",
    "verify_ssl",
    "proxies",
    "proxy",
    "cert",
    "max_redirects",
    "trust_env",
    "allow_redirects",
    "timeout",
    "check_response",
)

#: What ``request_kwargs`` may hold: the arguments of ``requests.Request`` the hook does not set itself.
REQUEST_ARGUMENTS = ("params", "data", "json", "files", "cookies", "auth", "hooks")


class HttpError(DagflowError):
    """The service answered with an error status: ``"<status>:<reason>"``, as Airflow's message."""

    def __init__(self, status: int, reason: str, url: str):
        super().__init__(f"{status}:{reason}")
        self.status, self.reason, self.url = status, reason, url


def payload_argument(method: str) -> str | None:
    """Where ``run``'s ``data`` goes: the query for GET, nowhere for HEAD, the body otherwise."""
    return {"GET": "params", "HEAD": None}.get(method.upper(), "data")


def check_request_kwargs(request_kwargs: Mapping[str, Any], method: str, where: str) -> None:
    """A one-line error for ``request_kwargs`` that ``requests.Request`` would refuse or that would
    clash with the request's own ``data`` (Airflow fails on these with a bare ``TypeError``)."""
    unknown = sorted(set(request_kwargs) - set(REQUEST_ARGUMENTS))
    if unknown:
        raise DagflowError(
            f"{where}: request_kwargs {unknown} are not arguments of requests.Request (it takes "
            f"{', '.join(REQUEST_ARGUMENTS)}); options such as timeout or allow_redirects go in extra_options"
        )
    own = payload_argument(method)
    if own in request_kwargs:
        raise DagflowError(
            f"{where}: request_kwargs {own!r} clashes with the {method.upper()} request's data "
            f"(sent as {own}); pass it as data"
        )


def retrying(retry_args: Any, log: logging.Logger, where: str) -> tenacity.Retrying:
    """``tenacity.Retrying(**retry_args)``, logging each retry unless ``before_sleep`` is given.

    As Airflow's, what is retried is what tenacity's arguments say: without ``retry`` any error (an
    error status included), without ``stop`` forever.
    """
    if not isinstance(retry_args, Mapping):
        raise DagflowError(
            f"{where}: retry_args must be a dict of tenacity.Retrying arguments (stop, wait, retry...), "
            f"got {type(retry_args).__name__}"
        )
    arguments = {"before_sleep": tenacity.before_sleep_log(log, logging.WARNING), **retry_args}
    try:
        return tenacity.Retrying(**arguments)
    except TypeError as exc:
        raise DagflowError(f"{where}: retry_args are not tenacity.Retrying arguments: {exc}") from None


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
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        adapter: HTTPAdapter | None = None,
        *,
        connection: Connection | None = None,
        **kwargs: Any,
    ):
        super().__init__()
        self.method = method.upper()
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.base_url = ""
        self.adapter = adapter
        self.keep_alive_adapter = (
            TCPKeepAliveAdapter(
                idle=tcp_keep_alive_idle, count=tcp_keep_alive_count, interval=tcp_keep_alive_interval
            )
            if tcp_keep_alive and adapter is None
            else None
        )
        self._connection = connection
        #: the request options in force for the last session: the connection's, the task's over them
        self.merged_extra: dict[str, Any] = {}

    def _conn(self) -> Connection | None:
        if self._connection is None and self.http_conn_id:
            self._connection = self.get_connection(self.http_conn_id)
        return self._connection

    def get_conn(
        self, headers: dict[str, Any] | None = None, extra_options: Mapping[str, Any] | None = None
    ) -> requests.Session:
        """A session with the connection's base URL, auth and extra headers, then ``headers``; its
        proxies, verify, cert, stream, max_redirects and trust_env from the connection's extras with
        ``extra_options`` over them."""
        session = requests.Session()
        conn = self._conn()
        extra: dict[str, Any] = {}
        if conn is not None:
            self.base_url = _base_url(conn)
            session.auth = self._auth(conn)
            extra = conn.extra_dejson
            session.headers.update({k: str(v) for k, v in extra.items() if k not in REQUEST_OPTIONS})
        self.merged_extra = {**{k: extra[k] for k in REQUEST_OPTIONS if k in extra}, **(extra_options or {})}
        _configure(session, self.merged_extra)
        adapter = self.adapter or self.keep_alive_adapter
        if adapter is not None:
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        if headers:
            session.headers.update(headers)
        return session

    def _auth(self, conn: Connection) -> Any:
        if conn.login:
            return (self.auth_type or requests.auth.HTTPBasicAuth)(conn.login, conn.password or "")
        return self.auth_type() if self.auth_type else None

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
        """Send the request: ``data`` is the query for GET, the body for other methods but HEAD;
        ``request_kwargs`` go to ``requests.Request`` (``json=``, ``files=``, ``cookies=``...). An
        error status raises :class:`HttpError` unless ``extra_options={"check_response": False}``."""
        check_request_kwargs(request_kwargs, self.method, f"HttpHook({self.http_conn_id!r}).run")
        session = self.get_conn(headers, extra_options)
        url = self.url_from_endpoint(endpoint)
        own = payload_argument(self.method)
        payload = {own: data} if own else {}
        prepared = session.prepare_request(requests.Request(self.method, url, **payload, **request_kwargs))
        self.log.info("Sending %r to url: %s", self.method, url)
        with session:
            return self.run_and_check(session, prepared, self.merged_extra)

    def run_and_check(
        self,
        session: requests.Session,
        prepped_request: requests.PreparedRequest,
        extra_options: Mapping[str, Any],
    ) -> requests.Response:
        """Send a prepared request with ``extra_options``'s ``timeout`` and ``allow_redirects`` (and the
        session's proxies, verify, cert, stream); check the status unless ``check_response`` is false."""
        ignored = sorted(set(extra_options) - set(REQUEST_OPTIONS))
        if ignored:
            self.log.warning(
                "extra_options %s are not request options (%s): ignored", ignored, REQUEST_OPTIONS
            )
        settings = session.merge_environment_settings(
            prepped_request.url, session.proxies, session.stream, session.verify, session.cert
        )
        try:
            response = session.send(
                prepped_request,
                **settings,
                timeout=extra_options.get("timeout"),
                allow_redirects=extra_options.get("allow_redirects", True),
            )
        except requests.ConnectionError as exc:
            self.log.warning("%s (a request run with retry_args is tried again as they say)", exc)
            raise
        if extra_options.get("check_response", True):
            self.check_response(response)
        return response

    def run_with_advanced_retry(self, _retry_args: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """``run(*args, **kwargs)`` under ``tenacity.Retrying(**_retry_args)``, for services with
        passing failures. After the last attempt tenacity raises ``RetryError`` (or, with
        ``reraise=True``, the last error)."""
        self._retry_obj = retrying(_retry_args, self.log, f"HttpHook({self.http_conn_id!r})")
        return self._retry_obj(self.run, *args, **kwargs)

    def check_response(self, response: requests.Response) -> None:
        if response.status_code >= 400:
            self.log.error("HTTP error: %s", response.reason)
            self.log.error(response.text)
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


def _configure(session: requests.Session, options: Mapping[str, Any]) -> None:
    """The session-wide request options, with Airflow's other names as fallbacks."""
    session.proxies = options.get("proxies", options.get("proxy")) or {}
    session.stream = options.get("stream", False)
    session.verify = options.get("verify", options.get("verify_ssl", True))
    session.cert = options.get("cert")
    session.max_redirects = options.get("max_redirects", DEFAULT_REDIRECT_LIMIT)
    session.trust_env = options.get("trust_env", True)
