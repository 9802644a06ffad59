"""The import graph of shared/ and functions/: no cycles, and no imports hidden inside functions
(the usual way a cycle is dodged instead of moving the shared piece down a layer)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "functions", "devtools")
ROOT_MODULES = ("function_app",)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    found.update({name: ROOT / f"{name}.py" for name in ROOT_MODULES})
    return found


def imported(tree: ast.AST, known: set[str]) -> set[str]:
    """Our modules a module imports at its top level. `from pkg import mod` counts as `pkg.mod` only: Python
    imports a submodule of a half-initialised package fine, so a package's __init__ re-exporting a submodule
    that imports its siblings is no cycle."""
    names: set[str] = set()
    for node in top_level(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module and not node.level, f"relative import at line {node.lineno}: the walk cannot follow it"
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            names.update(submodules)
            if len(submodules) < len(node.names):  # a name defined by the module itself, not a submodule
                names.add(node.module)
    return {name for name in names if name in known}


def top_level(tree: ast.AST) -> list[ast.stmt]:
    """Statements run at import time, those under `if`/`try`/`with` included (TYPE_CHECKING blocks too)."""
    found: list[ast.stmt] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.stmt):
            found.append(node)
        found += top_level(node)
    return found


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
    guarded = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\n")
    assert imported(guarded, {"a", "a.b"}) == {"a.b"}
    assert imported(ast.parse("from a import b, c\n"), {"a", "a.b"}) == {"a", "a.b"}


def test_the_walk_covers_devtools_and_the_app_module():
    expected = {"function_app", "devtools.kv_emulator", "devtools.local_host", "devtools.arm_emulator.server"}
    assert expected <= set(graph())


def test_no_import_cycles():
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
