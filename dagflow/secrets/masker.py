"""Masking secrets in what people see: task logs, rendered template fields, errors, the UI.

As in Airflow, every secret value fetched in this process (a Connection's password, a sensitive
extra, a Variable whose key looks secret) is remembered, and :func:`redact` replaces each occurrence
of one in a text with ``***``. Names are sensitive when they contain one of :data:`SENSITIVE_NAMES`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

MASK = "***"

#: Airflow's default sensitive field names: a key containing one of these holds a secret.
SENSITIVE_NAMES = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "secret",
        "token",
        "keyfile_dict",
        "service_account",
    }
)

#: Values shorter than this are not masked: masking "a" or "no" would garble every log line.
MIN_LENGTH = 5


def is_sensitive(name: str) -> bool:
    """Whether a Variable key, an extra's key or a field name names a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_NAMES)


class SecretsMasker:
    """The secrets of this process and a compiled pattern that finds any of them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: Any, name: str | None = None) -> None:
        """Remember ``value`` (a string, or the sensitive items of a dict) as a secret."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                if is_sensitive(str(key)) or isinstance(item, Mapping):
                    self.add(item)
            return
        if isinstance(value, (list, tuple)):
            for item in value:
                self.add(item, name)
            return
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            return
        with self._lock:
            found = {value, quote(value, safe=""), *value.splitlines()} - self._secrets
            found = {s for s in found if len(s) >= MIN_LENGTH}
            if found:
                self._secrets |= found
                ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, value: Any) -> Any:
        """``value`` with every secret replaced by ``***``: strings, and strings in dicts, lists, tuples."""
        pattern = self._pattern
        if pattern is None:
            return value
        return _redact(value, pattern)

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._pattern = None


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if isinstance(value, dict):
        return {k: _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v, pattern) for v in value)
    return value


_masker = SecretsMasker()


def mask_secret(value: Any, name: str | None = None) -> None:
    """Mask ``value`` from now on in this process's task logs and rendered fields (Airflow's
    ``mask_secret``)."""
    _masker.add(value, name)


def redact(value: Any) -> Any:
    return _masker.redact(value)


def masker() -> SecretsMasker:
    return _masker
