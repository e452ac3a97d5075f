"""The code's layering, read from its own imports (issue #15): the command modules are a thin layer that
nothing imports, and the packages import each other without a cycle, the core importing no stage."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import lamforge

ROOT = Path(lamforge.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lamforge"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # `from lamforge.x import commands`
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lamforge"))
    return found


def _is_command(module: str) -> bool:
    return module == "lamforge.cli" or module.rsplit(".", 1)[-1] == "commands"


def _package(module: str) -> str:
    """lamforge.training.sft -> lamforge.training; a top-level module (lamforge.run) is its own package."""
    return ".".join(module.split(".")[:2])


def test_no_module_imports_a_command_module():
    modules = _modules()
    offenders = sorted(f"{m} imports {i}" for m, f in modules.items() if m != "lamforge.cli"
                       for i in _imports(f) if i in modules and _is_command(i))
    assert not offenders, "command modules are the thin CLI layer; import the library module instead:\n" + \
        "\n".join(offenders)


def package_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            comp.append(v)
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def _package_edges() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], str] = {}
    for m, f in modules.items():
        if _is_command(m):  # the CLI layer sits above every package and may import any of them
            continue
        for i in _imports(f):
            if i not in modules:
                continue
            a, b = _package(m), _package(i)
            if a != b:
                edges[a].add(b)
                why.setdefault((a, b), f"{m} -> {i}")
    return edges, why


def test_packages_import_each_other_without_a_cycle():
    edges, why = _package_edges()
    cycles = package_cycles(edges)
    detail = [why[(a, b)] for comp in cycles for a in comp for b in edges[a] if b in comp]
    assert not cycles, f"import cycles between packages {cycles}:\n" + "\n".join(sorted(detail))


def test_the_core_imports_no_stage():
    edges, why = _package_edges()
    assert edges.get("lamforge.core", set()) == set(), [why[("lamforge.core", b)] for b in edges["lamforge.core"]]


def test_the_cycle_finder_finds_a_cycle():
    assert package_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert package_cycles({"a": {"b"}, "b": set()}) == []
