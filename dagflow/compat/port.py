"""``dagflow port``: Airflow imports rewritten to dagflow imports, every other byte kept.

The rewrite works on the positions ``ast`` gives each import statement (and ``tokenize`` gives the
module name inside it), never on a pattern over the whole file, so code, comments, strings and line
endings outside the imports are left exactly as they were. It uses the same table as the import
layer: a name is mapped when its row exists *and* its dagflow target can be imported. Everything it
cannot map is reported with its line, and left in the file as it was.
"""

from __future__ import annotations

import ast
import codecs
import io
import tokenize
from dataclasses import dataclass, field

from dagflow.compat import table
from dagflow.compat.finder import load_target


@dataclass(frozen=True)
class Unmapped:
    """A construct of a file that ``port`` could not turn into dagflow."""

    line: int
    construct: str
    reason: str


@dataclass
class PortResult:
    original: bytes
    ported: bytes
    unmapped: list[Unmapped] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.original != self.ported


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: bytes


def port_source(source: bytes) -> PortResult:
    """``source`` with its Airflow imports rewritten, and what could not be."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        reason = f"the file does not parse: {exc.msg}"
        return PortResult(source, source, [Unmapped(exc.lineno or 1, "", reason)])
    lines = _LineOffsets(source)
    edits: list[_Edit] = []
    unmapped: list[Unmapped] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_airflow(node.module or ""):
            edits.extend(_port_from_import(node, source, lines, unmapped))
        elif isinstance(node, ast.Import):
            unmapped.extend(_module_imports(node))
    ported = _apply(source, edits)
    return PortResult(source, ported, sorted(unmapped, key=lambda u: u.line))


def _is_airflow(module: str) -> bool:
    return module == "airflow" or module.startswith("airflow.")


def _module_imports(node: ast.Import) -> list[Unmapped]:
    return [
        Unmapped(
            node.lineno,
            f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""),
            "module imports are not rewritten: import the names you use with `from ... import ...`",
        )
        for alias in node.names
        if _is_airflow(alias.name)
    ]


def _mapping(module: str, alias: ast.alias) -> tuple[table.Target | None, str]:
    """The dagflow target of one imported name, or None and why not."""
    if alias.name == "*":
        return None, "star imports are not rewritten: import the names you use"
    target = table.target_of(module, alias.name)
    if target is None:
        if table.is_known_module(f"{module}.{alias.name}"):
            return None, "importing a module is not rewritten: import the names you use from it"
        return None, "dagflow has no equivalent"
    try:
        load_target(target)
    except LookupError:
        return None, f"its dagflow equivalent {target} does not exist in this version"
    return target, ""


def _port_from_import(
    node: ast.ImportFrom, source: bytes, lines: _LineOffsets, unmapped: list[Unmapped]
) -> list[_Edit]:
    module = node.module or ""
    mapped: list[tuple[ast.alias, table.Target]] = []
    kept: list[ast.alias] = []
    for alias in node.names:
        target, reason = _mapping(module, alias)
        if target is None:
            kept.append(alias)
            unmapped.append(Unmapped(node.lineno, f"from {module} import {_alias_text(alias)}", reason))
        else:
            mapped.append((alias, target))
    if not mapped:
        return []
    modules = {target.module for _, target in mapped}
    if not kept and len(modules) == 1 and all(t.attr for _, t in mapped):
        return _edit_in_place(node, mapped, source, lines)
    return [_replace_statement(node, mapped, kept, module, source, lines)]


def _alias_text(alias: ast.alias) -> str:
    return alias.name + (f" as {alias.asname}" if alias.asname else "")


def _edit_in_place(
    node: ast.ImportFrom, mapped: list[tuple[ast.alias, table.Target]], source: bytes, lines: _LineOffsets
) -> list[_Edit]:
    """One dagflow module for every name: change the module name and renamed names only, so the
    statement's layout and comments stay."""
    start = lines.offset(node.lineno, node.col_offset)
    end = lines.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
    module_start, module_end = _module_span(source[start:end])
    edits = [_Edit(start + module_start, start + module_end, mapped[0][1].module.encode())]
    for alias, target in mapped:
        if target.attr != alias.name:
            text = f"{target.attr} as {alias.asname or alias.name}"
            alias_start = lines.offset(alias.lineno, alias.col_offset)
            alias_end = lines.offset(alias.end_lineno or alias.lineno, alias.end_col_offset or 0)
            edits.append(_Edit(alias_start, alias_end, text.encode()))
    return edits


def _module_span(statement: bytes) -> tuple[int, int]:
    """Byte offsets, within a ``from X import ...`` statement, of ``X`` (ASCII, as Airflow's module
    names are, so tokenize's character columns are byte columns)."""
    offsets = _LineOffsets(statement)
    positions: list[int] = []
    for token in tokenize.tokenize(io.BytesIO(statement).readline):
        if token.type == tokenize.NAME and token.string == "import":
            break
        if token.type in (tokenize.NAME, tokenize.OP) and token.string != "from":
            positions += [offsets.offset(*token.start), offsets.offset(*token.end)]
    return positions[0], positions[-1]


def _replace_statement(
    node: ast.ImportFrom,
    mapped: list[tuple[ast.alias, table.Target]],
    kept: list[ast.alias],
    module: str,
    source: bytes,
    lines: _LineOffsets,
) -> _Edit:
    """The statement rewritten as one import per dagflow module (plus the Airflow names kept)."""
    by_module: dict[str, list[str]] = {}
    statements: list[str] = []
    for alias, target in mapped:
        name = alias.asname or alias.name
        if target.attr is None:
            statements.append(f"import {target.module} as {name}")
        else:
            by_module.setdefault(target.module, []).append(
                target.attr if target.attr == name else f"{target.attr} as {name}"
            )
    statements[:0] = [f"from {mod} import {', '.join(names)}" for mod, names in by_module.items()]
    if kept:
        statements.append(f"from {module} import {', '.join(_alias_text(a) for a in kept)}")
    start = lines.offset(node.lineno, node.col_offset)
    end = lines.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
    return _Edit(start, end, lines.separator(node.lineno, node.col_offset).join(statements).encode())


def _apply(source: bytes, edits: list[_Edit]) -> bytes:
    out = bytearray(source)
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        out[edit.start : edit.end] = edit.text
    return bytes(out)


class _LineOffsets:
    """Turns ``(line, UTF-8 column)`` positions, as ``ast`` and ``tokenize`` give them, into byte offsets."""

    def __init__(self, source: bytes):
        self.source = source
        self.starts = [0]
        for line in source.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        # Python reads past a UTF-8 byte order mark: columns of the first line start after it.
        if source.startswith(codecs.BOM_UTF8):
            self.starts[0] = len(codecs.BOM_UTF8)

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def separator(self, line: int, column: int) -> str:
        """What joins two statements put where one was: a new line at the same indentation when
        the statement starts its line, else ``; ``."""
        start = self.starts[line - 1]
        before = self.source[start : start + column]
        if before.strip():
            return "; "
        text = self.source[start : self.starts[line]] if line < len(self.starts) else b"\n"
        newline = "\r\n" if text.endswith(b"\r\n") else "\n"
        return newline + before.decode()
