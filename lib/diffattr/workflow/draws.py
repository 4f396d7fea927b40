"""The subsets a config asks for, drawn at start-up (cheap: permutations of N units): which candidate
ids exist, which are skipped for equalling a test subset, and so every id list and chunk the rules
expand. `SubsetPlan` draws once; the rules, the config checks and `missing` read it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..core.families import (
    CF,
    COMPARED_FAMILIES,
    EVAL_DIGEST,
    FIXED_ALPHA,
    SKIPPING_FAMILIES,
    TEST_FAMILIES,
    base_id,
    chunk_name,
    family_of,
    seed_id,
    split_seed_id,
    subset_id,
)


@dataclass(frozen=True)
class FamilyDraw:
    """One family's subsets: candidate ids family-0000 .. family-{candidates - 1}, of which `used`
    are fitted on (or tested on) and `skipped` equal a test subset (train family); `equal_to_test`
    used ones equal to a test subset, kept (uniform, kernel); `redrawn` candidates were redrawn for
    equalling an earlier one of the family; `duplicates` used ones equal an earlier used one
    (kernel only: its draws are kept i.i.d.)."""

    candidates: int
    used: tuple[int, ...]
    skipped: tuple[int, ...] = ()
    redrawn: int = 0
    duplicates: int = 0
    equal_to_test: tuple[int, ...] = ()


def unit_count(config: Mapping[str, Any]) -> int:
    """How many attribution units the config defines, known before any job runs."""
    att = config["attribution"]
    key = json.dumps(
        {"data": config["data"], "unit": att["unit"], "k": (att.get("kmeans") or {}).get("k"), "csv": att.get("csv")},
        sort_keys=True,
    )
    return _unit_count(key)


@functools.lru_cache(maxsize=8)
def _unit_count(key: str) -> int:
    from ..core.data import class_names_of, sample_count
    from ..core.settings import DataSource

    spec = json.loads(key)
    source = DataSource.from_config(spec["data"])
    if spec["unit"] == "kmeans":
        return int(spec["k"])
    if spec["unit"] == "csv":
        # The same reading as the jobs' (subsets.csv_units): a bad file stops here naming its line.
        from ..attribution.subsets import read_unit_csv

        unit_of, problems = read_unit_csv(spec["csv"], sample_count(source))
        if problems:
            raise ValueError(problems[0])
        return len(set(unit_of.values()))
    if spec["unit"] == "sample":
        return sample_count(source)
    return len(class_names_of(source))


def family_sizes(config: Mapping[str, Any], n_units: int) -> dict[str, int]:
    """Subsets per family the config asks for: train and test always, the families the chosen
    estimators are fitted on or need (estimators.ESTIMATORS), and a test family per lds.extra_alphas."""
    from ..attribution.estimators import ESTIMATORS

    sub = config["subsets"]
    sizes = {"train": int(sub["n_train"]), "test": int(sub["n_test"])}
    chosen = [ESTIMATORS[name] for name in config["datamodel"]["estimators"]]
    wanted = {e.family for e in chosen} | {f for e in chosen for f in e.needs}
    count = {
        "uniform": lambda: int(sub["n_uniform"]),
        "kernel": lambda: int(sub["n_kernel"]),
        "loo": lambda: _loo_count(config, n_units),
        "full": lambda: 1,
    }
    for family in ("uniform", "kernel", "loo", "full"):
        if family in wanted:
            sizes[family] = count[family]()
    for alpha in config["lds"].get("extra_alphas", []):
        sizes[f"test{round(float(alpha) * 100):02d}"] = int(sub["n_test"])
    return sizes


def _loo_count(config: Mapping[str, Any], n_units: int) -> int:
    if config["attribution"]["unit"] == "sample":
        raise ValueError(
            "config key datamodel.estimators: 'loo' needs one model per unit, so group units "
            "(attribution.unit class, kmeans or csv), not 'sample'; remove 'loo'"
        )
    return n_units


# Start-up asks for the same draws from several places (config checks, the rules, `missing`).
@functools.lru_cache(maxsize=8)
def _subset_draws(n_units: int, alpha: float, seed: int, sizes: tuple[tuple[str, int], ...]) -> dict[str, FamilyDraw]:
    wanted = dict(sizes)
    draws: dict[str, FamilyDraw] = {}
    test_keys: set[bytes] = set()
    test_sizes: Counter[int] = Counter()
    for family in TEST_FAMILIES:
        if family in wanted:
            _check_test_capacity(family, wanted[family], n_units, alpha)
            draws[family], keys = _take(n_units, alpha, seed, family, wanted[family], set())
            test_keys |= keys
            test_sizes[_fixed_size(family, n_units, alpha)] += len(keys)
    if "loo" in wanted:
        _check_loo(wanted, n_units, alpha)
    for family, n in wanted.items():
        if family in COMPARED_FAMILIES:
            skip = family in SKIPPING_FAMILIES
            _check_capacity(family, n, n_units, alpha, test_sizes if skip else Counter())
            draws[family], _ = _take(n_units, alpha, seed, family, n, test_keys, skip)
        elif family not in draws:  # loo, full: defined sets, nothing to skip
            draws[family] = FamilyDraw(n, tuple(range(n)))
    return {family: draws[family] for family in wanted}


def _take(
    n_units: int, alpha: float, seed: int, family: str, n: int, tests: set[bytes], skip: bool = True
) -> tuple[FamilyDraw, set[bytes]]:
    """The first n candidates of `family`, skipping those equal to a test mask (`tests`) when `skip`,
    else keeping and counting them; the used ones' mask keys."""
    from ..attribution.subsets import family_subsets, mask_key

    used, skipped, equal, redrawn, duplicates, keys = [], [], [], 0, 0, set()
    draws = family_subsets(n_units, alpha, seed, family)
    index = 0
    while len(used) < n:
        units, redraws = next(draws)
        key = mask_key(units, n_units)
        redrawn += redraws > 0
        if key in tests and skip:
            skipped.append(index)
        else:
            if key in tests:
                equal.append(index)
            used.append(index)
            duplicates += key in keys
            keys.add(key)
        index += 1
    return FamilyDraw(index, tuple(used), tuple(skipped), redrawn, duplicates, tuple(equal)), keys


