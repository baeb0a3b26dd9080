"""Encryption at rest of Variable values and Connection passwords and extras, with Fernet.

As in Airflow: ``[core] fernet_key`` holds one key, or several separated by commas (the first
encrypts, any of them decrypts: a key can be rotated). With no key set, values are stored in
plain text and marked unencrypted — Airflow's behaviour too, for a first local try — and a value
stored encrypted cannot be read back until the key is set again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagflow.exceptions import FernetKeyError


@dataclass(frozen=True)
class Sealed:
    """A value as stored: its text, and whether that text is a Fernet token."""

    text: str | None
    encrypted: bool


class FernetCodec:
    """Encrypts and decrypts with the configured key(s); without one, passes text through."""

    def __init__(self, key_setting: str | None):
        keys = [k.strip() for k in (key_setting or "").split(",") if k.strip()]
        self._fernet = _multi_fernet(keys) if keys else None

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, value: str | None) -> Sealed:
        if value is None or value == "" or self._fernet is None:
            return Sealed(value, False)
        return Sealed(self._fernet.encrypt(value.encode("utf-8")).decode("ascii"), True)

    def open(self, sealed: Sealed, what: str) -> str | None:
        """The plain text of a stored value; ``what`` names it in the error if it cannot be decrypted."""
        if not sealed.encrypted or sealed.text is None:
            return sealed.text
        if self._fernet is None:
            raise FernetKeyError(
                f"{what} is stored encrypted but [core] fernet_key is not set: set it to the key it was "
                "stored with (DAGFLOW__CORE__FERNET_KEY)"
            )
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed.text.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise FernetKeyError(
                f"{what} cannot be decrypted: [core] fernet_key is not the key it was stored with "
                "(to rotate keys, set fernet_key to 'NEW_KEY,OLD_KEY')"
            ) from None


def _multi_fernet(keys: list[str]) -> Any:
    from cryptography.fernet import Fernet, MultiFernet

    fernets = []
    for position, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise FernetKeyError(
                f"[core] fernet_key: key {position} is not a valid Fernet key (32 url-safe base64-encoded "
                "bytes); make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
    return MultiFernet(fernets)


def generate_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")
