"""The library's floors (docs/architecture.md, "Floors"): lib/diffattr holds one subpackage per floor,
bottom-up core, modelling, evaluation, attribution, reporting, workflow, then the stage modules and
the front door (the five modules a user calls: cli, plan, status, results, missing). A module imports only
from its own floor or lower ones, and no import statement (module- or function-level) closes a
circle. A new module fails here until it sits in a floor's package or is named a front-door module."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "diffattr"

# Bottom-up: a module on floor i may import floors 0..i. Each floor is a package of lib/diffattr.
FLOORS = [
    "core",  # ground: plain data, files and numbers; nothing of the science
    "modelling",  # build, train, prune, sample
    "evaluation",  # what a model's generated images score
    "attribution",  # subsets, the matrix and what is fitted and scored on it
    "reporting",  # pages and figures
    "workflow",  # the config, the content addressing, the layout, the DAG and the cost forecast
    "stages",  # one module per rule (lib/diffattr/stages/<rule>.py)
]
# The top: what a user runs or imports (python -m diffattr.plan / .status / .missing, the diffattr
# command, diffattr.results.load), left at the package's top so those names stay short.
FRONT_DOOR = {"cli", "plan", "status", "results", "missing"}


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
    """The floor of a module: its package's place in FLOORS; the front door is the top."""
    parts = name.split(".")
    if len(parts) == 2 and parts[1] in FRONT_DOOR:
        return len(FLOORS)
    assert len(parts) > 2 and parts[1] in FLOORS, (
        f"lib/diffattr module {name} has no floor: move it into one of {FLOORS} (or name it in FRONT_DOOR)"
    )
    return FLOORS.index(parts[1])


def test_every_package_is_a_floor():
    packages = {p.name for p in LIB.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(FLOORS), f"packages {sorted(packages)} vs floors {FLOORS}"


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
    assert "diffattr.core.stats" in imports("diffattr.attribution.lds")
    assert "diffattr.core.registry" in imports("diffattr.workflow.addressing")
    assert "diffattr.attribution.matrix" in imports("diffattr.stages.budget")
