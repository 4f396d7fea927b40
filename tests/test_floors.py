"""The library's floors (docs/architecture.md, "Floors"): every module of lib/diffattr sits on one floor,
imports only from its own floor or lower ones, and no import statement (module- or function-level)
closes a circle. A new module fails here until it is given a floor."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "diffattr"

# Bottom-up. A module on floor i may import floors 0..i; stage modules (diffattr.stages.*) are the top.
FLOORS = [
    # ground: plain data, files and numbers; nothing of the science
    {
        "atomic",
        "hashing",
        "registry",
        "stats",
        "families",
        "progress",
        "runlog",
        "jobs",
        "metrics",
        "pretrained",
        "classifier_gate",
        "resources",
        "data",
        "settings",
    },
    # models: build, train, prune, sample
    {"compute", "models", "training", "batched_training", "pruning", "sampling"},
    # evaluation: what a model's generated images score
    {"classifier", "behaviour"},
    # attribution: subsets, the matrix and what is fitted and scored on it
    {"subsets", "matrix", "datamodel", "lds", "budget", "power", "counterfactual", "estimators", "baselines"},
    # report: pages and figures
    {"report", "figures"},
    # workflow: the config, the content addressing, the layout, the command lines (the run's status,
    # its cost forecast: plan, dag, forecast, calibration; the Slurm limits from it) and the finished
    # run view (results)
    {
        "draws",
        "config",
        "config_checks",
        "addressing",
        "layout",
        "missing",
        "status",
        "cli",
        "plan",
        "dag",
        "forecast",
        "calibration",
        "slurm_limits",
        "results",
    },
    # stages: one module per rule (lib/diffattr/stages/<rule>.py)
    {"stages"},
]


def _name(path: Path) -> str:
    parts = list(path.relative_to(LIB.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(LIB.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The diffattr modules `name` imports anywhere in its file (module- or function-level)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in MODULES else base)
        elif isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
    return {m for m in out if m in MODULES and m != name}


def floor(name: str) -> int:
    """The floor of a module, by its first name under diffattr (a package's modules share its floor)."""
    top = name.split(".")[1] if "." in name else ""
    found = [i for i, names in enumerate(FLOORS) if top in names]
    assert found, f"lib/diffattr module {name} has no floor: add {top!r} to tests/test_floors.py FLOORS"
    return found[0]


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "diffattr"))
def test_no_arrow_from_a_lower_floor_to_a_higher_one(name):
    up = {m: floor(m) for m in imports(name) if floor(m) > floor(name)}
    assert not up, f"{name} (floor {floor(name)}) imports from higher floors: {up}"


def test_stage_modules_do_not_import_each_other():
    for name in MODULES:
        if name.startswith("diffattr.stages."):
            others = {m for m in imports(name) if m.startswith("diffattr.stages.")}
            assert not others, f"{name} imports {sorted(others)}"


def test_no_import_circle():
    graph = {name: imports(name) for name in MODULES}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_checker_sees_an_import():
    # The circle and floor checks mean something only if imports are found at all.
    assert "diffattr.stats" in imports("diffattr.lds")
    assert "diffattr.registry" in imports("diffattr.addressing")
    assert "diffattr.matrix" in imports("diffattr.stages.budget")
