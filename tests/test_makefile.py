"""``make run`` installs only what running needs; ``make test``, ``lint`` and ``unit`` add the test tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str) -> list[str]:
    """The pip installs ``make TARGET`` would run on a fresh clone (``-B``: as if nothing were set up)."""
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return [line.split("install --quiet ")[1] for line in done.stdout.splitlines() if "pip install" in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_installs_the_project_without_its_test_extras():
    assert planned("run") == ["--upgrade pip", "-e ."]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("target", ["test", "lint", "unit", "setup"])
def test_the_test_targets_add_the_test_extras(target):
    assert planned(target) == ["--upgrade pip", "-e .", "-e '.[test]'"]
