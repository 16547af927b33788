"""The package layout: layered subpackages, imports only downward, no cycles, modules of a size to read.

The layers contract lives in pyproject.toml (`[tool.importlinter]`) and is checked here with
import-linter, so a wrong-way import fails CI. The data flow is the layer order, top to bottom:
cli > api > report > optimize > money > serving > perf > catalog > spec > errors | units | names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 450
"""The house splits a module when it passes about 400 lines; 450 leaves room for a docstring."""


def _contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    assert contract["type"] == "layers"
    return [m.strip() for layer in contract["layers"] for m in layer.split("|")]


def test_import_contract_is_kept():
    """`lint-imports` (import-linter) passes: no package imports from a layer above it."""
    exe = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_every_top_level_module_is_in_a_layer():
    """A new subpackage or module cannot escape the contract: every child of `planner` (but the
    package's own `__init__`/`__main__`) is named in a layer. (The data package `planner._catalog`
    is the top-level catalog/ folder, mapped in at install time, so it is no child here.)"""
    layers = set(_contract_layers())
    children = {p.stem if p.is_file() else p.name for p in (ROOT / "planner").iterdir()
                if (p.is_file() and p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").is_file())}
    children -= {"__init__", "__main__"}
    assert {f"planner.{c}" for c in children} == layers


def test_no_import_cycles():
    """No two modules import each other, directly or through others (strongly connected
    components of the module import graph, found with Tarjan's algorithm, are all single modules).
    A package's `__init__` that re-exports its own submodules is not a cycle unless a submodule
    imports the package back."""
    graph = grimp.build_graph("planner", cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules if m.startswith("planner")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    # The root package re-exports the facade, and the facade imports the whole chain: that is the
    # one sanctioned loop (nothing below imports the root package itself).
    cycles = [c for c in cycles if "planner" not in c]
    assert cycles == []
    assert not any("planner" in edges[m] for m in edges if m != "planner"), "a module imports the root package"


def test_modules_stay_readable():
    """No module passes MAX_MODULE_LINES lines (split it by concern when it grows)."""
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "planner").rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_one_renderer_module_per_output_format():
    """Rendering lives in planner/report, one module per format (terminal, JSON, CSV, Markdown,
    chart), over shared records; nothing else in the package draws terminal tables."""
    report = {p.stem for p in (ROOT / "planner" / "report").glob("*.py")}
    assert {"terminal", "json_out", "csv_out", "markdown", "chart", "records"} <= report
    for p in sorted((ROOT / "planner").rglob("*.py")):
        rel = p.relative_to(ROOT / "planner").parts
        if rel[0] in ("report", "cli"):
            continue
        text = p.read_text(encoding="utf-8")
        assert "import rich" not in text and "from rich" not in text, p
