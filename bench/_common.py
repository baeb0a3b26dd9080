"""What the benchmark scripts share: the machine's description, timing helpers, markdown tables."""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: The ``dagflow`` console script of the interpreter running the benchmark (the repo's .venv).
DAGFLOW = str(Path(sys.executable).with_name("dagflow"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """One line naming what the figures were measured on."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"nproc={cpus}, CPU {cpu_model()}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def dagflow_source() -> Path:
    """Where the ``dagflow`` package the benchmarks run comes from (found without importing it)."""
    spec = importlib.util.find_spec("dagflow")
    if spec is None or spec.origin is None:
        raise SystemExit("dagflow is not importable: run with the repository's .venv/bin/python")
    return Path(spec.origin).resolve().parent


def revision() -> str:
    """The dagflow commit measured, and whether the package had uncommitted changes."""
    checkout = dagflow_source().parent

    def git(*args: str) -> str:
        command = ["git", "-C", str(checkout), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()

    try:
        commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "dagflow")
    except OSError:
        return f"unknown ({checkout})"
    changes = " + uncommitted changes in dagflow/" if dirty else ""
    return f"{commit or 'unknown'}{changes} ({checkout})"


def header() -> str:
    """The lines that open a benchmark's report: the command, the machine, the code measured."""
    return f"Command: `{command_line()}`  \nMachine: {machine()}  \ndagflow revision: {revision()}\n"


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def clean_environment() -> dict[str, str]:
    """This environment minus what would stop Python from writing or reading bytecode caches.

    (Some sandboxes set PYTHONDONTWRITEBYTECODE; with it every "warm" start would compile again.)
    """
    dropped = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def time_command(command: Sequence[str], *, expect: int = 0) -> float:
    """Wall-clock seconds of one run of ``command`` (output discarded); exits on an unexpected return code."""
    env = clean_environment()
    start = time.perf_counter()
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tempfile.gettempdir(),  # not the repository, whose dagflow ``python -c`` would import first
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return elapsed


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def command_line() -> str:
    """How this script was run, relative to the repository, for RESULTS.md."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    pythonpath = f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else ""
    return pythonpath + " ".join([".venv/bin/python", str(shown), *sys.argv[1:]])
