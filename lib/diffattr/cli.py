"""`diffattr`: snakemake with dotted `--config` keys.

Snakemake 9's own argument parser refuses `--config subsets.alpha=0.3` (a traceback, before any
workflow code runs) and passes `--config 'subsets={alpha: 0.3}'` as strings. `diffattr` takes the
same arguments as `snakemake`, turns every dotted `--config` entry into a YAML overlay written under
`.snakemake/diffattr/` (named by its content, so it is never rewritten with other values), appends
that overlay to `--configfile`, and runs snakemake. An overlay file, unlike `--config`, reaches the
jobs that Slurm starts, which re-read the configfiles but re-parse `--config` with Snakemake's parser.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .core.atomic import write_text
from .core.hashing import HASH_LENGTH

PROG = "diffattr"
OVERLAY_DIR = Path(".snakemake") / "diffattr"
# Snakemake's own rule for a --config key, applied to each dotted part.
KEY_PART = re.compile(r"[A-Za-z_][\w-]*\Z")
CONFIG_FLAGS = ("--config", "-C")
CONFIGFILE_FLAGS = ("--configfile", "--configfiles")
DIRECTORY_FLAGS = ("--directory", "-d")


class UsageError(ValueError):
    """A malformed command line; the message is one line naming the entry and the fix."""


def _take_values(argv: Sequence[str], start: int) -> tuple[list[str], int]:
    """The values of an nargs='+' option starting at argv[start]: up to the next option."""
    values, i = [], start
    while i < len(argv) and not (argv[i].startswith("-") and len(argv[i]) > 1):
        values.append(argv[i])
        i += 1
    return values, i


def split_args(argv: Sequence[str]) -> tuple[list[str], list[str], list[str], str | None]:
    """(other arguments, --config entries, --configfile paths, --directory) of a snakemake command
    line. Repeated flags accumulate, as a user expects (argparse would keep only the last)."""
    rest: list[str] = []
    entries: list[str] = []
    configfiles: list[str] = []
    directory = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, inline = arg.partition("=")
        if flag in CONFIG_FLAGS + CONFIGFILE_FLAGS and arg.startswith("--") and eq:
            values, i = [inline], i + 1
        elif arg in CONFIG_FLAGS + CONFIGFILE_FLAGS:
            values, i = _take_values(argv, i + 1)
        elif arg in DIRECTORY_FLAGS and i + 1 < len(argv):
            directory = argv[i + 1]
            rest += argv[i : i + 2]
            i += 2
            continue
        else:
            if flag == "--directory" and eq:
                directory = inline
            rest.append(arg)
            i += 1
            continue
        if not values:
            raise UsageError(f"{flag} needs at least one value; e.g. {flag} {_example(flag)}")
        (entries if flag in CONFIG_FLAGS else configfiles).extend(values)
    return rest, entries, configfiles, directory


def _example(flag: str) -> str:
    return "subsets.alpha=0.3" if flag in CONFIG_FLAGS else "config/config.yaml over.yaml"


def dotted_overlay(entries: Sequence[str], plain_keys: bool = False) -> tuple[dict[str, Any], list[str]]:
    """(nested overlay of the dotted entries, the plain entries left for snakemake). Values are read
    as YAML (`0.3` a number, `true` a boolean, `[a, b]` a list), as they would be in an overlay file.
    `plain_keys`: a plain entry (`run_name=x`) goes into the overlay too, for a reader with no
    snakemake --config behind it (diffattr.plan)."""
    overlay: dict[str, Any] = {}
    plain: list[str] = []
    problems: list[str] = []
    for entry in entries:
        key, eq, text = entry.partition("=")
        if not eq:
            problems.append(f"--config entry '{entry}' is not key=value; write e.g. --config subsets.alpha=0.3")
            continue
        if "." not in key and not plain_keys:
            plain.append(entry)
            continue
        parts = key.split(".")
        bad = [p for p in parts if not KEY_PART.match(p)]
        if bad:
            problems.append(
                f"--config key '{key}': '{bad[0]}' is not a key name; write dotted names, e.g. unlearn.steps=50"
            )
            continue
        try:
            value = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            problems.append(f"--config key '{key}': '{text}' is not a YAML value; quote it, e.g. {key}='\"{text}\"'")
            continue
        node = overlay
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(f"--config key '{key}': '{part}' is given a value and keys at once; keep one")
                break
            node = child
        else:
            if isinstance(node.get(parts[-1]), dict):
                problems.append(f"--config key '{key}': '{key}' is given a value and keys at once; keep one")
            else:
                node[parts[-1]] = value
    if problems:
        raise UsageError("\n".join(problems))
    return overlay, plain


def write_overlay(overlay: dict[str, Any], workdir: Path) -> Path:
    """The overlay as a YAML file named by its content (written atomically; an existing file of that
    name already holds these exact values)."""
    # Named by its YAML text, which any --config value has (JSON has no dates or NaN).
    text = yaml.safe_dump(overlay, sort_keys=True, default_flow_style=False)
    path = OVERLAY_DIR / f"config-{hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]}.yaml"
    if not (workdir / path).exists():
        write_text(workdir / path, f"# from: {PROG} --config (dotted keys)\n{text}")
    return path


def snakemake_args(argv: Sequence[str], cwd: Path | None = None) -> list[str]:
    """The snakemake command line equivalent to a diffattr one."""
    rest, entries, configfiles, directory = split_args(argv)
    overlay, plain = dotted_overlay(entries)
    if overlay:
        # Snakemake resolves --configfile against the current directory, before --directory applies.
        path = write_overlay(overlay, Path(cwd or Path.cwd()) / (directory or "."))
        configfiles.append(str(Path(directory or ".") / path))
    out = list(rest)
    if configfiles:
        out += ["--configfile", *configfiles]
    if plain:
        out += ["--config", *plain]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        print(f"\nusage: {PROG} [snakemake arguments]   e.g. {PROG} --cores all --config subsets.alpha=0.3")
        return 0
    try:
        args = snakemake_args(argv)
    except UsageError as exc:
        print("\n".join(f"{PROG}: {line}" for line in str(exc).splitlines()), file=sys.stderr)
        return 2
    os.execv(sys.executable, [sys.executable, "-m", "snakemake", *args])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
