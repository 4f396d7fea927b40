"""config/README.md (the Snakemake workflow catalog's configuration page) documents what the code
uses: a table row for every key of config/config.yaml with its default, whether it is hashed as
lib/diffattr/workflow/addressing.py hashes it, every section in file order and every preset."""

import re
from typing import Any

import pytest
import yaml
from conftest import ROOT

from diffattr.core import settings
from diffattr.core.resources import ENV_RESOURCES, KNOWN
from diffattr.workflow import addressing

README = ROOT / "config" / "README.md"
# Sections keyed by rule name: one row per rule entry (its whole map is the default); the resource
# names inside the maps are listed in a statement instead (test_resource_names_are_listed).
PER_RULE = ("resources", "groups")
# Sections no stage may list: what `python -m diffattr.plan` reads, and the Slurm limits (read by
# the plan and by rules/common.smk's resources).
PLAN_ONLY = ("power", "slurm_limits")
# README rows for keys config.yaml does not have yet (added on another branch) say this in the
# Default column; only keys config.yaml has are required and compared.
PENDING = "see config.yaml"
NOT_HASHED = "run-time, not hashed"
ROW = re.compile(r"^\|\s*`([A-Za-z0-9_.]+)`\s*\|(.*)\|\s*$")


def config_keys(node: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> default: every leaf, except that a per-rule section stops at its rule entries."""
    out: dict[str, Any] = {}
    for name, value in node.items():
        key = prefix + name
        if isinstance(value, dict) and value and key.split(".")[0] not in PER_RULE:
            out.update(config_keys(value, key + "."))
        elif isinstance(value, dict) and value and key in PER_RULE:
            out.update({f"{key}.{rule}": entry for rule, entry in value.items()})
        else:
            out[key] = value
    return out


def readme_rows(text: str) -> dict[str, tuple[str, str, str]]:
    """Dotted key -> (default, meaning, hashed into) from the README's key tables."""
    rows: dict[str, tuple[str, str, str]] = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        assert len(cells) == 3, f"config/README.md row for {m.group(1)}: expected 4 columns, got {len(cells) + 1}"
        assert m.group(1) not in rows, f"config/README.md: {m.group(1)} has two rows"
        rows[m.group(1)] = (cells[0], cells[1], cells[2])
    return rows


def headings(text: str) -> list[str]:
    return re.findall(r"^### `([A-Za-z0-9_]+)`\s*$", text, flags=re.M)


def section_text(text: str, name: str) -> str:
    m = re.search(rf"^### `{name}`\s*$(.*?)(?=^##)", text, flags=re.M | re.S)
    assert m, f"config/README.md: no section ### `{name}`"
    return m.group(1)


def schema_accepts(schema: dict, dotted: str) -> bool:
    """Whether the schema has a place for `dotted` ($ref and allOf followed)."""
    node = schema
    for part in dotted.split("."):
        while "$ref" in node or "allOf" in node:
            if "$ref" in node:
                node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
            else:
                node = next(n for n in node["allOf"] if "$ref" in n)
        if part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


def unhashed_keys(keys: set[str]) -> set[str]:
    """Keys no stage hashes under any config: settings.UNHASHED less those a stage lists by name
    (behaviour.target names datamodel and budget), run_name, the per-rule sections, and the
    sections only `diffattr.plan` reads."""
    listed = {key for _, stage_keys, _ in addressing.STAGES.values() for key in stage_keys}
    per_rule = {k for k in keys if k.split(".")[0] in PER_RULE}
    plan_only = {
        k for k in keys if k.split(".")[0] in PLAN_ONLY and not any(k == s or k.startswith(s + ".") for s in listed)
    }
    return (set(settings.UNHASHED) - listed) | {"run_name"} | per_rule | plan_only


@pytest.fixture(scope="module")
def doc() -> str:
    return README.read_text()


@pytest.fixture(scope="module")
def cfg() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_every_section_has_a_heading_in_file_order(doc, cfg):
    documented = headings(doc)
    missing = [s for s in cfg if s not in documented]
    assert not missing, f"config/README.md lacks a section heading for {missing}"
    assert [s for s in documented if s in cfg] == list(cfg), "config/README.md: sections not in config.yaml's order"


def test_every_key_has_a_row_with_its_default(doc, cfg):
    rows = readme_rows(doc)
    keys = config_keys(cfg)
    missing = [k for k in keys if k not in rows]
    assert not missing, f"config/README.md lacks a row for {missing}"
    for key, value in keys.items():
        default = rows[key][0]
        if PENDING in default:
            continue
        shown = re.match(r"`([^`]*)`", default)
        assert shown, f"config/README.md {key}: default {default!r} is not a `value`"
        shown_value = yaml.safe_load(shown.group(1))
        assert shown_value == value, f"config/README.md {key}: default {default}, config.yaml {value!r}"


def test_rows_name_keys_the_schema_accepts(doc, cfg):
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    keys = config_keys(cfg)
    for key, (default, _, _) in readme_rows(doc).items():
        if key in keys or PENDING in default:
            continue
        assert schema_accepts(schema, key), f"config/README.md documents {key}, which config/schema.yaml rejects"


def test_hashed_column_says_run_time_exactly_for_unhashed_keys(doc, cfg):
    keys = config_keys(cfg)
    unhashed = unhashed_keys(set(keys))
    for key, (default, _, hashed) in readme_rows(doc).items():
        if key not in keys and PENDING in default:
            continue  # not in this config.yaml yet: settings.UNHASHED may not list it yet either
        says = hashed.startswith(NOT_HASHED)
        truth = "hashes nothing of it" if key in unhashed else "hashes it"
        assert says == (key in unhashed), f"config/README.md {key}: says {hashed!r}, but addressing.py {truth}"


def test_resource_names_and_env_overrides_are_listed(doc):
    text = section_text(doc, "resources")
    for name in sorted(KNOWN) + sorted(ENV_RESOURCES):
        assert f"`{name}`" in text, f"config/README.md resources section does not name `{name}`"


def test_every_preset_is_named(doc):
    presets = sorted(p.name for p in (ROOT / "config" / "presets").glob("*.yaml"))
    assert presets
    m = re.search(r"^## Presets\s*$(.*?)(?=^## |\Z)", doc, flags=re.M | re.S)
    assert m, "config/README.md has no ## Presets section"
    missing = [name for name in presets if f"presets/{name}" not in m.group(1)]
    assert not missing, f"config/README.md's Presets section does not name {missing}"


def test_relative_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc):
        if "://" in target:
            continue
        assert (README.parent / target).exists(), f"config/README.md links to {target}, which does not exist"
