"""The package's shape: layers that import downwards only, at module top, and no import cycle.

The layers are stated once, as import-linter contracts in pyproject.toml ([tool.importlinter]);
these tests run them, and add the two rules import-linter does not state: no function-local
import (except the lazy load of an optional dependency) and no cycle among the modules, counting
function-local imports too.
"""

from __future__ import annotations

import ast
import pathlib

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyfastdl"

# Optional dependencies, imported where they are first needed so that a plain install runs
# without them. Nothing else may be imported inside a function.
LAZY_OPTIONAL = {"cupy", "cupyx", "torch", "matplotlib", "mpi4py", "PIL", "jax", "gymnasium"}


def function_local_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function body that is not the lazy load
    of an optional dependency (pyfastdl's own modules, relative imports and the standard library
    all belong at the top of the module)."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                else:
                    names = ["." * child.level + (child.module or "")]
                for name in names:
                    if name.startswith(".") or name.split(".")[0] not in LAZY_OPTIONAL:
                        found.append((child.lineno, name))
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            connect(module)
    return cycles


def test_layer_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)  # import-linter reads pyproject.toml from the working directory
    assert lint_imports(no_cache=True) == 0, "an import points up a layer: run `lint-imports`"


def test_no_function_local_imports():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, module in function_local_imports(path.read_text())
    ]
    assert not offenders, "imports inside functions:\n" + "\n".join(offenders)


def test_no_import_cycles():
    graph = grimp.build_graph("pyfastdl", cache_dir=None)
    assert import_cycles(graph) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from ..nn import functional\n", [(2, "..nn")]),
        ("def f():\n    import pyfastdl as fd\n", [(2, "pyfastdl")]),
        ("class A:\n    def f(self):\n        import functools\n", [(3, "functools")]),
        ("def f():\n    import cupy  # GPU arrays only\n", []),
        ("def f():\n    from matplotlib.figure import Figure\n", []),
        ("from . import ops\n\n\ndef f():\n    return ops\n", []),
    ],
)
def test_the_local_import_rule_sees_what_it_must(source, expected):
    assert function_local_imports(source) == expected


def test_the_cycle_finder_sees_a_cycle():
    class Graph:
        modules = {"a", "b", "c"}
        edges = {"a": {"b"}, "b": {"a"}, "c": {"a"}}

        def find_modules_directly_imported_by(self, m):
            return self.edges[m]

    assert import_cycles(Graph()) == [["a", "b"]]


def test_every_top_level_module_has_a_layer():
    """A module outside the contract would be checked by nothing: each must be in a layer."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c.get("containers") == ["pyfastdl"])
    in_layers = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    top_level = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert top_level - in_layers == set()
