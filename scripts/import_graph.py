"""The package's import graph: its cycles and its largest modules.

    python scripts/import_graph.py [--lines 400]

Reads every module under autogenesis/ (no import is executed) and prints the
strongly connected groups of modules that import each other, twice: counting
only the imports that run when a module is imported (its top level), and
counting every import, those inside functions too (a lazy import still ties
two layers together). Imports under `if TYPE_CHECKING:` are left out, and so is
a package's own `__init__` running before its submodules (`from a import b`
where b is a module is an edge to a.b only). Then the modules over --lines lines.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "autogenesis"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, modules: set[str], root: Path = ROOT) -> tuple[set[str], set[str]]:
    """(imported at import time, imported anywhere) among `modules`."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top: set[str] = set()
    every: set[str] = set()

    def targets(node: ast.Import | ast.ImportFrom) -> set[str]:
        found = set()
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            names: list[str] = []
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            bases, names = [base], [alias.name for alias in node.names]
        for base in bases:
            submodules = {f"{base}.{n}" for n in names} & modules  # `from a import b`, b a module
            found |= submodules
            if base in modules and (len(submodules) < len(names) or not names):
                found.add(base)
        return found

    def walk(node: ast.AST, at_top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    walk(other, at_top)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found = targets(child) - {name}
                every.update(found)
                if at_top:
                    top.update(found)
            inner = at_top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            walk(child, inner)

    walk(ast.parse(path.read_text()), True)
    return top, every


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def graphs(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, set[str]],
                                       dict[str, int]]:
    """(imports at import time, every import, lines) per module of the package under
    `root`."""
    paths = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    top: dict[str, set[str]] = {}
    every: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    for path in paths:
        name = module_name(path, root)
        top[name], every[name] = imports(path, modules, root)
        lines[name] = len(path.read_text().splitlines())
    return top, every, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=400)
    args = parser.parse_args()
    top, every, lines = graphs()
    print(f"{len(lines)} modules")
    for label, graph in (("at import time", top), ("counting imports inside functions", every)):
        found = cycles(graph)
        print(f"cycles {label}: {len(found)}")
        for group in found:
            print(f"  {len(group)} modules: {', '.join(group)}")
    big = sorted(((n, m) for m, n in lines.items() if n > args.lines), reverse=True)
    print(f"modules over {args.lines} lines: {len(big)}")
    for count, name in big:
        print(f"  {count:5d}  {name}")


if __name__ == "__main__":
    main()
