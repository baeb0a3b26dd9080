"""``HttpOperator`` and ``HttpSensor``: call an HTTP endpoint of a Connection's service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.exceptions import DagflowError
from dagflow.models.baseoperator import BaseOperator
from dagflow.operators.python import callable_kwargs
from dagflow.providers.http.hooks import HttpError, HttpHook
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    import requests

    from dagflow.context import Context


#: What a pagination function's answer may change in the next request; Airflow ignores other keys.
PAGE_PARAMETERS = ("endpoint", "data", "headers", "extra_options")


def _call(function: Callable[..., Any], response: Any, context: Context) -> Any:
    """``function(response, **the context names it declares)``, as Airflow calls its response callables
    (``response`` is the list of responses when the operator pages)."""
    return function(response, **callable_kwargs(function, [response], context))


def merge_dicts(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it; a key whose two values are dicts is merged the same way."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_dicts(merged[key], value)
        else:
            merged[key] = value
    return merged


def next_page_request(declared: Mapping[str, Any], page: Mapping[str, Any]) -> dict[str, Any]:
    """The request for the next page, as Airflow builds it: the task's own (rendered) ``endpoint``,
    ``data``, ``headers`` and ``extra_options`` with the pagination function's answer ``page`` over them.

    Each page starts again from what the task declared, not from the previous page's request. Dicts
    are merged (the page's items win), a page's ``endpoint`` or non-dict ``data`` replaces the task's,
    and a missing or empty one keeps it.
    """
    data, page_data = declared["data"], page.get("data")
    return {
        "endpoint": page.get("endpoint") or declared["endpoint"],
        "data": merge_dicts(data, page_data)
        if isinstance(data, Mapping) and isinstance(page_data, Mapping)
        else page_data or data,
        "headers": merge_dicts(declared["headers"], page.get("headers") or {}),
        "extra_options": merge_dicts(declared["extra_options"], page.get("extra_options") or {}),
    }


class HttpOperator(BaseOperator):
    """Send one request; fail if ``response_check(response)`` is false; push ``response_filter(response)``
    (the response's text by default).

    With ``pagination_function``, ``pagination_function(response)`` is called after each response: a
    dict of request parameters (see :func:`next_page_request`) sends one more request, anything falsy
    stops. ``response_check`` and ``response_filter`` then receive the list of all responses, and
    without a filter the task returns the list of their texts.
    """

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
        pagination_function: Callable[[requests.Response], Mapping[str, Any] | None] | None = None,
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
        self.pagination_function = pagination_function
        self.response_check, self.response_filter = response_check, response_filter
        self.extra_options = extra_options or {}
        self.http_conn_id, self.log_response, self.auth_type = http_conn_id, log_response, auth_type

    @property
    def hook(self) -> HttpHook:
        return HttpHook(self.method, http_conn_id=self.http_conn_id, auth_type=self.auth_type)

    def execute(self, context: Context) -> Any:
        self.log.info("Calling HTTP method")
        hook = self.hook
        response = hook.run(self.endpoint, self.data, self.headers, self.extra_options)
        if self.pagination_function is None:
            return self._process(response, response.text, context)
        responses = self._paginate(hook, response)
        return self._process(responses, [r.text for r in responses], context)

    def _paginate(self, hook: HttpHook, response: requests.Response) -> list[requests.Response]:
        """Every response, the first one included, until the pagination function answers falsy."""
        assert self.pagination_function is not None
        declared = {
            "endpoint": self.endpoint,
            "data": self.data,
            "headers": self.headers,
            "extra_options": self.extra_options,
        }
        responses = [response]
        while page := self.pagination_function(response):
            if not isinstance(page, Mapping):
                raise DagflowError(
                    f"task {self.task_id!r}: pagination_function returned {type(page).__name__} "
                    f"after page {len(responses)}; return a dict of request parameters, or None to stop"
                )
            ignored = sorted(set(page) - set(PAGE_PARAMETERS))
            if ignored:
                self.log.warning(
                    "pagination_function: ignoring %s (only %s are used)", ignored, PAGE_PARAMETERS
                )
            self.log.info("Requesting page %d", len(responses) + 1)
            response = hook.run(**next_page_request(declared, page))
            responses.append(response)
        return responses

    def _process(self, response: Any, text: Any, context: Context) -> Any:
        """Log, check and filter ``response`` (one response, or the list when paging)."""
        if self.log_response:
            self.log.info(text)
        if self.response_check is not None and not _call(self.response_check, response, context):
            of = f" for the list of {len(response)} paged responses" if isinstance(response, list) else ""
            raise DagflowError(f"task {self.task_id!r}: response check returned False{of}")
        if self.response_filter is not None:
            return _call(self.response_filter, response, context)
        return text


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
