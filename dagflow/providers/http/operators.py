"""``HttpOperator`` and ``HttpSensor``: call an HTTP endpoint of a Connection's service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import tenacity

from dagflow.exceptions import DagDefinitionError, DagflowError
from dagflow.models.baseoperator import BaseOperator
from dagflow.operators.python import callable_kwargs
from dagflow.providers.http.hooks import HttpError, HttpHook, check_request_kwargs, retrying
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    import requests

    from dagflow.context import Context


#: What a pagination function's answer may change in the next request; Airflow ignores other keys.
PAGE_PARAMETERS = ("endpoint", "data", "headers", "extra_options")

#: How often Airflow's deferred request (its triggerer's hook) tries a request answered with a 5xx.
DEFERRED_ATTEMPTS = 3


def _server_error(exc: BaseException) -> bool:
    return isinstance(exc, HttpError) and exc.status >= 500


def _where(task: BaseOperator) -> str:
    dag = f" in DAG {task.dag.dag_id!r}" if task.dag is not None else ""
    return f"{type(task).__name__}(task_id={task.task_id!r}){dag}"


def _checked_request_kwargs(task: BaseOperator, request_kwargs: Any, method: str) -> dict[str, Any]:
    """``request_kwargs`` as a dict, refused when the DAG file loads if the request would refuse it."""
    if request_kwargs is not None and not isinstance(request_kwargs, Mapping):
        raise DagDefinitionError(
            f"{_where(task)}: request_kwargs must be a dict of requests.Request arguments, "
            f"got {type(request_kwargs).__name__}"
        )
    try:
        check_request_kwargs(request_kwargs or {}, method, _where(task))
    except DagflowError as exc:
        raise DagDefinitionError(str(exc)) from None
    return dict(request_kwargs or {})


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

    ``request_kwargs`` go to every request's ``requests.Request`` (``json=``, ``files=``...);
    ``retry_args`` are ``tenacity.Retrying`` arguments every request is sent under (see
    :meth:`HttpHook.run_with_advanced_retry`). ``deferrable=True`` sends the requests from the worker,
    as there is no triggerer, with the same result; like Airflow's deferred request, an answer with a
    5xx status is then tried up to three times in all (unless ``retry_args`` say otherwise).
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
        request_kwargs: dict[str, Any] | None = None,
        http_conn_id: str = "http_default",
        log_response: bool = False,
        auth_type: Any = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        deferrable: bool = False,
        retry_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.endpoint, self.method, self.data = endpoint, method, data
        self.headers = headers or {}
        self.pagination_function = pagination_function
        self.response_check, self.response_filter = response_check, response_filter
        self.extra_options = extra_options or {}
        self.request_kwargs = _checked_request_kwargs(self, request_kwargs, method)
        self.http_conn_id, self.log_response, self.auth_type = http_conn_id, log_response, auth_type
        self.tcp_keep_alive = tcp_keep_alive
        self.tcp_keep_alive_idle, self.tcp_keep_alive_count = tcp_keep_alive_idle, tcp_keep_alive_count
        self.tcp_keep_alive_interval = tcp_keep_alive_interval
        self.deferrable, self.retry_args = deferrable, retry_args
        if retry_args:
            try:
                retrying(retry_args, self.log, _where(self))
            except DagflowError as exc:
                raise DagDefinitionError(str(exc)) from None

    @property
    def hook(self) -> HttpHook:
        return HttpHook(
            self.method,
            http_conn_id=self.http_conn_id,
            auth_type=self.auth_type,
            tcp_keep_alive=self.tcp_keep_alive,
            tcp_keep_alive_idle=self.tcp_keep_alive_idle,
            tcp_keep_alive_count=self.tcp_keep_alive_count,
            tcp_keep_alive_interval=self.tcp_keep_alive_interval,
        )

    def execute(self, context: Context) -> Any:
        self.log.info("Calling HTTP method")
        hook = self.hook
        response = self._send(
            hook,
            endpoint=self.endpoint,
            data=self.data,
            headers=self.headers,
            extra_options=self.extra_options,
        )
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
            response = self._send(hook, **next_page_request(declared, page))
            responses.append(response)
        return responses

    def _send(self, hook: HttpHook, **request: Any) -> requests.Response:
        """One request with ``request_kwargs``: under ``retry_args`` when given, else as the deferred
        request when ``deferrable``, else tried once."""
        if self.retry_args:
            return cast(
                "requests.Response",
                hook.run_with_advanced_retry(self.retry_args, **request, **self.request_kwargs),
            )
        if self.deferrable:
            deferred = {
                "stop": tenacity.stop_after_attempt(DEFERRED_ATTEMPTS),
                "retry": tenacity.retry_if_exception(_server_error),
                "reraise": True,
            }
            return retrying(deferred, self.log, _where(self))(hook.run, **request, **self.request_kwargs)
        return hook.run(**request, **self.request_kwargs)

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
    ``response_error_codes_allowlist`` (``["404"]`` when None; ``[]`` lets a 404 fail too) means
    "not yet", any other fails the poke. ``deferrable`` is accepted for Airflow files: the sensor waits
    as its ``mode`` says, as dagflow's other sensors do."""

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
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        deferrable: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.endpoint, self.http_conn_id, self.method = endpoint, http_conn_id, method
        self.request_params = request_params or {}
        self.request_kwargs = _checked_request_kwargs(self, request_kwargs, method)
        self.headers = headers or {}
        allowlist = ["404"] if response_error_codes_allowlist is None else response_error_codes_allowlist
        self.response_error_codes_allowlist = tuple(str(code) for code in allowlist)
        self.response_check = response_check
        self.extra_options = extra_options or {}
        self.tcp_keep_alive = tcp_keep_alive
        self.tcp_keep_alive_idle, self.tcp_keep_alive_count = tcp_keep_alive_idle, tcp_keep_alive_count
        self.tcp_keep_alive_interval = tcp_keep_alive_interval
        self.deferrable = deferrable  # Airflow's trigger-based wait: here the sensor's mode says how

    def poke(self, context: Context) -> Any:
        hook = HttpHook(
            self.method,
            http_conn_id=self.http_conn_id,
            tcp_keep_alive=self.tcp_keep_alive,
            tcp_keep_alive_idle=self.tcp_keep_alive_idle,
            tcp_keep_alive_count=self.tcp_keep_alive_count,
            tcp_keep_alive_interval=self.tcp_keep_alive_interval,
        )
        self.log.info("Poking: %s", self.endpoint)
        try:
            response = hook.run(
                self.endpoint, self.request_params, self.headers, self.extra_options, **self.request_kwargs
            )
        except HttpError as exc:
            if str(exc).startswith(self.response_error_codes_allowlist):
                self.log.info("%s answered %s: not yet", self.endpoint, exc)
                return False
            raise
        if self.response_check is not None:
            return _call(self.response_check, response, context)
        return True