def _fixed_size(family: str, n_units: int, alpha: float) -> int:
    from ..attribution.subsets import subset_size

    return subset_size(n_units, FIXED_ALPHA.get(family, alpha))


def _extra_alpha(family: str) -> str:
    return f"{int(family[4:]) / 100:g}"


def _check_test_capacity(family: str, n: int, n_units: int, alpha: float) -> None:
    size = _fixed_size(family, n_units, alpha)
    exist = math.comb(n_units, size)
    if n > exist:
        extra = "" if family == "test" else f" (lds.extra_alphas {_extra_alpha(family)})"
        fix = (
            "raise the number of units" if family == "test" else f"remove {_extra_alpha(family)} from lds.extra_alphas"
        )
        raise ValueError(
            f"config key subsets.n_test: {n} distinct test subsets of {size} of {n_units} units{extra} "
            f"are asked for but only {exist} exist; lower subsets.n_test or {fix}"
        )


def _check_capacity(family: str, n: int, n_units: int, alpha: float, test_sizes: Mapping[int, int]) -> None:
    """Enough distinct subsets of a family besides the test subsets it skips (`test_sizes`: their
    count per size; empty for a family that keeps draws equal to a test subset)."""
    tests = sum(test_sizes.values())
    if family == "train":
        size = _fixed_size(family, n_units, alpha)
        exist = math.comb(n_units, size) - test_sizes.get(size, 0)
        what = f"training subsets of {size} of {n_units} units"
    else:  # uniform, kernel: any size from 1 to N-1
        exist = 2**n_units - 2 - tests
        what = f"{family} subsets of {n_units} units (of 1 to {n_units - 1} units)"
    # kernel draws are i.i.d. (repeats kept), so it needs only one subset to draw from.
    need = 1 if family == "kernel" else n
    if need > exist:
        key = f"subsets.n_{family}"
        besides = f" besides the {tests} test subsets" if tests else ""
        raise ValueError(
            f"config key {key}: {need} distinct {what} are asked for but only {exist} exist{besides}; "
            f"lower {key} or raise the number of units"
        )


