"""How a script calls its stage (docs/architecture.md, "Jobs"): by keyword only, each file argument named
after its rule's input or output key, so a script reads `stage(**snakemake.input, **snakemake.output,
settings=...)` and a long positional list, where two paths can swap unnoticed, cannot come back.
The rules are read from rules/*.smk (as tests/test_registry.py reads them), the scripts with ast."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "workflow/scripts").glob("*.py") if not p.name.startswith("_"))
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)
USE = re.compile(r"^use rule (\w+) as (\w+) with:\n(.*?)(?=^\S|\Z)", re.M | re.S)
DEF = re.compile(r"^def (\w+)\(.*?\n(.*?)(?=^\S|\Z)", re.M | re.S)
# What a stage function takes besides its rule's files: its typed settings (settings.py) and the config
# pieces beside them (model_cfg, scheduler, the attribution units, inception_weights); the job's logger,
# start-up time and compute (compute.start_model_job) and where to resume; the values a rule's params or
# wildcards carry that are no config (which subset, chunk, source or method, the plan's ids and counts).
NOT_FILES = {
    "settings",
    "test_seeds",
    "model_cfg",
    "scheduler",
    "units",
    "inception_weights",
    "feature_batch",
    "datamodel",
    "target",
    "seed",
    "alpha",
    "top_k",
    "expected_identified",
    "pretrained",
    "log",
    "startup",
    "compute",
    "gate",
    "resume",
    "subset",
    "source",
    "method",
    "model_kind",
    "chunk_id",
    "members",
    "n_units",
    "batch_models",
    "train_ids",
    "unlearn_ids",
    "retrain_ids",
    "retrain_eval",
    "config_hash",
    "subset_report",
    "n",
    "title",
    "config_line",
}
# The run view takes the run's final artifacts and its own files whole (their keys are the run's
# artifact names, not parameters).
WHOLE = {"run_view"}


def _section(body: str, name: str) -> str | None:
    found = re.search(rf"^    {name}:\n((?:^        .*\n|^\s*\n)*)", body, re.M)
    return found and found[1]


def _unpacked_keys() -> dict[str, set[str]]:
    """Input function -> the keys of the dict it returns (rules/common.smk), following `**other(...)`."""
    bodies = dict(DEF.findall((ROOT / "rules/common.smk").read_text()))
    out: dict[str, set[str]] = {}

    def keys(fn: str) -> set[str]:
        if fn not in out:
            body = bodies[fn]
            out[fn] = set(re.findall(r'"(\w+)": ', body)) | set(re.findall(r'\w+\["(\w+)"\] = ', body))
            for other in re.findall(r"\*\*(\w+)\(", body):
                out[fn] |= keys(other)
        return out[fn]

    for fn in bodies:
        keys(fn)
    return out


def _rule_keys() -> dict[str, dict]:
    """Rule -> its script and the keys of its input and output (named ones and those of unpack(fn))."""
    unpacked = _unpacked_keys()
    raw = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        for name, body in RULE.findall(text):
            raw[name] = (None, body)
        for parent, name, body in USE.findall(text):
            raw[name] = (parent, body)
    rules = {}
    for name, (parent, body) in raw.items():
        inherited = raw[parent][1] if parent else ""
        rule = {}
        for part in ("input", "output"):
            section = _section(body, part) or _section(inherited, part) or ""
            named = set(re.findall(r"^        (\w+)=", section, re.M))
            for fn in re.findall(r"^        unpack\((\w+)\)", section, re.M):
                named |= unpacked[fn]
            rule[part] = named
        script = re.search(r'script:\s*"\.\./workflow/scripts/(\w+)\.py"', body + inherited)
        rule["script"] = script and script[1]
        rules[name] = rule
    return rules


RULES = _rule_keys()


def _stage_calls(script: Path) -> list[tuple[ast.Call, object]]:
    """Every call in `script` of a function it imports from its diffattr.stages module, with that function."""
    tree = ast.parse(script.read_text())
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("diffattr.stages."):
            module = importlib.import_module(node.module)
            for alias in node.names:
                obj = getattr(module, alias.name)
                if inspect.isfunction(obj):
                    imported[alias.asname or alias.name] = obj
    # A call inside another's arguments (a reader such as lds.metrics_by_subset) prepares an argument.
    nested = {
        id(inner)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        for arg in [*call.args, *call.keywords]
        for inner in ast.walk(arg)
        if isinstance(inner, ast.Call)
    }
    return [
        (node, imported[node.func.id])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in imported
        and id(node) not in nested
    ]


def _spreads(call: ast.Call) -> set[str]:
    """Which of snakemake.input / snakemake.output a call passes whole (`**sm.input`)."""
    return {
        kw.value.attr
        for kw in call.keywords
        if kw.arg is None and isinstance(kw.value, ast.Attribute) and kw.value.attr in ("input", "output")
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_script_calls_its_stage_by_keyword_only(script):
    calls = _stage_calls(script)
    assert calls, f"workflow/scripts/{script.name} calls no function of diffattr.stages"
    for call, fn in calls:
        assert not call.args, (
            f"workflow/scripts/{script.name}:{call.lineno}: {fn.__name__} called with positional arguments"
        )
        positional = [
            p.name for p in inspect.signature(fn).parameters.values() if p.kind is not inspect.Parameter.KEYWORD_ONLY
        ]
        assert not positional, f"{fn.__module__}.{fn.__name__}: {positional} not keyword-only (put `*,` first)"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_stage_names_its_files_after_its_rule_keys(script):
    """Every parameter of a stage function is an input or output key of a rule that runs its script (or
    one of NOT_FILES), and a script that passes `**snakemake.input` / `**snakemake.output` passes only
    keys the function takes, for every rule that runs it (a `use rule` may rename nothing)."""
    rules = {name: r for name, r in RULES.items() if r["script"] == script.stem}
    assert rules, f"no rule runs workflow/scripts/{script.name}"
    if script.stem in WHOLE:
        return
    keys = set().union(*(r["input"] | r["output"] for r in rules.values()))
    for call, fn in _stage_calls(script):
        params = inspect.signature(fn).parameters
        strays = set(params) - keys - NOT_FILES
        assert not strays, (
            f"{fn.__module__}.{fn.__name__}: parameters {sorted(strays)} are no input or output key of rule(s) "
            f"{sorted(rules)}; name them after the rule's keys"
        )
        for name, rule in rules.items():
            for part in _spreads(call):
                missing = rule[part] - set(params)
                assert not missing, f"rule {name}'s {part} keys {sorted(missing)} are no parameter of {fn.__name__}"
                twice = rule[part] & {kw.arg for kw in call.keywords}
                assert not twice, f"workflow/scripts/{script.name}: {sorted(twice)} passed twice (also in **{part})"
            both = rule["input"] & rule["output"]
            assert not (_spreads(call) == {"input", "output"} and both), f"rule {name}: {both} both input and output"


def test_the_rule_reader_sees_inputs_outputs_and_unpacked_keys():
    """The reader itself: keys named in a rule, those of an input function, and a `use rule`'s inherited ones."""
    assert RULES["lds"]["input"] == {"ceiling", "seeds", "baseline_seeds", "datamodel", "matrix", "baseline"}
    assert RULES["lds"]["output"] == {"lds"}
    assert {"baselines", "baseline_images_bench", "baselines_bench", "matrix"} <= RULES["budget"]["input"]
    assert RULES["retrain_floor"]["input"] == RULES["retrain"]["input"] == {"data", "subsets"}
    assert RULES["retrain_floor"]["script"] == "retrain"
