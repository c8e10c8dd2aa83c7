"""The package's shape, read from the code with ``ast``: layers import only downwards, no import cycles,
small modules and functions. A new top-level module must be given a layer here, on purpose."""

import ast
import io
import tokenize
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "ie"
# Lowest first: a module may import from its own layer and the layers before it.
LAYERS = [
    "base",
    "data",
    "encoding",
    "models",
    "inference",
    "evaluation",
    "training",
    "serving",
    "integrations",
    "commands",
]
# ie/<name>.py outside the subpackages: the shared base, or a `python -m ie.<name>` command (and the
# package's face, which re-exports the API lazily).
TOP_LEVEL = {
    "errors": "base",
    "atomic": "base",
    "runs": "base",
    "distributed": "base",
    "config": "base",
    "precision": "base",
    "extras": "base",
    "__init__": "commands",
    "predict": "commands",
    "validate": "commands",
    "card": "commands",
    "schema": "commands",
    "audit": "commands",
    "serve": "commands",
    "export": "commands",
    "convert": "commands",
    "overlap": "commands",
    "agreement": "commands",
}
# Counted in statements (logical lines), not physical ones, which the formatter multiplies: the limits are those the
# code kept in physical lines (400 a module, 60 a function) before it was formatted, as statements.
MAX_MODULE_STATEMENTS, MAX_FUNCTION_STATEMENTS = 260, 45
SIZED = sorted([*PACKAGE.rglob("*.py"), ROOT / "train.py", ROOT / "evaluate.py", *(ROOT / "benchmarks").glob("*.py")])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS):
        return parts[1]
    return TOP_LEVEL[parts[1] if len(parts) == 2 else "__init__"]


def imports(module: str) -> set[str]:
    """The ie modules ``module`` imports anywhere in its file, function-level imports included."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("ie") and name != module:
                found.add(name)
    return found


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_has_a_layer():
    unplaced = [
        m for m in MODULES if m.count(".") == 1 and m.split(".")[1] not in LAYERS and m.split(".")[1] not in TOP_LEVEL
    ]
    assert not unplaced, f"give these top-level modules a layer in TOP_LEVEL (or move them into a room): {unplaced}"


def test_no_import_reaches_up_a_layer():
    upward = [
        f"{a} ({layer(a)}) -> {b} ({layer(b)})"
        for a, targets in GRAPH.items()
        for b in targets
        if LAYERS.index(layer(b)) > LAYERS.index(layer(a))
    ]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    """Tarjan's strongly connected components: any with more than one module is a cycle."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checks_see_real_imports():
    """Guards the checks above against reading nothing: known edges, lazy ones included, are found."""
    assert "ie.data.records" in GRAPH["ie.data.formats.brat"] and "ie.data.schema" in GRAPH["ie.models.checkpoint"]
    assert "ie.inference.predictor" in GRAPH["ie.predict"]  # imported inside a function
    assert "ie.models.pairs" in GRAPH["ie.models.lean_bert"]  # `from ie.models import pairs`
    assert layer("ie.data.bio") == "data" and layer("ie.runs") == "base" and layer("ie") == "commands"


def statement_ends(source: str) -> list[int]:
    """The line where each logical line (statement) ends: a size that ``ruff format`` does not change when it
    spreads one call over many physical lines. Comments and blank lines are not statements."""
    return [t.start[0] for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.NEWLINE]


@pytest.mark.parametrize("path", SIZED, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
    source = path.read_text(encoding="utf-8")
    ends = statement_ends(source)
    assert len(ends) <= MAX_MODULE_STATEMENTS, f"{path.name}: {len(ends)} statements, over {MAX_MODULE_STATEMENTS}"
    long = [
        f"{node.name} ({size} statements)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (size := sum(node.lineno <= end <= node.end_lineno for end in ends)) > MAX_FUNCTION_STATEMENTS
    ]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_STATEMENTS} statements: {long}"