def _check_loo(wanted: Mapping[str, int], n_units: int, alpha: float) -> None:
    """Leave-one-out fits on every subset of N-1 units: no test family may have that size."""
    for family in TEST_FAMILIES:
        if family in wanted and _fixed_size(family, n_units, alpha) == n_units - 1:
            fix = "lower subsets.alpha" if family == "test" else f"remove {_extra_alpha(family)} from lds.extra_alphas"
            raise ValueError(
                f"config key datamodel.estimators: 'loo' fits on every subset of {n_units - 1} of "
                f"{n_units} units, and each {family} subset is one of them; {fix} or remove 'loo'"
            )


def subset_chunks(family: str, n: int, per_job: int) -> dict[str, list[str]]:
    """Chunk name -> its subset ids, `per_job` consecutive candidate ids of one family per chunk.
    The name spells its range (e.g. train-0010-0019), so a chunk's content never changes under the
    same name when the number of subsets does. Train chunks are the unlearning batches."""
    out = {}
    for start in range(0, n, per_job):
        stop = min(start + per_job, n)
        out[chunk_name(family, start, stop - 1)] = [subset_id(family, i) for i in range(start, stop)]
    return out


def evaluation_batches(model_ids: Sequence[str], chunk_of: Mapping[str, str], per_job: int) -> dict[str, list[str]]:
    """Retrained models evaluated together, one job a batch: batch name -> its model ids (sorted).
    A model joins the batch of the subsets chunk its subset lies in (`chunk_of`; a test seed's, its
    subset's), a counterfactual removal (absent from `chunk_of`) one of `per_job` consecutive sorted
    removals. The name is the chunk (or `cf`) and a digest of the members: whatever changes which
    models a batch holds (lds.ceiling_models, baseline.n_models, subsets.exclude, a new
    counterfactual plan) names a new batch, and a batch's content never changes under one name."""
    by_chunk: dict[str, list[str]] = {}
    removals = []
    for mid in sorted(set(model_ids)):
        chunk = chunk_of.get(base_id(mid))
        if chunk is None:
            removals.append(mid)
        else:
            by_chunk.setdefault(chunk, []).append(mid)
    groups = [*by_chunk.items(), *((CF, removals[i : i + per_job]) for i in range(0, len(removals), per_job))]
    return _named(groups)


def retraining_batches(model_ids: Sequence[str], per_job: int) -> dict[str, list[str]]:
    """Retrained models trained together, one job a batch: batch name -> its model ids (sorted). A
    batch is a block of `per_job` consecutive candidate indices of one family (0-3, 4-7, ... at 4),
    one test seed's models a batch (a seed's model beside its subset's others, not beside its own
    other seeds), holding the block's models this config trains; counterfactual removals in runs of
    `per_job` of their own. A batch is named by its block's range and a digest of its members, so its
    content never changes under one name, and a change of which models a config trains (an excluded
    subset, more test subsets, another ceiling) renames only the blocks whose members change; their
    models already trained are copied, not retrained (stages.retrain)."""
    blocks: dict[tuple, list[str]] = {}
    removals = []
    for mid in sorted(set(model_ids)):
        family = family_of(mid)
        if family == CF:
            removals.append(mid)
            continue
        sid, seed = split_seed_id(mid)
        first = _index(sid) // per_job * per_job
        blocks.setdefault((family, first, seed), []).append(mid)
    groups = [(chunk_name(family, first, first + per_job - 1), ids) for (family, first, _), ids in blocks.items()]
    groups += [(CF, removals[i : i + per_job]) for i in range(0, len(removals), per_job)]
    return _named(groups)


