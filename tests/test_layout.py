"""The package layout holds: imports point one way (no upward import) and no module imports itself
back through others (no cycle). Reads every module's imports with ``ast``, lazy ones included."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("processors", "consent", "pipeline", "watch_folders", "console")

# Layers, top first. A module may import its own layer and any layer below it, never one above.
# The CLI (pipeline.cli) is on top; then the watcher and the web console; then the rest of
# pipeline; then consent; then processors, which know nothing of the database.
LAYERS = [
    ("cli", ("pipeline.cli",)),
    ("watch_folders and console", ("watch_folders", "console")),
    ("pipeline", ("pipeline",)),
    ("consent", ("consent",)),
    ("processors", ("processors",)),
]
MAX_MODULES_PER_FOLDER = 15


def _layer(module: str) -> int:
    for rank, (_name, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} belongs to no layer")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that ``module`` imports (the longest known name of each import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    out = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _imports(m, p, known) for m, p in modules.items()}


def test_no_upward_import():
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            if module.startswith(target + ".") and target.count(".") == 0:
                continue  # a package's own __init__ (its docstring) is not a layer crossing
            if _layer(target) < _layer(module):
                upward.append(f"{module} imports {target} ({LAYERS[_layer(target)][0]} is above "
                              f"{LAYERS[_layer(module)][0]})")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycle():
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a cycle between features: drop the
    # edges from a module to the package that contains it.
    for module, targets in graph.items():
        targets -= {t for t in targets if module.startswith(t + ".")}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_folder_is_crowded(package):
    base = ROOT / package
    if not base.is_dir():
        pytest.skip(f"{package}/ does not exist yet")
    for folder in [base, *[p for p in base.rglob("*") if p.is_dir() and (p / "__init__.py").exists()]]:
        modules = [p for p in folder.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
        assert len(modules) <= MAX_MODULES_PER_FOLDER, f"{folder.relative_to(ROOT)} has {len(modules)} modules"


def test_every_module_says_what_it_does():
    missing = [m for m, p in _modules().items()
               if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert not missing, "modules without a docstring: " + ", ".join(sorted(missing))
