"""The worker log server: it serves a log to a request signed with the shared secret key for that log,
and refuses anything else (unsigned, another key, expired, signed for another log, leaving the folder)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from dagflow.exceptions import LogUnavailable
from dagflow.remote import logserver
from dagflow.remote.logserver import LogServer, fetch, sign, verify

SECRET = "shared-secret"
LOG = "etl/manual__1/extract/attempt=1.log"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "logs"
    (folder / LOG).parent.mkdir(parents=True)
    (folder / LOG).write_text("line one\nline two\n")
    (tmp_path / "secret.log").write_text("outside the log folder\n")
    (folder / "etl" / "notes.txt").write_text("not a log\n")
    server = LogServer(folder, SECRET, host="127.0.0.1", port=0).start()
    try:
        yield f"http://127.0.0.1:{server.port}", folder
    finally:
        server.stop()


def _get(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_signed_request_gets_the_log_from_its_offset(served: tuple[str, Path]):
    url, _ = served
    assert fetch(url, LOG, SECRET) == b"line one\nline two\n"
    assert fetch(url, LOG, SECRET, offset=9) == b"line two\n"
    assert fetch(url, LOG, SECRET, offset=9, length=4) == b"line"


def test_unsigned_wrongly_signed_and_misdirected_requests_are_refused(served: tuple[str, Path]):
    url, _ = served
    assert _get(f"{url}/log/{LOG}", None) == (403, "unsigned request")
    assert _get(f"{url}/log/{LOG}", sign("another-key", LOG)) == (403, "bad signature")
    assert _get(f"{url}/log/{LOG}", "garbage") == (403, "bad signature")
    other = "etl/manual__1/load/attempt=1.log"
    assert _get(f"{url}/log/{LOG}", sign(SECRET, other)) == (403, "the signature is for another log")
    with pytest.raises(LogUnavailable, match="answered 403: bad signature"):
        fetch(url, LOG, "another-key")


def test_an_expired_signature_is_refused():
    old = URLSafeTimedSerializer(SECRET, salt="dagflow-worker-log")
    token = old.dumps(LOG)
    assert verify(SECRET, token, LOG) is None
    assert verify(SECRET, token, LOG, max_age=-1) == "expired signature"


def test_paths_that_leave_the_log_folder_or_are_not_logs_are_refused_even_when_signed(
    served: tuple[str, Path],
):
    url, _ = served
    for path in ("../secret.log", "etl/../../secret.log", "etl/notes.txt", "%2E%2E/secret.log"):
        unquoted = urllib.parse.unquote(path)
        status, reason = _get(f"{url}/log/{path}", sign(SECRET, unquoted))
        assert (status, reason) == (403, "path outside the log folder"), path
    assert (
        _get(
            f"{url}/log/{LOG.replace('extract', 'missing')}", sign(SECRET, LOG.replace("extract", "missing"))
        )[0]
        == 404
    )


def test_a_log_server_that_is_down_is_reported_in_one_line(tmp_path: Path):
    server = LogServer(tmp_path, SECRET, host="127.0.0.1", port=0)
    port = server.port
    server.stop()
    with pytest.raises(LogUnavailable, match=f"http://127.0.0.1:{port} cannot be reached"):
        fetch(f"http://127.0.0.1:{port}", LOG, SECRET, timeout=2)


def test_a_log_server_needs_a_secret_key(tmp_path: Path):
    with pytest.raises(ValueError, match="secret_key is empty"):
        LogServer(tmp_path, "", port=0)
    assert logserver.MAX_AGE <= 60  # a signed request is good for moments, not for ever
