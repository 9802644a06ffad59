"""The import graph of shared/ and functions/: no cycles, and no imports hidden inside functions
(the usual way a cycle is dodged instead of moving the shared piece down a layer)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "functions")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(tree: ast.AST, known: set[str]) -> set[str]:
    """Our modules a module imports at its top level (`from pkg import mod` counts as `pkg.mod`)."""
    names: set[str] = set()
    for node in tree.body:  # type: ignore[attr-defined]
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def nested_imports(tree: ast.AST) -> list[int]:
    """Line numbers of import statements inside a function or class body."""
    lines = []
    for scope in ast.walk(tree):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines += [n.lineno for n in ast.walk(scope) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return sorted(set(lines))


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(ast.parse(path.read_text()), set(found)) - {name} for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_checker_finds_a_cycle_and_a_nested_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert nested_imports(ast.parse("import os\ndef f():\n    import json\n")) == [3]


def test_no_import_cycles_in_shared_and_functions():
    edges = graph()
    assert len(edges) > 40, "the walk must see our modules"
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_no_imports_inside_functions():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in modules().values()
        if (lines := nested_imports(ast.parse(path.read_text())))
    }
    assert offenders == {}
