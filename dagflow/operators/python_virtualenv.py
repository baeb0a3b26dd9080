"""Operators that call a Python function in another interpreter: PythonVirtualenvOperator (a virtual
environment built for the task and cached), ExternalPythonOperator (an existing interpreter), and
their branching variants.

The function travels as its source: it must be a plain ``def`` function that imports what it uses
inside its body. Its arguments (``op_args``, ``op_kwargs`` and the context names it declares that can
travel: dates, ``ds``, ``run_id``, ``params``...) go over with pickle (or ``dill``/``cloudpickle``),
and its return value comes back the same way, becoming the task's XCom.
"""

from __future__ import annotations

import inspect
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Collection, Container, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagflow.exceptions import DagDefinitionError, DagflowError, SkipTask
from dagflow.operators.branch import skip_all_except
from dagflow.operators.python import PythonOperator
from dagflow.operators.venv import (
    VenvSpec,
    default_cache_root,
    ensure_venv,
    interpreter,
    python_in,
    requirement_lines,
    run_script,
    write_script,
)

if TYPE_CHECKING:
    from dagflow.context import Context

SERIALIZERS = ("pickle", "cloudpickle", "dill")

#: Context names that can travel to another interpreter as plain values.
SERIALIZABLE_CONTEXT_KEYS = frozenset(
    {
        "ds",
        "ds_nodash",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "run_id",
        "task_instance_key_str",
        "inlets",
        "outlets",
        "expanded_ti_count",
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "prev_data_interval_start_success",
        "prev_data_interval_end_success",
        "prev_start_date_success",
        "prev_end_date_success",
        "params",
        "templates_dict",
    }
)


def plain(value: Any) -> Any:
    """``value`` with datetime subclasses (pendulum's) made plain datetimes and params a plain dict,
    so the other interpreter needs neither pendulum nor dagflow to read them."""
    if isinstance(value, datetime) and (type(value) is not datetime or _foreign_zone(value.tzinfo)):
        return _plain_datetime(value)
    if isinstance(value, date) and type(value) not in (date, datetime):
        return date(value.year, value.month, value.day)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if type(value) is tuple:
        return tuple(plain(v) for v in value)
    return value


def _foreign_zone(zone: tzinfo | None) -> bool:
    """A timezone class from outside the standard library (pendulum's), which the other side may lack."""
    return zone is not None and type(zone).__module__.split(".")[0] not in ("datetime", "zoneinfo")


