"""Users and API tokens of the web UI and the API, in the store.

Passwords are stored as salted hashes (werkzeug's scrypt); tokens as their SHA-256, so neither can
be read back from the database.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from dagflow.exceptions import DagflowError
from dagflow.store.models import ApiTokenRow, UserRow

ROLES = ("admin", "op", "viewer")
#: What each role may do: viewers read, ops also act on DAGs and runs, admins also manage users and pools.
ROLE_RANK = {"viewer": 0, "op": 1, "admin": 2}


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(user: UserRow, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    session: Session, username: str, password: str, role: str, *, now: datetime, email: str | None = None
) -> UserRow:
    """Add a user; refuse an unknown role, an empty password or a name already taken."""
    if role not in ROLES:
        raise DagflowError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not username or len(username) > 250 or username != username.strip():
        raise DagflowError("a user name must be 1 to 250 characters without surrounding spaces")
    if len(password) < 8:
        raise DagflowError("a password needs at least 8 characters")
    if find_user(session, username) is not None:
        raise DagflowError(f"user {username!r} exists already")
    user = UserRow(
        username=username,
        password_hash=hash_password(password),
        role=role,
        email=email,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.username == username)).first()


def has_users(session: Session) -> bool:
    """Whether any user exists (the first start of ``standalone`` creates the admin)."""
    return session.scalar(select(UserRow.id).limit(1)) is not None


def list_users(session: Session) -> list[UserRow]:
    """Every user, by name."""
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def delete_user(session: Session, *, user: UserRow) -> None:
    """Delete the user and, with it, their API tokens."""
    session.delete(user)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: UserRow, name: str, *, now: datetime) -> str:
    """A new API token for ``user``; the token itself is returned once and never stored."""
    token = "dft_" + secrets.token_urlsafe(32)
    session.add(
        ApiTokenRow(user_id=user.id, name=name or "token", token_hash=token_hash(token), created_at=now)
    )
    return token


def user_for_token(session: Session, token: str, *, now: datetime) -> UserRow | None:
    row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash(token))).first()
    if row is None:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = now
    return user
