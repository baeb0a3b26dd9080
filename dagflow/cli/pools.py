"""``dagflow pools``: list, set and delete pools."""

from __future__ import annotations

import click

from dagflow.cli.common import act, open_database
from dagflow.cli.output import emit, json_alias, output_option

COLUMNS = ["name", "slots", "used", "description"]


@click.group()
def pools() -> None:
    """Pools: named numbers of slots that limit how many task instances using them run at once."""


@pools.command("list")
@output_option
@json_alias
def pools_list(output: str) -> None:
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
    emit(rows, output, COLUMNS)


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
