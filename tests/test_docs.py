"""The documentation's promises that a reader acts on: README is a short front door, its quick start
names commands that exist, and every relative link (with its #anchor) in README, docs/ and
config/README.md leads somewhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped except '-' and '_', spaces to '-'."""
    text = FENCE.sub("", page.read_text())
    out = set()
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            title = re.sub(r"[`*]", "", m.group(1)).strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [a or b for a, b in LINK.findall(text)]


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    bad, name = [], page.relative_to(root)
    for target in links(page):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{name}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{name}: {target} (no heading #{anchor})")
    return bad


def test_every_relative_link_and_anchor_exists():
    assert all(p.exists() for p in PAGES)
    bad = [b for page in PAGES for b in broken_links(page)]
    assert not bad, "\n".join(bad)


def test_the_link_check_catches_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Title here\n\n[x](b.md) [y](#title-here) [z](#nope) ![i](c.png)\n")
    bad = broken_links(tmp_path / "a.md", root=tmp_path)
    assert bad == ["a.md: b.md (no such file)", "a.md: #nope (no heading #nope)", "a.md: c.png (no such file)"]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = FENCE.search(section)
    assert block, "README's quick start has no command block"
    lines = [ln.split("#", 1)[0].strip() for ln in block.group(0).splitlines()[1:-1]]
    return [ln for ln in lines if ln]


def test_readme_is_a_front_door_of_at_most_200_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_the_quick_start_is_two_make_commands_that_exist_and_ci_runs_the_test_one():
    commands = quick_start_commands()
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for cmd in commands:
        target = cmd.split()[1]
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no target {target!r}"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", ["README.md"])
def test_every_make_target_and_file_the_readme_names_exists(page):
    text = (ROOT / page).read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make (\w+)", text)):
        assert re.search(rf"^{target}:", makefile, re.M), (
            f"{page} names `make {target}`; the Makefile has no such target"
        )
    for path in set(re.findall(r"`((?:config|docs|bench|profiles|envs|lib|tests)/[\w./-]+)`", text)):
        if path.startswith("bench/out"):  # the benchmarks' git-ignored output
            continue
        assert (ROOT / path).exists(), f"{page} names {path}, which does not exist"


def test_readme_prose_names_no_commit():
    # Commit hashes belong in docs/results.md, beside the run they name.
    text = FENCE.sub("", (ROOT / "README.md").read_text())
    hashes = [
        w for w in re.findall(r"(?<![-\w.])[0-9a-f]{7,40}\b", text) if re.search(r"[a-f]", w) and re.search(r"\d", w)
    ]
    assert not hashes, f"README names commits {hashes}; move them to docs/results.md"
