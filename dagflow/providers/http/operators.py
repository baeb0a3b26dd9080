"""``HttpOperator`` and ``HttpSensor``: call an HTTP endpoint of a Connection's service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.exceptions import DagflowError
from dagflow.models.baseoperator import BaseOperator
from dagflow.operators.python import callable_kwargs
from dagflow.providers.http.hooks import HttpError, HttpHook
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    import requests

    from dagflow.context import Context


def _call(function: Callable[..., Any], response: requests.Response, context: Context) -> Any:
    """``function(response, **the context names it declares)``, as Airflow calls its response callables."""
    return function(response, **callable_kwargs(function, [response], context))


class HttpOperator(BaseOperator):
    """Send one request; fail if ``response_check(response)`` is false; push ``response_filter(response)``
    (the response's text by default)."""

    template_fields: ClassVar[Sequence[str]] = ("endpoint", "data", "headers")
    template_fields_renderers = {"headers": "json", "data": "py"}
    template_ext: ClassVar[Sequence[str]] = ()
    ui_color = "#f4a460"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        method: str = "POST",
        data: dict[str, Any] | str | None = None,
        headers: dict[str, str] | None = None,
        response_check: Callable[..., bool] | None = None,
        response_filter: Callable[..., Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        http_conn_id: str = "http_default",
        log_response: bool = False,
        auth_type: Any = None,
        tcp_keep_alive: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.endpoint, self.method, self.data = endpoint, method, data
        self.headers = headers or {}
        self.response_check, self.response_filter = response_check, response_filter
        self.extra_options = extra_options or {}
        self.http_conn_id, self.log_response, self.auth_type = http_conn_id, log_response, auth_type

    @property
    def hook(self) -> HttpHook:
        return HttpHook(self.method, http_conn_id=self.http_conn_id, auth_type=self.auth_type)

    def execute(self, context: Context) -> Any:
        self.log.info("Calling HTTP method")
        response = self.hook.run(self.endpoint, self.data, self.headers, self.extra_options)
        if self.log_response:
            self.log.info(response.text)
        if self.response_check is not None and not _call(self.response_check, response, context):
            raise DagflowError(f"task {self.task_id!r}: response check returned False")
        if self.response_filter is not None:
            return _call(self.response_filter, response, context)
        return response.text


class HttpSensor(BaseSensorOperator):
    """Poke an endpoint until it answers (and ``response_check`` is true); an error status in
    ``response_error_codes_allowlist`` (404 by default) means "not yet", any other fails the poke."""

    template_fields: ClassVar[Sequence[str]] = ("endpoint", "request_params", "headers")

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = "http_default",
        method: str = "GET",
        request_params: dict[str, Any] | None = None,
        request_kwargs: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        response_error_codes_allowlist: list[str] | None = None,
        response_check: Callable[..., bool | Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        tcp_keep_alive: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.endpoint, self.http_conn_id, self.method = endpoint, http_conn_id, method
        self.request_params = request_params or {}
        self.request_kwargs = request_kwargs or {}
        self.headers = headers or {}
        self.allowlist = tuple(response_error_codes_allowlist or ["404"])
        self.response_check = response_check
        self.extra_options = extra_options or {}

    def poke(self, context: Context) -> Any:
        hook = HttpHook(self.method, http_conn_id=self.http_conn_id)
        self.log.info("Poking: %s", self.endpoint)
        try:
            response = hook.run(
                self.endpoint, self.request_params, self.headers, self.extra_options, **self.request_kwargs
            )
        except HttpError as exc:
            if str(exc).startswith(self.allowlist):
                return False
            raise
        if self.response_check is not None:
            return _call(self.response_check, response, context)
        return True
