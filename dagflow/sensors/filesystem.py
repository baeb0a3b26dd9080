"""FileSensor: waits for a file, or a folder with a file in it, to appear."""

from __future__ import annotations

import glob
import os
from typing import TYPE_CHECKING, Any

from dagflow.exceptions import DagDefinitionError
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    from dagflow.context import Context

#: The only connection a FileSensor accepts: Airflow's default, whose base path is empty.
DEFAULT_FS_CONN_ID = "fs_default"


def path_has_file(pattern: str, *, recursive: bool = False) -> str | None:
    """The first file that ``pattern`` (a path or a glob) matches, or that lies anywhere inside a
    folder it matches; None if there is none yet."""
    for match in sorted(glob.glob(pattern, recursive=recursive)):
        if os.path.isfile(match):
            return match
        for folder, _dirs, files in os.walk(match):
            if files:
                return os.path.join(folder, sorted(files)[0])
    return None


class FileSensor(BaseSensorOperator):
    """Waits until ``filepath`` exists: a file, or a folder holding at least one file (at any depth).

    ``filepath`` is templated and may be a glob pattern (``data/*.csv``); with ``recursive=True``,
    ``**`` matches any number of folders. A relative path is relative to the worker's working
    directory. dagflow has no connections: ``fs_conn_id`` may only be ``"fs_default"`` (Airflow's
    default, whose base path is empty), kept so that Airflow DAG files run unchanged.
    ``deferrable=True`` (Airflow's trigger-based wait) is accepted: the sensor waits as its ``mode`` says.
    """

    template_fields = ("filepath",)
    ui_color = "#91818a"

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str],
        fs_conn_id: str = DEFAULT_FS_CONN_ID,
        recursive: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if fs_conn_id != DEFAULT_FS_CONN_ID:
            raise DagDefinitionError(
                f"{self._where()}: dagflow has no connections, so fs_conn_id can only be "
                f"{DEFAULT_FS_CONN_ID!r}; put the base path into filepath instead"
            )
        self.filepath = os.fspath(filepath)
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive
        self.deferrable = deferrable

    def poke(self, context: Context) -> bool:
        self.log.info("Poking for file %s", self.filepath)
        found = path_has_file(str(self.filepath), recursive=self.recursive)
        if found is not None:
            self.log.info("Found file %s", found)
        return found is not None
