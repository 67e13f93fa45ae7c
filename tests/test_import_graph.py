"""The package's import graph, read from the source with ``ast`` (every import, at module level or inside a
function): no circle, no lower layer importing a higher one, no private name imported from another package.
A new violation fails here with the modules named."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "cinescape"

# The layers, lowest first (docs/architecture.md): a module may import its own top-level package and packages of a
# strictly lower layer. The package itself (cinescape/__init__.py, the public API) and __main__ sit above all.
LAYERS = {
    "errors": 0, "version": 0,
    "weights": 1, "io": 1,
    "ops": 2,
    "models": 3, "segmentation": 3, "regions": 3, "data": 3, "training": 3,
    "methods": 4,
    "eval": 5, "batch": 5,
    "web": 6,
    "cli": 7,
    "": 8, "__main__": 8,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, str]]:
    """(importer, imported module, imported name or "") for every import of a cinescape module."""
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "cinescape":
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in modules:
                        found.append((name, submodule, ""))
                    else:
                        found.append((name, target, alias.name))
            elif isinstance(node, ast.Import):
                found += [(name, alias.name, "") for alias in node.names if alias.name.split(".")[0] == "cinescape"]
    return [(a, b, n) for a, b, n in found if b in modules and a != b]


@pytest.fixture(scope="module")
def graph():
    modules = {_module_name(path): path for path in SOURCE.rglob("*.py")}
    return modules, _imports(modules)


def _inside(module: str, package: str) -> bool:
    """Whether ``module`` is the package ``package`` or one of its modules (at any depth)."""
    return module == package or module.startswith(package + ".")


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read(graph):
    modules, imports = graph
    assert len(modules) > 50 and ("cinescape.cli.animate", "cinescape.methods.select", "") in {
        (a, b, "") for a, b, _ in imports}


def _circles(modules, imports) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for importer, imported, _ in imports:
        edges[importer].add(imported)
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles




def test_no_import_circle(graph):
    circles = _circles(*graph)
    assert circles == [], f"import circles: {circles}"


def test_no_lower_layer_imports_a_higher_one(graph):
    _, imports = graph
    upward = sorted({(a, b) for a, b, _ in imports
                     if _top(a) != _top(b) and LAYERS[_top(a)] <= LAYERS[_top(b)]})
    assert upward == [], f"imports that do not go down the layers: {upward}"


def test_every_top_level_package_has_a_layer(graph):
    modules, _ = graph
    assert {_top(name) for name in modules} <= set(LAYERS)


def test_no_private_name_is_imported_from_another_package(graph):
    _, imports = graph
    crossing = sorted((a, f"{b}.{n}") for a, b, n in imports if n.startswith("_") and not n.startswith("__")
                      and not _inside(a, b.rpartition(".")[0]))
    assert crossing == [], f"private names used across packages: {crossing}"


def test_the_checks_catch_what_they_look_for(tmp_path, monkeypatch):
    """The helpers on a tiny made-up package: a circle, an upward import and a private name across packages."""
    root = tmp_path / "cinescape"
    for name, text in {"__init__.py": "", "io/__init__.py": "from ..methods.x import _hidden\n",
                       "methods/__init__.py": "", "methods/x.py": "from . import y\n_hidden = 1\n",
                       "methods/y.py": "from .x import _hidden\nfrom . import x\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "SOURCE", root)
    modules = {_module_name(path): path for path in root.rglob("*.py")}
    imports = _imports(modules)
    assert ("cinescape.io", "cinescape.methods.x", "_hidden") in imports
    assert ("cinescape.methods.x", "cinescape.methods.y", "") in imports
    assert ("cinescape.methods.y", "cinescape.methods.x", "") in imports
    assert _circles(modules, imports) == [["cinescape.methods.x", "cinescape.methods.y"]]
    # the same private name within its own package is allowed; from io it is not
    assert [(a, n) for a, b, n in imports if n == "_hidden" and not _inside(a, b.rpartition(".")[0])] == [
        ("cinescape.io", "_hidden")]
