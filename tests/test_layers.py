"""The package's layers, measured from the imports (module-level and in-function alike).

The pipeline reads off the folder list: `errors, shapes` (and the two small
helpers `lazy`, `deep`) → `symbolic` → `lang` → `derive` → `numeric` →
`render`, `report` → `homework` → the API layer (`api`, `cli`, `pytest_plugin`).
A module may import from its own layer and from layers to its left, never to
its right, and no set of modules may import each other in a circle. These
tests walk the AST of every module, so an import hidden inside a function
counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradcheck_cli"

LAYERS = [
    {"errors", "shapes", "lazy", "deep"},
    {"symbolic"},
    {"lang"},
    {"derive"},
    {"numeric"},
    {"render", "report"},
    {"homework"},
    {"api", "cli", "pytest_plugin", "__main__", ""},
]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module a dotted name lives in (a name imported from a module is that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            targets = [f"{full}.{a.name}" for a in node.names] if full else []
        else:
            continue
        for target in targets:
            if target.startswith("gradcheck_cli"):
                resolved = _resolve(target)
                if resolved and resolved != module:
                    found.add(resolved)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")


def circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(GRAPH[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_walk_sees_in_function_imports():
    # numeric.impl_check imports the sandboxed runner inside a function: the walk must see it
    assert "gradcheck_cli.numeric.impl_runner" in GRAPH["gradcheck_cli.numeric.impl_check"]


def test_the_circle_finder_finds_a_circle():
    saved = dict(GRAPH)
    try:
        GRAPH["gradcheck_cli.shapes"] = {"gradcheck_cli.errors"}
        GRAPH["gradcheck_cli.errors"] = {"gradcheck_cli.shapes"}
        assert ["gradcheck_cli.errors", "gradcheck_cli.shapes"] in circles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_no_import_circles():
    assert circles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_leftwards(module):
    wrong = sorted(t for t in GRAPH[module] if layer_of(t) > layer_of(module))
    assert not wrong, f"{module} (layer {layer_of(module)}) imports from layers to its right: {wrong}"


def test_no_private_names_imported_across_modules():
    offenders = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gradcheck_cli")):
                for alias in node.names:
                    name = alias.name
                    is_module = _resolve(f"{node.module}.{name}") == f"{node.module}.{name}" if node.module else True
                    if name.startswith("_") and not name.startswith("__") and not is_module:
                        offenders.append(f"{module}: {name}")
    assert offenders == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_fit_in_one_sitting(module):
    path = MODULES[module]
    if path.name == "_derivatives.py":  # generated by `python -m gradcheck_cli.symbolic.elementwise`
        return
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"


def long_functions() -> list[str]:
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{module}.{node.name}: {length} lines")
    return found


def test_functions_fit_on_a_screen():
    assert long_functions() == []
