"""Puts ``dagflow-airflow.pth`` in site-packages with the package (everything else is in pyproject.toml).

The ``.pth`` lets ``python my_dag.py`` import ``airflow`` (see ``_dagflow_airflow.py``). A wheel's
root is installed into site-packages, so the file goes to the root of the built wheel: ``build_py``
copies it to the top of ``build_lib`` (the usual way setuptools projects ship a ``.pth``), and, as an
editable wheel (``pip install -e .``, which ``make setup`` runs) is made of a few generated files
rather than ``build_lib``, ``editable_wheel`` adds it to the wheel it made, with its RECORD line, so
pip installs and uninstalls it like any file of the package.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "dagflow-airflow.pth"
SOURCE = Path(__file__).resolve().parent / PTH


class build_py_with_pth(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self.copy_file(str(SOURCE), str(Path(self.build_lib, PTH)), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PTH))]

    def get_source_files(self) -> list[str]:
        return [*super().get_source_files(), PTH]


class editable_wheel_with_pth(editable_wheel):
    def run(self) -> None:
        super().run()
        wheel = max(Path(self.dist_dir).glob("*.whl"), key=lambda path: path.stat().st_mtime)
        add_to_wheel(wheel, PTH, SOURCE.read_bytes())


def add_to_wheel(wheel: Path, name: str, data: bytes) -> None:
    """``wheel`` with the file ``name`` added at its root and listed in its RECORD (PEP 427)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rebuilt = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as new:
        new.writestr(name, data)
        for item in old.infolist():
            content = old.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                content += f"{name},sha256={digest},{len(data)}\n".encode()
            new.writestr(item, content)
    rebuilt.replace(wheel)


setup(cmdclass={"build_py": build_py_with_pth, "editable_wheel": editable_wheel_with_pth})
