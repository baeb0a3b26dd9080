"""Python virtual environments for PythonVirtualenvOperator: built with the interpreter's ``venv``
module, cached by what they contain, and the script that calls a task's function inside one.

A cached environment lives in ``<cache root>/<hash>`` where the hash covers the sorted requirements,
the pip options and index URLs, ``system_site_packages`` and the Python version. It is built under a
file lock (several workers may want it at once) and counts as built only once its marker file is
written, so a build that failed halfway is thrown away and built again.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagflow.exceptions import DagflowError

MARKER = "install_complete_marker.json"


@dataclass(frozen=True)
class VenvSpec:
    """What a virtual environment is built from."""

    python: str
    python_version: str
    requirements: tuple[str, ...]
    system_site_packages: bool
    pip_install_options: tuple[str, ...] = ()
    index_urls: tuple[str, ...] = ()

    def key_text(self) -> str:
        return json.dumps(
            {
                "requirements_list": list(self.requirements),
                "pip_install_options": list(self.pip_install_options),
                "index_urls": list(self.index_urls),
                "python_version": self.python_version,
                "system_site_packages": self.system_site_packages,
            },
            sort_keys=True,
        )

    def key(self) -> str:
        return hashlib.sha256(self.key_text().encode()).hexdigest()[:16]


def requirement_lines(requirements: Sequence[str]) -> tuple[str, ...]:
    """Each requirement once, sorted, without blank lines and comments (an entry may hold several
    lines: a rendered requirements file)."""
    lines = set()
    for entry in requirements:
        for raw in str(entry).splitlines():
            line = raw.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.add(line)
    return tuple(sorted(lines))


def interpreter(python_version: str | None, where: str) -> tuple[str, str]:
    """The interpreter to build with and its version: this one, or ``python<python_version>``."""
    if not python_version:
        return sys.executable, ".".join(map(str, sys.version_info[:3]))
    found = shutil.which(f"python{python_version}")
    if found is None:
        raise DagflowError(f"{where}: python_version {python_version!r}: no python{python_version} on PATH")
    return found, str(python_version)


def python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(cache_root: Path, spec: VenvSpec, log: Any) -> Path:
    """The cached environment for ``spec``, built first if it is missing or was left half-built."""
    venv = cache_root / spec.key()
    marker = venv / MARKER
    text = spec.key_text()
    if marker.is_file() and marker.read_text(encoding="utf-8") == text:  # the common case: no lock
        log.info("Reusing cached Python virtual environment in %s", venv)
        return venv
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text(encoding="utf-8") == text:
            return venv  # another worker built it while this one waited
        if venv.exists():
            log.warning("Removing a partly built virtual environment in %s", venv)
            shutil.rmtree(venv)
        try:
            build_venv(venv, spec, log)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        marker.write_text(text, encoding="utf-8")
    log.info("New Python virtual environment created in %s", venv)
    return venv


def build_venv(venv: Path, spec: VenvSpec, log: Any) -> None:
    """Create the environment without pip (fast), then install the requirements into it."""
    command = [spec.python, "-m", "venv", "--without-pip"]
    if spec.system_site_packages:
        command.append("--system-site-packages")
    _run([*command, str(venv)], "create the virtual environment", log)
    if not spec.requirements:
        return
    requirements_file = venv / "requirements.txt"
    requirements_file.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
    index_options: list[str] = []
    for number, url in enumerate(spec.index_urls):
        index_options += ["--index-url" if number == 0 else "--extra-index-url", url]
    install = [*index_options, *spec.pip_install_options, "-r", str(requirements_file)]
    _run([*_pip(venv, log), "install", *install], "install the requirements", log)


def _pip(venv: Path, log: Any) -> list[str]:
    """This interpreter's pip aimed at the environment, else the environment's own pip (ensurepip)."""
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip", "--python", str(python_in(venv))]
    _run([str(python_in(venv)), "-m", "ensurepip", "--upgrade"], "install pip", log)
    return [str(python_in(venv)), "-m", "pip"]


def _run(command: list[str], what: str, log: Any) -> None:
    log.info("Running %s", " ".join(command))
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in done.stdout.splitlines():
        log.info("%s", line)
    if done.returncode != 0:
        tail = done.stdout.strip().splitlines()[-1:] or [""]
        raise DagflowError(f"could not {what} (exit code {done.returncode}): {tail[0]}")


def function_source(function: Callable[..., Any], where: str) -> str:
    """The function's own source from its ``def`` line: its decorators (``@task.virtualenv``) are left
    out, since they mean nothing where the function runs."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise DagflowError(f"{where}: cannot read the source of {function.__name__!r}: {exc}") from None
    tree = ast.parse(source)
    node = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
        None,
    )
    if node is None:
        raise DagflowError(f"{where}: the source of {function.__name__!r} holds no function definition")
    return "\n".join(source.splitlines()[node.lineno - 1 :]) + "\n"


SCRIPT = """\
import sys

import {serializer} as _dagflow_serializer

with open(sys.argv[3], encoding="utf-8") as _dagflow_file:
    virtualenv_string_args = [line.strip() for line in _dagflow_file]

{source}

def _dagflow_main():
    with open(sys.argv[1], "rb") as file:
        data = file.read()
    arguments = _dagflow_serializer.loads(data) if data else {{"args": [], "kwargs": {{}}}}
    try:
        result = {name}(*arguments["args"], **arguments["kwargs"])
    except Exception as exc:
        with open(sys.argv[4], "w", encoding="utf-8") as file:
            file.write(f"{{type(exc).__name__}}: {{exc}}")
        raise
    with open(sys.argv[2], "wb") as file:
        if result is not None:
            file.write(_dagflow_serializer.dumps(result))


if __name__ == "__main__":
    _dagflow_main()
"""


def write_script(path: Path, function: Callable[..., Any], serializer: str, where: str) -> None:
    """The script that loads the arguments, calls the function and writes its result."""
    source = function_source(function, where)
    path.write_text(SCRIPT.format(serializer=serializer, source=source, name=function.__name__))


def run_script(
    command: list[str], env: dict[str, str], started: Callable[[subprocess.Popen[bytes]], None]
) -> int:
    """Run the script, its output (stdout and stderr) going to the task's log line by line;
    ``started`` is told the process (so that stopping the task can stop it)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    started(process)
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        print(raw.decode("utf-8", "backslashreplace").rstrip())
    return process.wait()


def default_cache_root() -> Path:
    """``$DAGFLOW_HOME/venvs``, read when a task runs (never at import)."""
    from dagflow.config import dagflow_home

    return dagflow_home(os.environ) / "venvs"
