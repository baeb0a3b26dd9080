"""Variables and Connections read from local files, as ``dag.test(variable_file_path=...,
conn_file_path=...)`` takes them (the formats of Airflow's local filesystem secrets backend).

A file is ``.env`` (``key=value`` lines; blank lines and ``#`` comments are skipped), ``.json`` or
``.yaml``/``.yml`` (one object). A connection is a URI or an object of Connection fields (``extra``
may be an object, or given as ``extra_dejson``). A Variable that is not a string in a JSON or YAML
file is kept as JSON text, so ``Variable.get(key, deserialize_json=True)`` gives it back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dagflow.exceptions import DagflowError

if TYPE_CHECKING:
    from dagflow.models.connection import Connection

_CONNECTION_FIELDS = frozenset(
    {"conn_type", "description", "host", "login", "password", "schema", "port", "extra", "uri"}
)


def _parse_env(path: Path, text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise DagflowError(f"{path}:{number}: expected key=value, got {raw!r}")
        if key.strip() in found:
            raise DagflowError(f"{path}:{number}: {key.strip()!r} is defined twice; keep one line")
        found[key.strip()] = value.strip()
    return found


def _parse(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DagflowError(f"secrets file {path} does not exist")
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".env":
        return _parse_env(path, text)
    if suffix not in (".json", ".yaml", ".yml"):
        raise DagflowError(f"secrets file {path}: use a .env, .json, .yaml or .yml file")
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DagflowError(f"secrets file {path} cannot be parsed: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DagflowError(f"secrets file {path} must hold one object of keys, got {type(data).__name__}")
    return data


def _connection(path: Path, conn_id: str, value: Any) -> Connection:
    from dagflow.models.connection import Connection

    if isinstance(value, str):
        return Connection(conn_id=conn_id, uri=value)
    if not isinstance(value, dict):
        raise DagflowError(f"{path}: connection {conn_id!r} must be a URI or an object of fields")
    fields = dict(value)
    if "extra_dejson" in fields:
        fields["extra"] = fields.pop("extra_dejson")
    unknown = sorted(set(fields) - _CONNECTION_FIELDS)
    if unknown:
        raise DagflowError(
            f"{path}: connection {conn_id!r} has unknown field(s) {unknown}; use {sorted(_CONNECTION_FIELDS)}"
        )
    return Connection(conn_id=conn_id, **fields)


class LocalFileBackend:
    """A secrets backend over a variables file and a connections file (either may be left out),
    read once when it is made so that a bad file fails before anything runs."""

    def __init__(
        self,
        *,
        variables_file: str | Path | None = None,
        connections_file: str | Path | None = None,
    ):
        self.variables: dict[str, str] = {}
        self.connections: dict[str, Connection] = {}
        if variables_file is not None:
            path = Path(variables_file)
            for key, value in _parse(path).items():
                self.variables[str(key)] = value if isinstance(value, str) else json.dumps(value)
        if connections_file is not None:
            path = Path(connections_file)
            for conn_id, value in _parse(path).items():
                self.connections[str(conn_id)] = _connection(path, str(conn_id), value)

    def get_variable(self, key: str) -> str | None:
        return self.variables.get(key)

    def get_connection(self, conn_id: str) -> Connection | None:
        return self.connections.get(conn_id)
