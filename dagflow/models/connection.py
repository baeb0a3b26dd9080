"""``Connection``: where and how to reach an external system, as in Airflow.

A connection is given by its fields, by an Airflow URI
(``postgres://user:p%40ss@host:5432/db?sslmode=require``) or by a JSON object
(``{"conn_type": "http", "host": "...", "extra": {...}}``). ``Connection.get(conn_id)`` asks the
secrets backends (environment first, then the metadata store) and fails with
:class:`~dagflow.exceptions.ConnectionNotFound` naming the id. Its password and sensitive extras are
masked in task logs from the moment it is read.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

from dagflow import secrets
from dagflow.exceptions import ConnectionNotFound, InvalidConnection
from dagflow.secrets.masker import mask_secret

EXTRA_KEY = "__extra__"
FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")


class Connection:
    """One connection's fields; ``extra`` is a JSON object text (``extra_dejson`` parses it)."""

    def __init__(
        self,
        conn_id: str | None = None,
        conn_type: str | None = None,
        description: str | None = None,
        host: str | None = None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        port: int | None = None,
        extra: str | dict[str, Any] | None = None,
        uri: str | None = None,
    ):
        self.conn_id = conn_id
        self.description = description
        if extra is not None and not isinstance(extra, str):
            extra = json.dumps(extra)
        if uri and (conn_type or host or login or password or schema or port or extra):
            raise InvalidConnection(
                f"connection {conn_id!r}: give either a URI or fields (conn_type, host, login, password, "
                "schema, port, extra), not both"
            )
        self.conn_type, self.host, self.login, self.password = conn_type, host, login, password
        self.schema, self.port, self.extra = schema, port, extra or None
        if uri:
            self._parse_uri(uri)
        self.port = _port(self.port, conn_id)
        _check_extra(self.extra, conn_id)
        self._mask()

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_definition(cls, conn_id: str, text: str, *, where: str = "") -> Connection:
        """A connection from a URI or a JSON object text (the forms of ``DAGFLOW_CONN_*``)."""
        if text.lstrip().startswith("{"):
            return cls.from_json(text, conn_id=conn_id, where=where)
        return cls(conn_id=conn_id, uri=text)

    @classmethod
    def from_json(
        cls, value: str | dict[str, Any], conn_id: str | None = None, where: str = ""
    ) -> Connection:
        """A connection from Airflow's JSON form; ``port`` may be a string of digits."""
        place = f" ({where})" if where else ""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise InvalidConnection(
                    f"connection {conn_id!r}{place} is not valid JSON: {exc.msg} at position {exc.pos}"
                ) from None
        if not isinstance(value, dict):
            raise InvalidConnection(f"connection {conn_id!r}{place} must be a JSON object")
        unknown = sorted(set(value) - {*FIELDS, "conn_id", "uri"})
        if unknown:
            raise InvalidConnection(f"connection {conn_id!r}{place}: unknown field {unknown[0]!r}")
        fields = dict(value)
        fields.pop("conn_id", None)
        return cls(conn_id=conn_id, **fields)

    def _parse_uri(self, uri: str) -> None:
        """Airflow's URI form: ``type://login:password@host:port/schema?extra``; a host with its own
        protocol is written ``type://protocol://login...`` and ``?__extra__=<json>`` carries nested extras."""
        where = f"connection {self.conn_id!r}: malformed URI"
        count = uri.count("://")
        if count == 0 or count > 2:
            raise InvalidConnection(
                f"{where} {_hide(uri)!r} (expected type://login:password@host:port/schema)"
            )
        parts = urlsplit(uri)
        scheme = parts.scheme
        if not scheme:
            raise InvalidConnection(f"{where} {_hide(uri)!r}: it has no connection type before '://'")
        self.conn_type = "postgres" if scheme == "postgresql" else scheme.replace("-", "_")
        with_protocol = count == 2
        rest = uri.replace(f"{scheme}://", "" if with_protocol else "//", 1)
        if with_protocol and any(c in rest.split("://", 1)[0] for c in "@:"):
            raise InvalidConnection(f"{where} {_hide(uri)!r}")
        try:
            parts = urlsplit(rest)
            port = parts.port
        except ValueError as exc:
            raise InvalidConnection(f"{where} {_hide(uri)!r}: {exc}") from None
        host = _hostname(parts) or None
        if host and with_protocol:
            host = f"{parts.scheme}://{host}"
        self.host, self.port = host, port
        self.schema = unquote(parts.path[1:]) if parts.path[1:] else None
        self.login = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            self.extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)

    # -- reading --------------------------------------------------------------------------------

    @classmethod
    def get(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` from the secrets backends (Airflow 3's ``Connection.get``)."""
        found = secrets.get_connection(conn_id)
        if found is None:
            raise ConnectionNotFound(conn_id)
        return found

    get_connection_from_secrets = get

    def _mask(self) -> None:
        if self.password:
            mask_secret(self.password)
        if self.extra:
            mask_secret(self.extra_dejson)

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a dict ({} when there is none)."""
        return json.loads(self.extra) if self.extra else {}

    def get_extra_dejson(self, nested: bool = False) -> dict[str, Any]:
        extra = self.extra_dejson
        if nested:
            for key, value in extra.items():
                if isinstance(value, str):
                    with contextlib.suppress(json.JSONDecodeError):
                        extra[key] = json.loads(value)
        return extra

    def get_password(self) -> str | None:
        return self.password

    def get_uri(self) -> str:
        """The connection as an Airflow URI (which ``Connection(uri=...)`` reads back unchanged)."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        protocol, host = self.host.split("://", 1) if self.host and "://" in self.host else (None, self.host)
        if protocol:
            uri += f"{protocol}://"
        authority = quote(self.login, safe="") if self.login is not None else ""
        if self.password is not None:
            authority += ":" + quote(self.password, safe="")
        if authority:
            uri += authority + "@"
        block = quote(host, safe="") if host else ""
        if self.port:
            block += f"@:{self.port}" if not block and not authority else f":{self.port}"
        if self.schema:
            block += f"/{quote(self.schema, safe='')}"
        uri += block
        if self.extra:
            uri += ("?" if self.schema else "/?") + _extra_query(self.extra, self.extra_dejson)
        return uri

    def to_dict(self, *, include_secrets: bool = True) -> dict[str, Any]:
        """The fields as a JSON object (``extra`` parsed); secrets as ``***`` unless asked for."""
        extra = self.extra_dejson
        password = self.password
        if not include_secrets:
            from dagflow.secrets.masker import MASK, is_sensitive

            password = MASK if password else password
            extra = {k: MASK if is_sensitive(k) else v for k, v in extra.items()}
        return {
            "conn_id": self.conn_id,
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "login": self.login,
            "password": password,
            "schema": self.schema,
            "port": self.port,
            "extra": extra,
        }

    def get_hook(self, *, hook_params: dict[str, Any] | None = None) -> Any:
        """The hook for this connection's type (``SqliteHook`` for ``sqlite``...), bound to it."""
        from dagflow.hooks.base import hook_for

        return hook_for(self, **(hook_params or {}))

    def test_connection(self) -> tuple[bool, str]:
        """Whether the system answers, through the hook for this connection's type."""
        try:
            return self.get_hook().test_connection()
        except Exception as exc:  # any failure is the answer, in one line
            return False, f"{type(exc).__name__}: {exc}"

    def __repr__(self) -> str:
        return self.conn_id or ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Connection):
            return NotImplemented
        return self.conn_id == other.conn_id and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


def _hostname(parts: SplitResult) -> str:
    """The host, unquoted; a host that is a quoted path (a SQLite file) keeps its case, as in Airflow."""
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


def _extra_query(extra: str, parsed: dict[str, Any]) -> str:
    try:
        query = urlencode(parsed)
    except TypeError:
        query = ""
    if query and parsed == dict(parse_qsl(query, keep_blank_values=True)):
        return query
    return urlencode({EXTRA_KEY: extra})


def _port(value: Any, conn_id: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidConnection(f"connection {conn_id!r}: port must be a number, got {value!r}") from None


def _check_extra(extra: str | None, conn_id: str | None) -> None:
    if extra is None:
        return
    try:
        parsed = json.loads(extra)
    except json.JSONDecodeError:
        raise InvalidConnection(f"connection {conn_id!r}: extra is not JSON text") from None
    if not isinstance(parsed, dict):
        raise InvalidConnection(f"connection {conn_id!r}: extra must be a JSON object")


def _hide(uri: str) -> str:
    """The URI with its password replaced, for error messages."""
    try:
        parts = urlsplit(uri)
        if parts.password:
            return uri.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        pass
    return uri
