"""Variables and Connections through the secrets chain: environment first (dagflow's, then Airflow's
names), then the metadata store; encryption at rest with ``[core] fernet_key``."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from dagflow.exceptions import ConnectionNotFound, FernetKeyError, VariableNotFound
from dagflow.hooks.base import BaseHook
from dagflow.models.connection import Connection
from dagflow.models.variable import Variable
from dagflow.secrets.fernet import FernetCodec
from dagflow.store.connections import read_connection, save_connection
from dagflow.store.models import ConnectionRow, VariableRow


@pytest.fixture
def fernet_key(monkeypatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", key)
    return key


def test_a_variable_set_is_read_back_and_deleted(database):
    Variable.set("region", "eu-west", description="where")
    assert Variable.get("region") == "eu-west"
    assert Variable.delete("region") == 1
    assert Variable.get("region", default_var="none") == "none"


def test_a_missing_variable_is_a_key_error_naming_it(database):
    with pytest.raises(KeyError) as raised:
        Variable.get("nowhere")
    assert isinstance(raised.value, VariableNotFound)
    assert "'nowhere'" in str(raised.value) and "DAGFLOW_VAR_NOWHERE" in str(raised.value)


def test_json_values_are_serialized_and_deserialized(database):
    Variable.set("config", {"batch": [1, 2]}, serialize_json=True)
    assert Variable.get("config", deserialize_json=True) == {"batch": [1, 2]}
    assert Variable.get("missing", default={"a": 1}, deserialize_json=True) == {"a": 1}


def test_the_environment_wins_over_the_store_and_dagflows_name_over_airflows(database, monkeypatch):
    Variable.set("color", "stored")
    monkeypatch.setenv("AIRFLOW_VAR_COLOR", "airflow-env")
    assert Variable.get("color") == "airflow-env"
    monkeypatch.setenv("DAGFLOW_VAR_COLOR", "dagflow-env")
    assert Variable.get("color") == "dagflow-env"


def test_connections_come_from_either_environment_form(database, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_API", "http://user:pw@api.example:8080/v1")
    monkeypatch.setenv(
        "DAGFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "postgres", "host": "db", "port": 5432})
    )
    assert BaseHook.get_connection("api").host == "api.example"
    assert Connection.get("warehouse").port == 5432


def test_a_missing_connection_names_its_id(database):
    with pytest.raises(ConnectionNotFound, match="'nowhere' isn't defined"):
        Connection.get("nowhere")


def test_a_malformed_connection_in_the_environment_is_a_one_line_error_naming_it(database, monkeypatch):
    monkeypatch.setenv("DAGFLOW_CONN_BROKEN", "http://h:notaport")
    with pytest.raises(Exception) as raised:
        Connection.get("broken")
    assert "'broken'" in str(raised.value) and "\n" not in str(raised.value)


def test_with_a_fernet_key_values_passwords_and_extras_are_encrypted_at_rest(database, fernet_key):
    Variable.set("api_key", "s3cret-value")
    codec = FernetCodec(fernet_key)
    conn = Connection(
        conn_id="db", conn_type="postgres", host="h", password="pw-123456", extra={"token": "tok-123456"}
    )
    with database.session(write=True) as session:
        save_connection(session, conn, codec)
    with database.session() as session:
        var_row = session.scalars(select(VariableRow)).one()
        conn_row = session.scalars(select(ConnectionRow)).one()
        assert var_row.is_encrypted and "s3cret" not in (var_row.val or "")
        assert conn_row.is_encrypted and conn_row.is_extra_encrypted
        assert "pw-123456" not in (conn_row.password or "") and "tok-123456" not in (conn_row.extra or "")
        assert read_connection(session, "db", codec) == conn
    assert Variable.get("api_key") == "s3cret-value"


def test_without_a_fernet_key_values_are_stored_in_plain_text_as_in_airflow(database):
    Variable.set("plain", "visible")
    with database.session() as session:
        row = session.get(VariableRow, "plain")
        assert row is not None and (row.val, row.is_encrypted) == ("visible", False)


def test_a_wrong_fernet_key_is_a_one_line_error_naming_the_variable(database, fernet_key, monkeypatch):
    Variable.set("token", "value-123456")
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    with pytest.raises(FernetKeyError) as raised:
        Variable.get("token")
    assert "Variable 'token'" in str(raised.value) and "\n" not in str(raised.value)


def test_an_old_key_still_reads_after_rotation(database, fernet_key, monkeypatch):
    Variable.set("rotated", "value-123456")
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", f"{Fernet.generate_key().decode()},{fernet_key}")
    assert Variable.get("rotated") == "value-123456"


def test_a_malformed_fernet_key_writes_nothing(database, monkeypatch):
    monkeypatch.setenv("DAGFLOW__CORE__FERNET_KEY", "not-a-key")
    with pytest.raises(FernetKeyError, match="not a valid Fernet key"):
        Variable.set("x", "y")
    monkeypatch.delenv("DAGFLOW__CORE__FERNET_KEY")
    with database.session() as session:
        assert session.scalars(select(VariableRow)).all() == []


def test_without_a_metadata_store_the_environment_still_answers(monkeypatch):
    monkeypatch.setenv("DAGFLOW_VAR_ONLY_ENV", "here")
    assert Variable.get("only_env") == "here"
    assert Variable.get("absent", default_var=None) is None


def test_setting_a_variable_the_environment_shadows_warns_and_stores_it(database, monkeypatch, caplog):
    monkeypatch.setenv("DAGFLOW_VAR_MODE", "env")
    Variable.set("mode", "stored")
    assert "takes precedence" in caplog.text
    monkeypatch.delenv("DAGFLOW_VAR_MODE")
    assert Variable.get("mode") == "stored"
