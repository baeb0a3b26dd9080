"""``dagflow port``: rewrite the Airflow imports of DAG files into dagflow imports."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from dagflow.compat.port import PortResult, port_source


def _sources(srcs: tuple[Path, ...]) -> Iterator[tuple[Path, Path]]:
    """Each ``.py`` file to port, with its path relative to the SRC it was found under."""
    for src in srcs:
        if src.is_dir():
            for path in sorted(src.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    yield path, path.relative_to(src)
        else:
            yield src, Path(src.name)


def _diff(path: Path, result: PortResult) -> str:
    before = result.original.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    after = result.ported.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    old, new = (str(path), str(path)) if path.is_absolute() else (f"a/{path}", f"b/{path}")
    return "".join(difflib.unified_diff(before, after, old, new))


@click.command("port")
@click.argument(
    "srcs", metavar="SRC...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option("--write", is_flag=True, help="Rewrite the files in place.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the ported files under this folder (keeping paths relative to each SRC).",
)
def port(srcs: tuple[Path, ...], write: bool, out: Path | None) -> None:
    """Rewrite the Airflow imports of DAG files (files or folders) into dagflow imports.

    Without --write or --out, prints a unified diff. Every construct that cannot be mapped is
    listed as FILE:LINE on stderr; the exit status is 0 when everything was mapped, 1 otherwise.
    """
    if write and out is not None:
        raise click.UsageError("use either --write or --out DIR, not both")
    unmapped = 0
    for path, relative in _sources(srcs):
        result = port_source(path.read_bytes())
        if write:
            if result.changed:
                path.write_bytes(result.ported)
        elif out is not None:
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / relative).write_bytes(result.ported)
        elif result.changed:
            sys.stdout.write(_diff(path, result))
        for item in result.unmapped:
            construct = f" {item.construct}:" if item.construct else ""
            click.echo(f"{path}:{item.line}:{construct} not mapped: {item.reason}", err=True)
        unmapped += len(result.unmapped)
    if unmapped:
        click.echo(f"{unmapped} construct(s) could not be mapped to dagflow", err=True)
        sys.exit(1)
