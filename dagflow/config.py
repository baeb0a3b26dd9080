"""Settings: defaults, overridden by ``$DAGFLOW_HOME/dagflow.cfg``, overridden by ``DAGFLOW__SECTION__KEY``.

Nothing reads settings at import time: commands build a :class:`Settings` and pass it down.
"""

from __future__ import annotations

import configparser
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dagflow.exceptions import DagflowConfigError

#: Settings whose values are secrets: ``dagflow config list`` shows them as :data:`HIDDEN` unless
#: asked for them (``--include-sensitive``), as Airflow's configuration page does.
SENSITIVE_SETTINGS = frozenset({("core", "fernet_key"), ("webserver", "secret_key")})
#: Settings that are URLs, which may carry a password: listed with the password hidden.
URL_SETTINGS = frozenset({("database", "url"), ("celery", "broker_url")})
HIDDEN = "< hidden >"


def displayed_value(section: str, key: str, value: str) -> str:
    """``value`` as a listing shows it: a secret hidden, a URL's password hidden (the rest of the
    URL is what a person checks); anything else, and an empty secret, as it is."""
    if (section, key) in SENSITIVE_SETTINGS:
        return HIDDEN if value else value
    if (section, key) in URL_SETTINGS:
        return url_without_password(value)
    return value


def url_without_password(url: str) -> str:
    """``scheme://user:***@host/...`` for a URL with a password; any other text unchanged."""
    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:  # not a URL a password could be read from
        return url
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


ENV_PREFIX = "DAGFLOW__"


def dagflow_home(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("DAGFLOW_HOME") or Path.home() / "dagflow").expanduser()


@functools.cache
def _project_dags_folder() -> Path | None:
    """The repository's ``dags/`` when dagflow runs from a checkout of its repository (it does not
    move while the process runs: looked up once)."""
    candidate = Path(__file__).resolve().parent.parent / "dags"
    if candidate.is_dir() and (candidate.parent / "pyproject.toml").is_file():
        return candidate
    return None


def defaults(home: Path) -> dict[str, dict[str, str]]:
    project_dags = _project_dags_folder()
    return {
        "core": {
            "dags_folder": str(project_dags or home / "dags"),
            "plugins_folder": str(home / "plugins"),
            "executor": "local",
            "parallelism": "32",
            "dagbag_import_timeout": "30",
            "dags_are_paused_at_creation": "True",
            "max_active_tasks_per_dag": "16",
            "max_active_runs_per_dag": "16",
            "airflow_compat": "True",
            "fernet_key": "",
            "test_connection": "Disabled",
            "max_map_length": "1024",
            "hostname_callable": "",
        },
        "database": {"url": f"sqlite:///{home / 'dagflow.db'}"},
        "logging": {
            "base_log_folder": str(home / "logs"),
            "worker_log_server_port": "8793",
            "worker_log_server_host": "",
            "remote_base_log_folder": "",
        },
        "operators": {"default_queue": "default"},
        "celery": {
            "broker_url": "redis://127.0.0.1:6379/0",
            "worker_concurrency": "2",
            "visibility_timeout": "21600",
            "stuck_in_queued_retries": "2",
        },
        "scheduler": {
            "heartbeat_sec": "1.0",
            "task_heartbeat_timeout": "30",
            "scheduler_health_check_threshold": "30",
            "parse_interval": "1.0",
            "create_cron_data_intervals": "False",
            "task_queued_timeout": "600",
        },
        "metrics": {
            "port": "",
            "statsd_on": "False",
            "statsd_host": "localhost",
            "statsd_port": "8125",
            "statsd_prefix": "dagflow",
            "statsd_interval": "5",
        },
        "worker": {"processes": "0", "max_memory_mb": "", "timeout_grace": "5"},
        "webserver": {
            "port": "8080",
            "host": "127.0.0.1",
            "cookie_secure": "auto",
            "secret_key": "",
            "page_size": "50",
            # the address people open the web UI at, for links such as a task instance's log_url
            # (empty: http://localhost:<port>)
            "base_url": "",
        },
    }


@dataclass
class Settings:
    """Every setting in force, and where each came from (``default``, the cfg file, or the environment)."""

    home: Path
    values: dict[str, dict[str, str]]
    sources: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        home = dagflow_home(environ)
        values = defaults(home)
        sources = {(s, k): "default" for s, keys in values.items() for k in keys}
        cfg_path = home / "dagflow.cfg"
        if cfg_path.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(cfg_path)
            except configparser.Error as exc:
                raise DagflowConfigError(f"{cfg_path}: {exc}") from None
            for section in parser.sections():
                for key, value in parser.items(section):
                    values.setdefault(section, {})[key] = value
                    sources[(section, key)] = str(cfg_path)
        for name, value in environ.items():
            if name.startswith(ENV_PREFIX) and name.count("__") >= 2:
                section, key = name[len(ENV_PREFIX) :].lower().split("__", 1)
                values.setdefault(section, {})[key] = value
                sources[(section, key)] = f"env {name}"
        return cls(home=home, values=values, sources=sources)

    def get(self, section: str, key: str, fallback: Any = None) -> Any:
        return self.values.get(section, {}).get(key, fallback)

    def getint(self, section: str, key: str) -> int:
        return int(self._number(section, key, int))

    def getfloat(self, section: str, key: str) -> float:
        return float(self._number(section, key, float))

    def getbool(self, section: str, key: str) -> bool:
        value = str(self.get(section, key, "")).strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise DagflowConfigError(
            f"[{section}] {key} must be true or false, got {value!r} ({self.source(section, key)})"
        )

    def _number(self, section: str, key: str, kind: type) -> Any:
        value = self.get(section, key)
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise DagflowConfigError(
                f"[{section}] {key} must be a number, got {value!r} ({self.source(section, key)})"
            ) from None

    def source(self, section: str, key: str) -> str:
        return self.sources.get((section, key), "unknown")

    @property
    def dags_folder(self) -> Path:
        return Path(self.get("core", "dags_folder")).expanduser()

    @property
    def plugins_folder(self) -> Path:
        return Path(self.get("core", "plugins_folder")).expanduser()

    @property
    def database_url(self) -> str:
        return str(self.get("database", "url"))

    @property
    def log_folder(self) -> Path:
        return Path(self.get("logging", "base_log_folder")).expanduser()

    def rows(self) -> list[tuple[str, str, str, str]]:
        """``(section, key, value, source)`` for every setting, sorted."""
        return [
            (section, key, value, self.source(section, key))
            for section in sorted(self.values)
            for key, value in sorted(self.values[section].items())
        ]
