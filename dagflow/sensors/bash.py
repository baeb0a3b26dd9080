"""BashSensor: pokes by running a Bash command; the wait is over when it exits 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.exceptions import FailTask
from dagflow.sensors.base import BaseSensorOperator

if TYPE_CHECKING:
    from dagflow.context import Context


class BashSensor(BaseSensorOperator):
    """Runs ``bash_command`` (a command or a ``.sh`` script's text) at each poke, in a scratch directory.

    Exit code 0 ends the wait. Any other code means "not yet", unless ``retry_exit_code`` is set: then
    only that code means "not yet" and any other fails the task at once. ``env``, when given, replaces
    the environment of the command.
    """

    template_fields: ClassVar[Sequence[str]] = ("bash_command", "env")

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        output_encoding: str = "utf-8",
        retry_exit_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code

    def poke(self, context: Context) -> bool:
        with tempfile.TemporaryDirectory(prefix="dagflowtmp") as scratch:
            script = os.path.join(scratch, f"{self.task_id}.sh")
            with open(script, "w", encoding="utf-8") as handle:
                handle.write(self.bash_command)
            self.log.info("Running command: %s", self.bash_command)
            returncode = self._run(script, scratch)
        self.log.info("Command exited with return code %s", returncode)
        if returncode == 0:
            return True
        if self.retry_exit_code is None or returncode == self.retry_exit_code:
            self.log.info("Not done yet: will poke again")
            return False
        raise FailTask(f"Command exited with return code {returncode}")

    def _run(self, script: str, cwd: str) -> int:
        bash = shutil.which("bash") or "bash"
        process = subprocess.Popen(
            [bash, script],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=self.env,
            start_new_session=True,
        )
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            self.log.info("%s", raw.decode(self.output_encoding, "backslashreplace").rstrip())
        return process.wait()
