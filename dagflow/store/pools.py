"""Pools: named numbers of slots that limit how many task instances using them run at once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagflow.store.models import PoolRow
from dagflow.store.notify import wake_after_commit


def list_pools(session: Session) -> list[PoolRow]:
    """Every pool, by name."""
    return list(session.scalars(select(PoolRow).order_by(PoolRow.name)))


def get_pool(session: Session, *, name: str) -> PoolRow | None:
    return session.get(PoolRow, name)


def set_pool(session: Session, *, name: str, slots: int, description: str | None = None) -> PoolRow:
    """Create the pool or change its slots (and its description, when one is given).

    More slots can let waiting task instances start, so the schedulers are woken after the commit.
    """
    pool = session.get(PoolRow, name)
    if pool is None:
        pool = PoolRow(name=name, slots=slots, description=description)
        session.add(pool)
    else:
        pool.slots = slots
        if description is not None:
            pool.description = description
    wake_after_commit(session)
    return pool


def delete_pool(session: Session, *, name: str) -> bool:
    """Delete the pool; False if there is none of that name."""
    pool = session.get(PoolRow, name)
    if pool is None:
        return False
    session.delete(pool)
    return True
