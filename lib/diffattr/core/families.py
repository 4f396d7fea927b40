"""The subset families: what each is for, how its ids read, and the wildcard patterns that match them.

Every other module asks here: the draws (subsets, draws), the rules' wildcard constraints, the
matrix's rows, the LDS's test sets and the missing-behaviour report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    stream: int  # its seed stream: subset i is drawn from SeedSequence([seed, stream, i(, attempt)])
    model: str  # how its subsets' models are made: "unlearn" or "retrain"
    test: bool = False  # held out for the LDS: drawn first, never fitted on
    # Fitted on, and drawn at random: its draws are compared with the test subsets. `skips_tests`: a
    # candidate equal to one is skipped (the datamodel's train family: no fitted model on a test
    # subset); else such a draw is kept and reported, so that the family keeps the sampling
    # distribution its estimator assumes (KernelSHAP's kernel, Banzhaf's uniform coalitions).
    compared_to_tests: bool = False
    skips_tests: bool = False
    redrawn: bool = False  # a first draw equal to an earlier subset of the family is redrawn
    alpha: float | None = None  # its own subset size fraction (else subsets.alpha, where sized by alpha)


# train/test: exactly int(alpha*N) units (the datamodel and the LDS); uniform: each unit in with
# probability 1/2 (Banzhaf by maximum sample reuse); kernel: size drawn from the Shapley kernel
# (KernelSHAP; never redrawn: its coalitions must stay i.i.d.); loo: all units but one; full: all
# units; test25/test75: held-out test subsets at alpha 0.25 / 0.75 (lds.extra_alphas). Skipping the
# uniform or kernel draws that equal a test subset would bias Banzhaf and KernelSHAP (on a 10-unit game
# with lds.extra_alphas [0.25], KernelSHAP's population value moved by 0.31): they keep them.
FAMILIES: dict[str, Family] = {
    "train": Family(1, "unlearn", compared_to_tests=True, skips_tests=True, redrawn=True),
    "test": Family(2, "retrain", test=True, redrawn=True),
    "uniform": Family(3, "unlearn", compared_to_tests=True, redrawn=True),
    "kernel": Family(4, "unlearn", compared_to_tests=True),
    "loo": Family(5, "unlearn"),
    "full": Family(6, "unlearn"),
    "test25": Family(7, "retrain", test=True, redrawn=True, alpha=0.25),
    "test75": Family(8, "retrain", test=True, redrawn=True, alpha=0.75),
}
TEST_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.test)
SKIPPING_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.skips_tests)
COMPARED_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.compared_to_tests)
UNLEARN_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.model == "unlearn")
REDRAWN = tuple(name for name, f in FAMILIES.items() if f.redrawn)
FIXED_ALPHA = {name: f.alpha for name, f in FAMILIES.items() if f.alpha is not None}
# Families whose subsets can be retrained from scratch: the test families and, for the retraining
# baseline, the train family.
RETRAINED = ("train", *TEST_FAMILIES)

# Ids of models that no drawn family holds: all data (the base and pruned models), no data (the
# untrained model: v(empty)), and a counterfactual removal set (named by the units it removes).
FULL_DATA = "full"
EMPTY = "empty"
CF = "cf"


def subset_id(family: str, index: int) -> str:
    return f"{family}-{index:04d}"


# A test subset's further retrainings (lds.test_seeds): seed 1 is rule retrain's model of the subset,
# seed 2 rule retrain_floor's (the LDS ceiling's second retraining, same path), and seed k >= 3 rule
# retrain_floor's model of <subset>-seed<k> (e.g. test-0003-seed3): the same subset, its seed derived
# from (table1.floor_seed, that id) as seed 2's is from (table1.floor_seed, the subset's id).
SEED_SUFFIX = "-seed"
FIRST_SEED_ID = 3  # the first seed with an id of its own


def seed_id(sid: str, seed: int) -> str:
    """The model id of test seed `seed` of subset `sid` in stage retrain_floor: the subset's own id
    for seed 2, <sid>-seed<k> for k >= 3."""
    if seed < 2:
        raise ValueError(f"seed {seed}: seed 1 is rule retrain's model, not retrain_floor's")
    return sid if seed == 2 else f"{sid}{SEED_SUFFIX}{seed}"


def split_seed_id(model_id: str) -> tuple[str, int]:
    """(subset id, test seed) of a retrain_floor model id: test-0003-seed3 -> (test-0003, 3); a plain
    subset id is its seed 2."""
    sid, sep, seed = model_id.rpartition(SEED_SUFFIX)
    if sep and seed.isdigit() and int(seed) >= FIRST_SEED_ID:
        return sid, int(seed)
    return model_id, 2


def base_id(model_id: str) -> str:
    """The subset a model id trains on: test-0003 for test-0003-seed3 (and for test-0003)."""
    return split_seed_id(model_id)[0]


def parse_subset_id(sid: str) -> tuple[str, int]:
    family, _, idx = sid.partition("-")
    if family not in FAMILIES or not idx.isdigit():
        raise ValueError(f"bad subset id {sid!r}; expected <family>-<index> with family in {sorted(FAMILIES)}")
    return family, int(idx)


def family_of(sid: str) -> str:
    """The family an id belongs to (its prefix): `train` for train-0003, `empty`, `cf`."""
    return sid.split("-")[0]


def chunk_name(family: str, first: int, last: int) -> str:
    """A chunk of consecutive candidates first..last of one family (train chunks: unlearning batches)."""
    return f"{family}-{first:04d}-{last:04d}"


def _alternatives(names) -> str:
    return "|".join(names)


# Wildcard patterns (the rules' wildcard_constraints).
SUBSET_PATTERN = (
    rf"({_alternatives(RETRAINED)})-\d{{4}}|({_alternatives(TEST_FAMILIES)})-\d{{4}}{SEED_SUFFIX}\d+"
    rf"|{FULL_DATA}|{EMPTY}|{CF}-[0-9a-f]{{12}}"
)
UNLEARN_BATCH_PATTERN = rf"({_alternatives(UNLEARN_FAMILIES)})-\d{{4}}-\d{{4}}"
# A retrained models' evaluation batch (draws.evaluation_batches: the chunk of the subsets its models
# train on) or retraining batch (draws.retraining_batches: its block of retrain.models_per_job
# candidates), or `cf` for counterfactual removals, then a digest of its members.
EVAL_DIGEST = 8
EVAL_BATCH_PATTERN = rf"(({_alternatives(RETRAINED)})-\d{{4}}-\d{{4}}|{CF})\.[0-9a-f]{{{EVAL_DIGEST}}}"
BATCH_PATTERN = rf"{UNLEARN_BATCH_PATTERN}|{EVAL_BATCH_PATTERN}"
CHUNK_PATTERN = rf"({_alternatives(FAMILIES)})-\d{{4}}-\d{{4}}"
