"""``dagflow port``: Airflow imports rewritten to dagflow imports, every other byte kept.

The rewrite works on the positions ``ast`` gives each import statement (and ``tokenize`` gives the
module name inside it), never on a pattern over the whole file, so code, comments, strings and line
endings outside the imports are left exactly as they were. It uses the same table as the import
layer: a name is mapped when its row exists *and* its dagflow target can be imported. A module
imported under a name (``import airflow.x as x``, ``from airflow import models``) is mapped to the
dagflow module whose attributes are the very objects the file reads through that name, so only the
import changes. Everything it cannot map is reported with its line, and left in the file as it was.
"""

from __future__ import annotations

import ast
import codecs
import importlib
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
    uses = _Uses.of(tree)
    edits: list[_Edit] = []
    unmapped: list[Unmapped] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_airflow(node.module or ""):
            edits.extend(_port_from_import(node, source, lines, uses, unmapped))
        elif isinstance(node, ast.Import):
            edits.extend(_port_module_import(node, lines, uses, unmapped))
    ported = _apply(source, edits)
    return PortResult(source, ported, sorted(unmapped, key=lambda u: u.line))


def _is_airflow(module: str) -> bool:
    return module == "airflow" or module.startswith("airflow.")


@dataclass(frozen=True)
class _Uses:
    """How the file reads names: as ``NAME.attr`` (``attributes``), any other way (``bare``), at all
    (``loaded``)."""

    attributes: dict[str, set[str]]
    bare: set[str]
    loaded: set[str]

    @classmethod
    def of(cls, tree: ast.AST) -> _Uses:
        attributes: dict[str, set[str]] = {}
        through: set[int] = set()  # the Name nodes read as `NAME.attr`
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name)
            ):
                attributes.setdefault(node.value.id, set()).add(node.attr)
                through.add(id(node.value))
        names = [node for node in ast.walk(tree) if isinstance(node, ast.Name)]
        bare = {node.id for node in names if id(node) not in through}
        return cls(attributes, bare, {node.id for node in names})


def _port_module_import(
    node: ast.Import, lines: _LineOffsets, uses: _Uses, unmapped: list[Unmapped]
) -> list[_Edit]:
    """``import airflow.x as name`` becomes ``import dagflow.y as name`` when one dagflow module
    holds everything the file reads as ``name.NAME``."""
    edits = []
    for alias in node.names:
        if not _is_airflow(alias.name):
            continue
        target, reason = _aliased_module(alias, uses)
        if target is None:
            unmapped.append(Unmapped(node.lineno, f"import {_alias_text(alias)}", reason))
            continue
        start = lines.offset(alias.lineno, alias.col_offset)
        end = lines.offset(alias.end_lineno or alias.lineno, alias.end_col_offset or 0)
        edits.append(_Edit(start, end, f"{target.module} as {alias.asname}".encode()))
    return edits


def _aliased_module(alias: ast.alias, uses: _Uses) -> tuple[table.Target | None, str]:
    if alias.asname is None:
        how = f"import the names you use with `from {alias.name} import ...`"
        return None, f"a module imported under its Airflow name is not rewritten: {how}"
    if not table.is_known_module(alias.name):
        return None, "dagflow has no equivalent"
    return _module_target(alias.name, alias.asname, uses)


def _module_target(module: str, local: str, uses: _Uses) -> tuple[table.Target | None, str]:
    """The dagflow module to import as ``local`` for the Airflow module ``module``: the one whose
    attributes are the objects every ``local.NAME`` of the file stands for; or None and why not."""
    names = sorted(uses.attributes.get(local, ()))
    how = f"import by name what you use of it (`from {module} import {', '.join(names) or '...'}`)"
    if local in uses.bare:
        return None, f"`{local}` is used other than as `{local}.NAME`: {how}"
    if not names:
        return None, f"`{local}` is never read: remove the import"
    objects: dict[str, object] = {}
    for name in names:
        target = table.target_of(module, name)
        if target is None:
            return None, f"`{local}.{name}`: dagflow has no equivalent of {module}.{name}"
        try:
            objects[name] = load_target(target)
        except LookupError:
            return None, f"`{local}.{name}`: its dagflow equivalent {target} does not exist in this version"
    for candidate in _holders(module, names):
        holder = importlib.import_module(candidate)
        if all(getattr(holder, name, None) is value for name, value in objects.items()):
            return table.Target(candidate, None), ""
    return None, f"no dagflow module has all the file reads as `{local}.NAME` under those names: {how}"


def _holders(module: str, names: list[str]) -> list[str]:
    """The dagflow modules that may hold ``names``: those the names point into (the package of a
    module a name stands for), then the packages above them."""
    targets = [table.target_of(module, name) for name in names]
    own = [t.module if t.attr else t.module.rpartition(".")[0] for t in targets if t is not None]
    above = [m.rsplit(".", depth)[0] for m in own for depth in range(1, m.count(".") + 1)]
    return list(dict.fromkeys([*own, *above]))


def _mapping(module: str, alias: ast.alias, uses: _Uses) -> tuple[table.Target | None, str]:
    """The dagflow target of one imported name, or None and why not."""
    if alias.name == "*":
        used = [name for name in table.names_of(module) if name in uses.loaded]
        named = f" (`from {module} import {', '.join(used)}`)" if used else ""
        return None, f"star imports are not rewritten: import by name what the file uses from it{named}"
    target = table.target_of(module, alias.name)
    if target is None:
        if table.is_known_module(f"{module}.{alias.name}"):
            return _module_target(f"{module}.{alias.name}", alias.asname or alias.name, uses)
        return None, "dagflow has no equivalent"
    try:
        load_target(target)
    except LookupError:
        return None, f"its dagflow equivalent {target} does not exist in this version"
    return target, ""


def _port_from_import(
    node: ast.ImportFrom, source: bytes, lines: _LineOffsets, uses: _Uses, unmapped: list[Unmapped]
) -> list[_Edit]:
    module = node.module or ""
    mapped: list[tuple[ast.alias, table.Target]] = []
    kept: list[ast.alias] = []
    for alias in node.names:
        target, reason = _mapping(module, alias, uses)
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
