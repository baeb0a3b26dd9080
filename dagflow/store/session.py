"""The session type the store's functions take, for callers that must not import SQLAlchemy themselves."""

from __future__ import annotations

from sqlalchemy.orm import Session

__all__ = ["Session"]
