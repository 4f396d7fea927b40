"""The stage registry (lib/diffattr/core/registry.py) against the rule files, the scripts, the stage modules,
the config schema and the layout: each of these fails when one of them names a stage, a rule, an env
or a file the others do not."""

import re
from pathlib import Path

import pytest
import yaml

from diffattr.attribution.baselines import MODEL_STAGE as BASELINE_MODEL_STAGE
from diffattr.core.registry import (
    CLUSTER_RULES,
    FILES,
    MODEL_KINDS,
    OTHER_RULES,
    REGISTRY,
    RESOURCES_KEY,
    SAMPLE_STAGE,
    SHARED_FOLDERS,
    STAGES,
    downstream,
)
from diffattr.workflow import layout

ROOT = Path(__file__).resolve().parents[1]
# A rule and its body up to the next top-level statement; `use rule A as B with:` inherits A's script and env.
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)
USE = re.compile(r"^use rule (\w+) as (\w+) with:\n(.*?)(?=^\S|\Z)", re.M | re.S)


def _rules() -> dict[str, dict]:
    """Rule name -> its file, env, script, the resources entry its threads come from, localrule."""
    out = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        for name, body in RULE.findall(text):
            out[name] = {"file": smk.stem, "body": body, "parent": None}
        for parent, name, body in USE.findall(text):
            out[name] = {"file": smk.stem, "body": body, "parent": parent}
    for rule in out.values():
        own = rule["body"]
        inherited = out[rule["parent"]]["body"] if rule["parent"] else ""
        for key, pattern in (
            ("env", r'conda:\s*"\.\./(envs/[\w.]+)"'),
            ("script", r'script:\s*"\.\./workflow/scripts/(\w+)\.py"'),
            ("threads", r'threads: THREADS_OF\["(\w+)"\]'),
        ):
            found = re.search(pattern, own) or re.search(pattern, inherited)
            rule[key] = found and found[1]
        rule["local"] = "localrule: True" in own
    return out


RULES = _rules()


def test_every_rule_builds_a_registered_stage_or_is_named_as_other():
    built = {s.rule for s in REGISTRY.values()}
    assert set(RULES) == built | set(OTHER_RULES), (
        f"rules without a registry row: {sorted(set(RULES) - built - set(OTHER_RULES))}; "
        f"registry rules without a rule: {sorted(built - set(RULES))}"
    )


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_stage_rule_script_module_env_and_resources_agree(name):
    stage = REGISTRY[name]
    rule = RULES[stage.rule]
    assert rule["file"] == stage.rule, f"rule {stage.rule} lives in rules/{rule['file']}.smk"
    script = rule["script"]
    assert script and (ROOT / "workflow/scripts" / f"{script}.py").is_file(), f"rule {stage.rule} runs no script"
    # The script calls its own stage module (a `use rule` inherits its parent's script and module).
    assert script == (rule["parent"] or stage.rule), f"rule {stage.rule} runs workflow/scripts/{script}.py"
    assert (ROOT / "lib/diffattr/stages" / f"{script}.py").is_file(), f"no lib/diffattr/stages/{script}.py"
    assert f"diffattr.stages.{script} import" in (ROOT / "workflow/scripts" / f"{script}.py").read_text()
    assert rule["env"] == stage.env, f"rule {stage.rule}'s conda env {rule['env']}, registry: {stage.env}"
    # A cluster rule takes its registry entry's resources; a local one none.
    # (rules/common.smk keys THREADS_OF by rule, each from its registry.RESOURCES_KEY entry)
    assert rule["threads"] == (stage.rule if stage.resources else None), (
        f"rule {stage.rule} takes THREADS_OF[{rule['threads']!r}]"
    )
    assert RESOURCES_KEY.get(stage.rule) == stage.resources
    assert rule["local"] == (stage.resources is None)
    assert f'include: "rules/{stage.rule}.smk"' in (ROOT / "Snakefile").read_text()
    # A model job (torch, a device) is started by compute.start_model_job, in the script alone.
    starts = "start_model_job(" in (ROOT / "workflow/scripts" / f"{script}.py").read_text()
    assert starts == stage.model_job, f"scripts/{script}.py starts a model job: {starts}, registry: {stage.model_job}"


def test_other_rules_envs():
    for name, env in OTHER_RULES.items():
        assert RULES[name]["env"] == env


def test_every_path_a_rule_names_is_a_registered_file():
    for smk in (ROOT / "rules").glob("*.smk"):
        for stage, name in re.findall(r'path\("(\w+)", "(\w+)"', smk.read_text()):
            assert stage in FILES and name in FILES[stage], f"rules/{smk.name}: path({stage!r}, {name!r}) unknown"
            assert name in layout.FILES[layout.folder(stage) if stage not in layout.FILES else stage]


def test_upstream_stages_come_first_and_exist():
    seen = set()
    for name, (_, _, upstream) in STAGES.items():
        assert set(upstream) <= seen, f"{name}: upstream {sorted(set(upstream) - seen)} not listed before it"
        seen.add(name)


def test_shared_folders_and_model_kinds():
    assert set(layout.SHARED) == SHARED_FOLDERS
    behaviours = {s.name for s in REGISTRY.values() if s.folder == "behaviour"}
    # The behaviour rule's {bhash} names one model kind: every model stage has its behaviour stage.
    assert behaviours == {f"behaviour_{kind}" for kind in MODEL_KINDS}
    for kind, model in MODEL_KINDS.items():
        assert REGISTRY[f"behaviour_{kind}"].model == model and model in REGISTRY[f"behaviour_{kind}"].upstream
    for name in SAMPLE_STAGE.values():
        assert REGISTRY[name].model in MODEL_KINDS.values() and REGISTRY[name].upstream == (REGISTRY[name].model,)
        assert name == f"samples_{REGISTRY[name].model}"


def test_baseline_models_are_the_schema_choices():
    schema = yaml.safe_load((ROOT / "config/schema.yaml").read_text())
    assert set(BASELINE_MODEL_STAGE) == set(schema["properties"]["baselines"]["properties"]["model"]["enum"])


def test_cluster_rules_are_the_rules_with_threads():
    assert set(RESOURCES_KEY) == {r["threads"] for r in RULES.values() if r["threads"]}
    assert set(CLUSTER_RULES) == set(RESOURCES_KEY.values())


def test_downstream_follows_upstream():
    assert downstream("summary") == {"summary"}
    assert downstream("lds") == {"lds", "figures", "summary"}
    analysis = {"matrix", "datamodel", "lds", "estimators", "cf_plan", "counterfactual", "budget", "table1"}
    assert downstream("matrix") == analysis | {"figures", "summary"}
    assert downstream("unlearn") == {"unlearn", "behaviour_unlearn", "pairs", "samples_unlearn"} | downstream("matrix")


def test_run_view_figures_copy_registered_files():
    for name, (stage, key) in layout.VIEW_FIGURES.items():
        assert key in FILES[stage], f"layout.VIEW_FIGURES[{name!r}]: stage {stage} has no file {key!r}"
