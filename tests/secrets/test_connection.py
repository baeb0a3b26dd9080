"""Connections as Airflow reads and writes them: URI and JSON forms, ``get_uri``, ``extra_dejson``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagflow.exceptions import InvalidConnection
from dagflow.models.connection import Connection


def test_a_uri_gives_every_field_unquoted_and_postgresql_becomes_postgres():
    conn = Connection(
        conn_id="db", uri="postgresql://us%40er:p%3Ass%2Fw@db.example:6432/sales?sslmode=require"
    )
    assert (conn.conn_type, conn.host, conn.port, conn.schema) == ("postgres", "db.example", 6432, "sales")
    assert (conn.login, conn.password) == ("us@er", "p:ss/w")
    assert conn.extra_dejson == {"sslmode": "require"}


def test_a_dash_in_the_uri_scheme_is_an_underscore_in_the_type():
    assert Connection(conn_id="x", uri="google-cloud-platform://").conn_type == "google_cloud_platform"


def test_a_host_with_its_own_protocol_keeps_it():
    conn = Connection(conn_id="api", uri="http://https://api.example.org:8443/v1")
    assert (conn.conn_type, conn.host, conn.port, conn.schema) == (
        "http",
        "https://api.example.org",
        8443,
        "v1",
    )
    assert Connection(conn_id="api", uri=conn.get_uri()).host == "https://api.example.org"


def test_nested_extras_travel_in_the_extra_parameter():
    conn = Connection(conn_id="x", conn_type="http", host="h", extra={"headers": {"X-A": "1"}, "n": 2})
    uri = conn.get_uri()
    assert "__extra__=" in uri
    assert Connection(conn_id="x", uri=uri).extra_dejson == {"headers": {"X-A": "1"}, "n": 2}


def test_get_uri_writes_airflows_form():
    conn = Connection(
        conn_id="x",
        conn_type="postgres",
        host="h",
        login="u",
        password="p@ss",
        port=5432,
        schema="db",
        extra={"sslmode": "disable"},
    )
    assert conn.get_uri() == "postgres://u:p%40ss@h:5432/db?sslmode=disable"


def test_the_json_form_accepts_a_port_as_text_and_extra_as_an_object():
    conn = Connection.from_json(
        '{"conn_type": "http", "host": "h", "port": "8080", "extra": {"token": "t"}}', "c"
    )
    assert (conn.conn_id, conn.port, conn.extra_dejson) == ("c", 8080, {"token": "t"})


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("not a uri", "malformed URI"),
        ("http://h:port/x", "Port could not be cast"),
        ("a://b://c://d", "malformed URI"),
        ("://host", "no connection type"),
    ],
)
def test_a_malformed_uri_is_a_one_line_error_naming_the_connection(uri, says):
    with pytest.raises(InvalidConnection) as raised:
        Connection(conn_id="broken", uri=uri)
    message = str(raised.value)
    assert "'broken'" in message and says in message and "\n" not in message


def test_a_malformed_uri_error_does_not_show_the_password():
    with pytest.raises(InvalidConnection) as raised:
        Connection(conn_id="broken", uri="postgres://u:sup3rsecret@h:notaport/db")
    assert "sup3rsecret" not in str(raised.value)


def test_extra_that_is_not_a_json_object_is_refused():
    with pytest.raises(InvalidConnection, match="extra must be a JSON object"):
        Connection(conn_id="x", conn_type="http", extra="[1, 2]")


def test_uri_and_fields_together_are_refused():
    with pytest.raises(InvalidConnection, match="not both"):
        Connection(conn_id="x", uri="http://h", host="other")


text = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=12)


@given(
    conn_type=st.sampled_from(["postgres", "http", "sqlite", "my_type"]),
    host=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9.-]{0,15}", fullmatch=True)),
    login=st.one_of(st.none(), text),
    password=st.one_of(st.none(), text),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    schema=st.one_of(st.none(), text),
    extra=st.one_of(
        st.none(), st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), text, max_size=3)
    ),
)
def test_get_uri_reads_back_as_the_same_connection(conn_type, host, login, password, port, schema, extra):
    conn = Connection(
        conn_id="c",
        conn_type=conn_type,
        host=host,
        login=login,
        password=password,
        port=port,
        schema=schema,
        extra=extra or None,
    )
    again = Connection(conn_id="c", uri=conn.get_uri())
    assert again.to_dict() == conn.to_dict()


def test_a_sqlite_file_in_the_host_keeps_its_case():
    conn = Connection(conn_id="lite", uri="sqlite://%2Ftmp%2FMy_Data.db")
    assert conn.host == "/tmp/My_Data.db"
