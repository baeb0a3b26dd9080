"""BashOperator: run a Bash command or script; its last line of output becomes the XCom."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dagflow.exceptions import DagflowError, SkipTask
from dagflow.models.baseoperator import BaseOperator

if TYPE_CHECKING:
    from dagflow.context import Context

SCRIPT_EXTENSIONS = (".sh", ".bash")


def context_env(context: Context) -> dict[str, str]:
    """``DAGFLOW_CTX_*`` variables for subprocesses, also as ``AIRFLOW_CTX_*`` for ported scripts."""
    ti, dag_run = context["ti"], context["dag_run"]
    values = {
        "DAG_ID": ti.dag_id,
        "TASK_ID": ti.task_id,
        "TRY_NUMBER": str(ti.try_number),
        "DAG_RUN_ID": dag_run.run_id,
        "DAG_OWNER": str(getattr(context["task"], "owner", "") or ""),
        "LOGICAL_DATE": dag_run.logical_date.isoformat() if dag_run.logical_date else "",
    }
    env = {}
    for name, value in values.items():
        if value:
            env[f"DAGFLOW_CTX_{name}"] = value
            env[f"AIRFLOW_CTX_{name}"] = value
    return env


class BashOperator(BaseOperator):
    """Runs ``bash_command`` with ``bash -c`` (or, if it ends in ``.sh``/``.bash``, the rendered script file).

    ``env`` replaces the environment unless ``append_env=True``; stderr is merged into stdout, every
    line goes to the log and the last one is pushed as XCom. A non-zero exit fails the try; an exit
    code in ``skip_on_exit_code`` (99 by default) skips the task.
    """

    template_fields: ClassVar[Sequence[str]] = ("bash_command", "env", "cwd")
    template_ext = SCRIPT_EXTENSIONS
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] = lambda output: output,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            self.skip_on_exit_code: Container[int] = ()
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = (skip_on_exit_code,)
        else:
            self.skip_on_exit_code = skip_on_exit_code
        self.cwd = cwd
        self.output_processor = output_processor
        self._is_script = isinstance(bash_command, str) and bash_command.endswith(SCRIPT_EXTENSIONS)
        self._process: subprocess.Popen[bytes] | None = None

    def execute(self, context: Context) -> Any:
        if self.cwd is not None:
            if not os.path.exists(self.cwd):
                raise DagflowError(f"task {self.task_id!r}: cwd {self.cwd!r} does not exist")
            if not os.path.isdir(self.cwd):
                raise DagflowError(f"task {self.task_id!r}: cwd {self.cwd!r} is not a directory")
        env = self._environment(context)
        with tempfile.TemporaryDirectory(prefix="dagflowtmp") as scratch:
            workdir = self.cwd or scratch
            command = self._command(workdir)
            returncode, last_line = self._run(command, workdir, env)
        if returncode in self.skip_on_exit_code:
            raise SkipTask(f"Bash command returned exit code {returncode}. Skipping.")
        if returncode != 0:
            raise DagflowError(
                f"Bash command failed. The command returned a non-zero exit code {returncode}."
            )
        return self.output_processor(last_line)

    def _environment(self, context: Context) -> dict[str, str]:
        if self.env is None:
            env = os.environ.copy()
        elif self.append_env:
            env = {**os.environ, **self.env}
        else:
            env = dict(self.env)
        env.update(context_env(context))
        return env

    def _command(self, workdir: str) -> list[str]:
        bash = shutil.which("bash") or "bash"
        if not self._is_script:
            return [bash, "-c", self.bash_command]
        with tempfile.NamedTemporaryFile("w", suffix=".sh", dir=workdir, delete=False) as script:
            script.write(self.bash_command)
        return [bash, os.path.basename(script.name)]

    def _run(self, command: list[str], workdir: str, env: dict[str, str]) -> tuple[int, str]:
        self.log.info("Running command: %s", command)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
        self._process = process
        last_line = ""
        assert process.stdout is not None
        with process.stdout:  # closed however the attempt ends (a stopped attempt raises here)
            for raw in iter(process.stdout.readline, b""):
                last_line = raw.decode(self.output_encoding, "backslashreplace").rstrip()
                print(last_line)
        process.wait()
        self.log.info("Command exited with return code %s", process.returncode)
        return process.returncode, last_line

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            self.log.info("Sending SIGTERM to the command's process group")
            os.killpg(os.getpgid(process.pid), signal.SIGTERM)
