"""The workflow's structure: each stage found by its name in one hop (rule file, script, library
module), and each rule's conda env listing every third-party module the code it runs imports."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib" / "diffattr"
# Import name -> the package that provides it, where they differ.
PACKAGE_OF = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "torch_fidelity": "torch-fidelity",
    "torch_pruning": "torch-pruning",
}
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)


def rules() -> dict[str, dict[str, str]]:
    """Rule name -> its file, conda env and script (rules declared with `use rule` inherit both)."""
    out = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            env = re.search(r'conda:\s*"\.\./(envs/[\w.]+)"', body)
            script = re.search(r'script:\s*"\.\./(workflow/scripts/[\w.]+)"', body)
            out[name] = {"file": smk.stem, "env": env and env[1], "script": script and script[1]}
    return out


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    for candidate in (LIB.joinpath(*parts).with_suffix(".py"), LIB.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, package: str) -> set[str]:
    """Every module an import statement of `path` names (module- or function-level), absolute."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}  # `from . import sampling`
    return out


# The scripts' own helpers (workflow/scripts/) and what every job has without a conda package.
LOCAL_MODULES = ("_libpath", "_preloaded", "snakemake", "__future__")


def third_party(script: Path) -> set[str]:
    """Top-level third-party modules imported by a script and, transitively, by every diffattr module
    it reaches through any import statement."""
    seen, todo, found = set(), [(script, "diffattr")], set()
    while todo:
        path, package = todo.pop()
        for name in _imports(path, package):
            top = name.split(".")[0]
            if top == "diffattr":
                module = _module_file(name)
                if module and module not in seen:
                    seen.add(module)
                    pkg = name if module.name == "__init__.py" else name.rsplit(".", 1)[0]
                    todo.append((module, pkg))
            elif top not in sys.stdlib_module_names and top not in LOCAL_MODULES:
                found.add(top)
    return found


def env_packages(env: str) -> set[str]:
    deps = yaml.safe_load((ROOT / env).read_text())["dependencies"]
    names = set()
    for dep in deps:
        for spec in dep["pip"] if isinstance(dep, dict) else [dep]:
            names.add(re.split(r"[=<>! ]", spec, maxsplit=1)[0].lower())
    return names


def test_every_stage_is_one_hop_from_its_name():
    found = rules()
    for smk in (ROOT / "rules").glob("*.smk"):
        if smk.stem != "common":
            assert (
                smk.stem in found
                and found[smk.stem]["file"] == smk.stem
                or "use rule retrain as " + smk.stem in smk.read_text()
            ), f"rules/{smk.name} holds no rule {smk.stem}"
    for name, rule in found.items():
        if name in ("all", "retrain_floor", "retrain_cf"):
            continue
        assert rule["file"] == name, f"rule {name} lives in rules/{rule['file']}.smk"
        assert rule["script"] == f"workflow/scripts/{name}.py", f"rule {name} runs {rule['script']}"
        assert (LIB / "stages" / f"{name}.py").is_file(), f"no lib/diffattr/stages/{name}.py"


@pytest.mark.parametrize("name", sorted(n for n, r in rules().items() if r["script"]))
def test_rule_env_lists_every_third_party_import(name):
    rule = rules()[name]
    assert rule["env"], f"rule {name} has no conda env"
    needed = {PACKAGE_OF.get(top, top).lower() for top in third_party(ROOT / rule["script"])}
    missing = needed - env_packages(rule["env"])
    assert not missing, f"rule {name} imports {sorted(missing)}, not listed in {rule['env']}"


def gpu_session_packages() -> set[str]:
    """What bench/gpu_wheels.sh brings to the GPU machine (the packages it fetches as wheels) plus what
    that machine's image already has (its `present` list)."""
    text = (ROOT / "bench" / "gpu_wheels.sh").read_text()
    fetched = {re.split(r"[=<>]", spec, maxsplit=1)[0] for spec in re.findall(r'"([A-Za-z][\w.-]*==[\w.]+)"', text)}
    present = re.search(r'present="([^"]*)"', text, re.S)
    assert present, "bench/gpu_wheels.sh lost its present=... list"
    return {n.lower().replace("_", "-") for n in fetched | set(present[1].split())}


def test_the_gpu_session_brings_every_package_the_rules_import():
    """The GPU machine has no package index: a package the rules' code imports that is neither
    fetched by bench/gpu_wheels.sh nor on that machine's image stops the GPU session (once: dattri)."""
    needed = {
        PACKAGE_OF.get(top, top).lower().replace("_", "-")
        for rule in rules().values()
        if rule["script"]
        for top in third_party(ROOT / rule["script"])
    }
    missing = needed - gpu_session_packages()
    assert not missing, f"bench/gpu_wheels.sh neither fetches nor lists as present: {sorted(missing)}"
