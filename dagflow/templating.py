"""Rendering operators' ``template_fields`` with Jinja2, as Airflow does.

Strings are rendered (a string ending in one of the operator's ``template_ext`` is a template
*file*, looked up beside the DAG file and in ``template_searchpath``); lists, tuples, sets and dict
values are rendered element by element; references to other tasks' outputs are replaced by their
values, which are never rendered themselves. Undefined names are errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.nativetypes
import jinja2.sandbox

from dagflow.exceptions import TemplateRenderError

if TYPE_CHECKING:
    from dagflow.context import Context
    from dagflow.models.baseoperator import BaseOperator
    from dagflow.models.dag import DAG

_ENV_ATTR = "_dagflow_jinja_env"
_COMPILED_ATTR = "_dagflow_compiled"


def _ds(value: Any) -> Any:
    return value.strftime("%Y-%m-%d") if value is not None else None


def _ds_nodash(value: Any) -> Any:
    return value.strftime("%Y%m%d") if value is not None else None


def _ts(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _ts_nodash(value: Any) -> Any:
    return value.strftime("%Y%m%dT%H%M%S") if value is not None else None


def _ts_nodash_with_tz(value: Any) -> Any:
    return value.isoformat().replace("-", "").replace(":", "") if value is not None else None


FILTERS: dict[str, Callable[[Any], Any]] = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}


class _SandboxedEnvironment(jinja2.sandbox.SandboxedEnvironment):
    """Sandboxed, but allows ``_private`` attributes as Airflow does (``__dunder__`` stays blocked)."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("__") and not jinja2.sandbox.is_internal_attribute(obj, attr)


class _NativeEnvironment(jinja2.nativetypes.NativeEnvironment):
    pass


def template_env(dag: DAG) -> jinja2.Environment:
    """The DAG's Jinja environment (built once per DAG object)."""
    env = getattr(dag, _ENV_ATTR, None)
    if env is not None:
        return env
    searchpath = [os.path.dirname(dag.fileloc), *dag.template_searchpath]
    options: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(searchpath),
        "undefined": dag.template_undefined,
        "extensions": ["jinja2.ext.do"],
        "cache_size": 0,
        **dag.jinja_environment_kwargs,
    }
    env_class = _NativeEnvironment if dag.render_template_as_native_obj else _SandboxedEnvironment
    env = env_class(**options)
    env.filters.update(FILTERS)
    env.filters.update(dag.user_defined_filters)
    env.globals.update(dag.user_defined_macros)
    setattr(env, _COMPILED_ATTR, {})
    setattr(dag, _ENV_ATTR, env)
    return env


def default_env() -> jinja2.Environment:
    """The environment of a task outside any DAG: sandboxed, strict, the standard filters."""
    env = _SandboxedEnvironment(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"], cache_size=0)
    env.filters.update(FILTERS)
    setattr(env, _COMPILED_ATTR, {})
    return env


def _compile(env: jinja2.Environment, source: str) -> jinja2.Template:
    """Compile ``source`` once per environment: Jinja itself does not cache ``from_string``."""
    cache: dict[str, jinja2.Template] | None = getattr(env, _COMPILED_ATTR, None)
    if cache is None:  # an environment of the caller's own (``render_template(..., jinja_env=...)``)
        return env.from_string(source)
    template = cache.get(source)
    if template is None:
        template = env.from_string(source)
        if len(cache) < 4096:
            cache[source] = template
    return template


def _is_plain(source: str) -> bool:
    return "{" not in source and "\r" not in source


class LiteralValue:
    """A template field's value that is used as it is, never rendered (see :func:`literal`)."""

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return f"literal({self.value!r})"

    def resolve(self, context: Any) -> Any:
        return self.value


def literal(value: Any) -> LiteralValue:
    """Keep ``value`` out of templating, as Airflow's ``airflow.sdk.literal``: for a command or query
    that contains ``{{`` of its own, or a string that ends like a template file (``"notes.sql"``)."""
    return LiteralValue(value)


def _plain(value: Any) -> Any:
    """A lazily computed result (``out.map(f)``, ``.zip``, ``.concat``) as the list it stands for."""
    from dagflow.models.xcom_arg_ops import LazyResult

    return list(value) if isinstance(value, LazyResult) else value


class Renderer:
    """Renders the values of one task's fields against one context."""

    def __init__(
        self,
        context: Context,
        env: jinja2.Environment,
        template_ext: tuple[str, ...] = (),
        resolved_ids: set[int] | None = None,
    ):
        self.context = context
        self.env = env
        self.template_ext = template_ext
        self.resolved_ids = resolved_ids or set()
        self.native = isinstance(env, jinja2.nativetypes.NativeEnvironment)

    def render(self, value: Any) -> Any:  # noqa: C901 - one case per kind of value, as Airflow renders
        if id(value) in self.resolved_ids:
            return value
        if isinstance(value, str):
            return self.render_string(value)
        if hasattr(value, "resolve") and callable(value.resolve) and not isinstance(value, type):
            return _plain(value.resolve(self.context))
        if isinstance(value, tuple):
            if hasattr(value, "_fields"):  # a namedtuple
                return type(value)(*(self.render(v) for v in value))
            return tuple(self.render(v) for v in value)
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, (set, frozenset)):
            return {self.render(v) for v in value}
        nested = getattr(value, "template_fields", None)
        if nested and not isinstance(value, type):
            for name in nested:
                setattr(value, name, self.render(getattr(value, name)))
        return value

    def render_string(self, source: str) -> Any:
        if self.template_ext and source.endswith(tuple(self.template_ext)):
            template = self.env.get_template(source)
        elif not self.native and _is_plain(source):
            # What Jinja would give for text without template syntax: the text minus one final newline.
            return source[:-1] if source.endswith("\n") else source
        else:
            template = _compile(self.env, source)
        return template.render(self.context)


def render_template_fields(
    task: BaseOperator, context: Context, env: jinja2.Environment, resolved_ids: set[int] | None = None
) -> dict[str, Any]:
    """Render each of ``task``'s template fields in place and return the rendered values by name."""
    renderer = Renderer(context, env, tuple(task.template_ext), resolved_ids)
    rendered: dict[str, Any] = {}
    for name in task.template_fields:
        if not hasattr(task, name):
            raise TemplateRenderError(
                f"task {task.task_id!r}: {name!r} is listed in template_fields but "
                f"{type(task).__name__} has no such attribute"
            )
        value = getattr(task, name)
        if not value:
            rendered[name] = value
            continue
        try:
            new_value = value(context=context, jinja_env=env) if callable(value) else renderer.render(value)
        except jinja2.TemplateError as exc:
            raise TemplateRenderError(
                f"task {task.task_id!r}: cannot render template field {name!r}: {type(exc).__name__}: {exc}"
            ) from exc
        setattr(task, name, new_value)
        rendered[name] = new_value
    return rendered