def _plain_datetime(value: datetime) -> datetime:
    """The same instant (or, when naive, the same wall time) as a plain datetime in a standard zone."""
    fields = (value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
    if value.tzinfo is None:
        return datetime(*fields)
    zone = _plain_zone(value)
    if zone is value.tzinfo:
        return datetime(*fields, tzinfo=zone, fold=value.fold)
    utc = value.utctimetuple()
    instant = datetime(*utc[:6], value.microsecond, tzinfo=UTC)
    return instant.astimezone(zone)


def _plain_zone(value: datetime) -> tzinfo | None:
    """The standard library's equivalent of the datetime's timezone: the same IANA zone, else its offset."""
    zone = value.tzinfo
    if not _foreign_zone(zone):
        return zone
    name = getattr(zone, "name", None) or getattr(zone, "key", None)
    if isinstance(name, str):
        try:
            return ZoneInfo(name)
        except (ValueError, ZoneInfoNotFoundError):
            pass
    offset = value.utcoffset()
    return timezone(offset) if offset is not None else None


def _skip_codes(skip_on_exit_code: int | Container[int] | None) -> Container[int]:
    if skip_on_exit_code is None:
        return ()
    if isinstance(skip_on_exit_code, int):
        return (skip_on_exit_code,)
    return skip_on_exit_code


class _BasePythonInterpreterOperator(PythonOperator):
    """What both operators share: the function and its arguments cross to ``python`` and back."""

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        serializer: str | None = None,
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        string_args: Iterable[str] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: list[str] | None = None,
        expect_airflow: bool = True,
        skip_on_exit_code: int | Container[int] | None = None,
        env_vars: dict[str, str] | None = None,
        inherit_env: bool = True,
        use_dill: bool = False,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        if not isinstance(python_callable, types.FunctionType) or python_callable.__name__ == "<lambda>":
            raise DagDefinitionError(f"{name}: python_callable must be a function defined with def")
        if inspect.isgeneratorfunction(python_callable):
            raise DagDefinitionError(f"{name}: python_callable cannot use 'yield'")
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            templates_dict=templates_dict,
            templates_exts=templates_exts,
            **kwargs,
        )
        serializer = serializer or ("dill" if use_dill else "pickle")
        if serializer not in SERIALIZERS:
            raise DagDefinitionError(
                f"{name}(task_id={self.task_id!r}): unsupported serializer {serializer!r}; "
                f"use one of {', '.join(map(repr, SERIALIZERS))}"
            )
        self.serializer = serializer
        self.string_args = list(string_args or [])
        self.expect_airflow = expect_airflow
        self.skip_on_exit_code = _skip_codes(skip_on_exit_code)
        self.env_vars = env_vars
        self.inherit_env = inherit_env
        self._process: subprocess.Popen[bytes] | None = None

    def _where(self) -> str:
        return f"{type(self).__name__}(task_id={self.task_id!r})"

    def python_path(self) -> Path:
        """The interpreter that runs the function."""
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        travelling = {k: v for k, v in context.items() if k in SERIALIZABLE_CONTEXT_KEYS}
        travelling["templates_dict"] = self.templates_dict
        kwargs = {**travelling, **self.op_kwargs}
        from dagflow.operators.python import callable_kwargs

        arguments = callable_kwargs(self.python_callable, self.op_args, kwargs)
        result = self._call(self.python_path(), list(self.op_args), arguments)
        if self.show_return_value_in_logs:
            self.log.info("Done. Returned value was: %s", result)
        return result

    def _serializer(self) -> Any:
        if self.serializer == "pickle":
            return pickle
        try:
            return __import__(self.serializer)
        except ImportError:
            raise DagflowError(
                f"{self._where()}: serializer {self.serializer!r} is not installed where dagflow runs"
            ) from None

    def _call(self, python: Path, args: list[Any], kwargs: dict[str, Any]) -> Any:
        library = self._serializer()
        with tempfile.TemporaryDirectory(prefix="venv-call") as scratch:
            folder = Path(scratch)
            paths = {n: folder / n for n in ("script.in", "script.out", "string_args.txt", "termination.log")}
            self._write_arguments(library, paths["script.in"], args, kwargs)
            paths["string_args.txt"].write_text("\n".join(map(str, self.string_args)), encoding="utf-8")
            script = folder / "script.py"
            write_script(script, self.python_callable, self.serializer, self._where())
            command = [str(python), str(script), *(str(p) for p in paths.values())]
            returncode = run_script(command, self._environment(), self._started)
            self._process = None
            if returncode in self.skip_on_exit_code:
                raise SkipTask(f"Process exited with code {returncode}. Skipping.")
            if returncode != 0:
                raise DagflowError(self._failure(returncode, paths["termination.log"]))
            output = paths["script.out"].read_bytes()
        return library.loads(output) if output else None

    def _write_arguments(self, library: Any, path: Path, args: list[Any], kwargs: dict[str, Any]) -> None:
        if not args and not kwargs:
            path.write_bytes(b"")
            return
        try:
            path.write_bytes(library.dumps({"args": plain(args), "kwargs": plain(kwargs)}))
        except Exception as exc:
            bad = [k for k, v in kwargs.items() if not _dumps_ok(library, v)]
            named = f" (keyword arguments {bad})" if bad else ""
            raise DagflowError(
                f"{self._where()}: cannot serialize the function's arguments with "
                f"{self.serializer}{named}: {exc}"
            ) from None

    def _failure(self, returncode: int, termination_log: Path) -> str:
        message = f"{self._where()}: the function's process exited with code {returncode}"
        if termination_log.is_file() and termination_log.stat().st_size:
            message += f": {termination_log.read_text(encoding='utf-8').strip()}"
        return message

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.inherit_env else {}
        env.update(self.env_vars or {})
        return env

    def _started(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(os.getpgid(process.pid), signal.SIGTERM)


def _dumps_ok(library: Any, value: Any) -> bool:
    try:
        library.dumps(plain(value))
    except Exception:
        return False
    return True


class PythonVirtualenvOperator(_BasePythonInterpreterOperator):
    """Calls the function in a virtual environment with ``requirements`` installed.

    ``requirements``: a list of requirement strings, or a (templated) requirements file such as
    ``"requirements.txt"``. The environment is built with ``python_version``'s interpreter (this one by
    default) and cached under ``venv_cache_path`` (default ``$DAGFLOW_HOME/venvs``), keyed by its
    requirements, Python version and options, so only the first run of a task pays for the build.
    ``system_site_packages``: whether the base interpreter's packages are visible too.
    """

    template_fields = (  # type: ignore[assignment]
        *PythonOperator.template_fields,
        "requirements",
        "index_urls",
        "venv_cache_path",
    )
    template_ext: ClassVar[Sequence[str]] = (".txt",)

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        requirements: Iterable[str] | str | None = None,
        python_version: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: list[str] | None = None,
        index_urls: Collection[str] | str | None = None,
        index_urls_from_connection_ids: Collection[str] | str | None = None,
        venv_cache_path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if python_version is not None and not isinstance(python_version, str):
            raise DagDefinitionError(
                f"{type(self).__name__}: python_version must be a string such as '3.11', "
                f"got {python_version!r}"
            )
        super().__init__(python_callable=python_callable, **kwargs)
        if (
            python_version
            and python_version[0] != str(sys.version_info.major)
            and (self.op_args or self.op_kwargs)
        ):
            raise DagDefinitionError(
                f"{self._where()}: op_args and op_kwargs cannot cross to another major Python version; "
                "use string_args"
            )
        self.requirements: list[str] = (
            []
            if not requirements
            else [requirements]
            if isinstance(requirements, str)
            else list(requirements)
        )
        self.python_version = python_version
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = [index_urls] if isinstance(index_urls, str) else list(index_urls or []) or None
        if index_urls_from_connection_ids:
            raise DagDefinitionError(
                f"{self._where()}: index_urls_from_connection_ids is not supported; pass index_urls"
            )
        self.index_urls_from_connection_ids = None
        self.venv_cache_path = venv_cache_path

    def venv_spec(self) -> VenvSpec:
        python, version = interpreter(self.python_version, self._where())
        requirements = list(requirement_lines(self.requirements))
        if not self.system_site_packages and self.serializer != "pickle":
            requirements = sorted({*requirements, self.serializer})
        return VenvSpec(
            python=python,
            python_version=version,
            requirements=tuple(requirements),
            system_site_packages=self.system_site_packages,
            pip_install_options=tuple(self.pip_install_options),
            index_urls=tuple(self.index_urls or ()),
        )

    def python_path(self) -> Path:
        root = Path(self.venv_cache_path) if self.venv_cache_path else default_cache_root()
        try:
            venv = ensure_venv(root, self.venv_spec(), self.log)
        except DagflowError as exc:
            raise DagflowError(f"{self._where()}: {exc}") from None
        return python_in(venv)


class ExternalPythonOperator(_BasePythonInterpreterOperator):
    """Calls the function with an existing interpreter, ``python`` (templated): the path of a
    virtual environment's ``bin/python``, for instance, prepared outside dagflow."""

    template_fields = (*PythonOperator.template_fields, "python")  # type: ignore[assignment]

    def __init__(
        self,
        *,
        python: str,
        python_callable: Callable[..., Any],
        expect_pendulum: bool = False,
        **kwargs: Any,
    ) -> None:
        if not python:
            raise DagDefinitionError(f"{type(self).__name__}: python (the interpreter's path) is required")
        super().__init__(python_callable=python_callable, **kwargs)
        self.python = os.fspath(python)
        self.expect_pendulum = expect_pendulum

    def python_path(self) -> Path:
        path = Path(self.python)
        if not path.exists():
            raise DagflowError(f"{self._where()}: the Python interpreter {self.python!r} does not exist")
        return path


class BranchPythonVirtualenvOperator(PythonVirtualenvOperator):
    """A PythonVirtualenvOperator whose function returns the task id(s) to follow, as BranchPythonOperator."""

    def execute(self, context: Context) -> Any:
        choice = super().execute(context)
        skip_all_except(self, context, choice)
        return choice


class BranchExternalPythonOperator(ExternalPythonOperator):
    """An ExternalPythonOperator whose function returns the task id(s) to follow, as BranchPythonOperator."""

    def execute(self, context: Context) -> Any:
        choice = super().execute(context)
        skip_all_except(self, context, choice)
        return choice


def _decorated(base: type[_BasePythonInterpreterOperator], name: str) -> type[Any]:
    """The operator behind a ``@task.<variant>`` function: ``base`` shown as ``@task.<variant>``."""
    return type(
        f"_Decorated{base.__name__}",
        (base,),
        {"custom_operator_name": name, "operator_name": property(lambda self: self.custom_operator_name)},
    )


DecoratedVirtualenvOperator = _decorated(PythonVirtualenvOperator, "@task.virtualenv")
DecoratedExternalPythonOperator = _decorated(ExternalPythonOperator, "@task.external_python")
DecoratedBranchVirtualenvOperator = _decorated(BranchPythonVirtualenvOperator, "@task.branch_virtualenv")
DecoratedBranchExternalPythonOperator = _decorated(
    BranchExternalPythonOperator, "@task.branch_external_python"
)