def _index(sid: str) -> int:
    """The candidate index of a subset id (test-0003 -> 3)."""
    return int(sid.split("-")[1])


def _named(groups: Sequence[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """Batch name (`key`.<digest of its members>) -> members, per (key, members) group."""

    def digest(ids: list[str]) -> str:
        return hashlib.sha256(",".join(ids).encode()).hexdigest()[:EVAL_DIGEST]

    return {f"{key}.{digest(ids)}": ids for key, ids in groups}


class SubsetPlan:
    """Every subset of a config, drawn once: the families' draws, the chunks (one subsets file and,
    for unlearned families, one unlearning batch each) and the id lists the stages take. Refuses,
    naming the key, a config that asks for more distinct subsets than exist. `n_units`: the units
    the data define (counted from the config when not given)."""

    def __init__(self, config: Mapping[str, Any], n_units: int | None = None):
        sub = config["subsets"]
        self.n_units = unit_count(config) if n_units is None else int(n_units)
        sizes = family_sizes(config, self.n_units)
        self.draws = _subset_draws(self.n_units, float(sub["alpha"]), int(sub["seed"]), tuple(sizes.items()))
        self.exclude = tuple(sub.get("exclude", []))
        self.per_job = int(config["unlearn"]["subsets_per_job"])
        self.models_per_job = int(config["retrain"]["models_per_job"])
        self.n_baseline = int(config["baseline"]["n_models"])
        self.n_pairs = int(config["table1"]["n_pairs"])
        self.n_ceiling = int(config["lds"].get("ceiling_models", 0))
        self.test_seeds = int(config["lds"].get("test_seeds", 1))

    def used(self, family: str) -> list[str]:
        """The ids of a family that the config uses: its first n candidates not equal to a test subset."""
        draw = self.draws.get(family)
        return [subset_id(family, i) for i in draw.used] if draw else []

    def ids(self, family: str) -> list[str]:
        """The used ids of one family that enter the matrix: all but `subsets.exclude`."""
        return [s for s in self.used(family) if s not in self.exclude]

    def ids_of(self, families) -> list[str]:
        return [sid for family in families for sid in self.ids(family)]

    @cached_property
    def chunks(self) -> dict[str, list[str]]:
        """Every subset chunk, over each family's candidates: a chunk holds the skipped candidates of
        its range too, so its content never depends on the test families."""
        out: dict[str, list[str]] = {}
        for family, draw in self.draws.items():
            out.update(subset_chunks(family, draw.candidates, self.per_job))
        return out

    @cached_property
    def chunk_of(self) -> dict[str, str]:
        """Subset id -> the chunk that holds it (every candidate, skipped ones included)."""
        return {sid: name for name, members in self.chunks.items() for sid in members}

    @cached_property
    def train_batches(self) -> dict[str, list[str]]:
        """The datamodel's unlearning batches: train chunks holding a used subset."""
        used = set(self.used("train"))
        return {
            name: members for name, members in self.chunks.items() if family_of(name) == "train" and used & set(members)
        }

    @cached_property
    def train_batch_models(self) -> dict[str, tuple[int, int]]:
        """Per unlearning batch: (its models the matrix holds, the models it trains). A batch trains
        every candidate of its chunk, those skipped for equalling a test subset and the excluded ones
        too; the equal-compute cost charges all of it to the models the matrix holds."""
        rows = set(self.ids("train"))
        return {name: (len(rows & set(members)), len(members)) for name, members in self.train_batches.items()}

    @cached_property
    def baseline(self) -> list[str]:
        """Training subsets the retraining baseline retrains: the first baseline.n_models used ones not
        excluded."""
        return [s for s in self.used("train")[: self.n_baseline] if s not in self.exclude]

    @cached_property
    def pairs(self) -> list[str]:
        """Subsets whose unlearned and retrained models Table 1 compares (FID2)."""
        return self.baseline[: self.n_pairs]

    @cached_property
    def ceiling(self) -> list[str]:
        """Test subsets retrained a second time (seed table1.floor_seed) for the LDS ceiling: the first
        lds.ceiling_models test ids not excluded (0 = no ceiling)."""
        return self.ids("test")[: self.n_ceiling]

    @cached_property
    def seed_ids(self) -> list[str]:
        """The retrain_floor model ids of test seeds 2..lds.test_seeds of every test subset the matrix
        holds (families.seed_id; none at 1 seed). Seed 2 is the subset's own id: a ceiling subset's
        second retraining, reused."""
        tests = self.ids_of(TEST_FAMILIES)
        return [seed_id(sid, k) for k in range(2, self.test_seeds + 1) for sid in tests]

    @cached_property
    def evaluated(self) -> dict[str, list[str]]:
        """The retrained models whose behaviours this config reads, per model kind (retrain_cf's are
        known only once its plan exists): retrain, the test subsets and the retraining baseline's;
        retrain_floor, the LDS ceiling's second retrainings (one test seed) or the test seeds 2..s and
        the pair subsets' second retrainings (lds.test_seeds above 1)."""
        floor = [*self.seed_ids]
        if self.test_seeds > 1:
            floor += self.pairs
        else:
            floor += self.ceiling
        return {"retrain": [*self.ids_of(TEST_FAMILIES), *self.baseline], "retrain_floor": floor}

    @cached_property
    def trained(self) -> dict[str, list[str]]:
        """The retrained models this config trains, per model kind (retrain_cf's are known only once
        its plan exists): those `evaluated` and the pair subsets' (Table 1 reads both of their
        retrainings; at one test seed their second ones are not evaluated)."""
        evaluated = self.evaluated
        return {
            "retrain": evaluated["retrain"],
            "retrain_floor": [
                *evaluated["retrain_floor"],
                *(s for s in self.pairs if s not in evaluated["retrain_floor"]),
            ],
        }

    @cached_property
    def retrain_batches(self) -> dict[str, dict[str, list[str]]]:
        """Per model kind of `trained`: its retraining batches, one job each (retraining_batches)."""
        return {kind: retraining_batches(ids, self.models_per_job) for kind, ids in self.trained.items()}

    @cached_property
    def retrain_batch_of(self) -> dict[str, dict[str, str]]:
        """Per model kind of `trained`: model id -> its retraining batch."""
        return {
            kind: {mid: name for name, members in batches.items() for mid in members}
            for kind, batches in self.retrain_batches.items()
        }

    @cached_property
    def eval_batches(self) -> dict[str, dict[str, list[str]]]:
        """Per model kind of `evaluated`: its evaluation batches (evaluation_batches)."""
        return {kind: evaluation_batches(ids, self.chunk_of, self.per_job) for kind, ids in self.evaluated.items()}

    @cached_property
    def eval_batch_of(self) -> dict[str, dict[str, str]]:
        """Per model kind of `evaluated`: model id -> its evaluation batch."""
        return {
            kind: {mid: name for name, members in batches.items() for mid in members}
            for kind, batches in self.eval_batches.items()
        }

    def report(self) -> dict[str, dict]:
        """Per family: candidates drawn, used, skipped for equalling a test subset (ids; train), kept
        though equal to one (ids; uniform, kernel), candidates redrawn for equalling an earlier one
        of the family, and duplicates kept (kernel)."""
        return {
            family: {
                "candidates": d.candidates,
                "used": len(d.used),
                "skipped_equal_to_test": [subset_id(family, i) for i in d.skipped],
                # uniform and kernel keep such draws (their estimators' sampling distributions need them)
                "kept_equal_to_test": [subset_id(family, i) for i in d.equal_to_test],
                "redrawn": d.redrawn,
                "duplicates_kept": d.duplicates,
            }
            for family, d in self.draws.items()
        }
