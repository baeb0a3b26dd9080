"""``dagflow pools``: list, set and delete pools."""

from __future__ import annotations

import click

from dagflow.cli.common import act, echo_json, open_database, table


@click.group()
def pools() -> None:
    """Pools: named numbers of slots that limit how many task instances using them run at once."""


@pools.command("list")
@click.option("--json", "as_json", is_flag=True)
def pools_list(as_json: bool) -> None:
    """List pools with their slots and how many are in use."""
    from dagflow.store.pools import list_pools
    from dagflow.store.scheduling import busy as busy_counts

    with open_database().session() as session:
        busy = busy_counts(session)
        rows = [
            {
                "name": p.name,
                "slots": p.slots,
                "used": busy.pool_slots.get(p.name, 0),
                "description": p.description,
            }
            for p in list_pools(session)
        ]
    if as_json:
        echo_json(rows)
    else:
        columns = ["name", "slots", "used", "description"]
        table(columns, [[r[c] for c in columns] for r in rows])


@pools.command("set")
@click.argument("name")
@click.argument("slots", type=int)
@click.option("--description")
def pools_set(name: str, slots: int, description: str | None) -> None:
    """Create pool NAME with SLOTS slots, or change its slots."""
    from dagflow import actions

    act(actions.set_pool, name, slots, description=description, owner="cli")
    click.echo(f"Pool {name}: {slots} slot(s).")


@pools.command("delete")
@click.argument("name")
def pools_delete(name: str) -> None:
    """Delete pool NAME."""
    from dagflow import actions

    act(actions.delete_pool, name, owner="cli")
    click.echo(f"Pool {name} deleted.")
