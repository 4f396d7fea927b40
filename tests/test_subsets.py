import copy
import itertools
import math

import numpy as np
import pytest

from diffattr.attribution.subsets import (
    draw_subset,
    family_subsets,
    make_units,
    mask_key,
    mask_of,
    subset_of,
    subset_size,
)
from diffattr.core.families import parse_subset_id, subset_id
from diffattr.workflow.config import ConfigError, validate_config
from diffattr.workflow.draws import SubsetPlan


@pytest.mark.parametrize("n, alpha", [(10, 0.5), (1797, 0.5), (7, 0.25), (20, 0.75)])
def test_subset_size_is_exactly_int_alpha_n(n, alpha):
    s = draw_subset(n, alpha, 0, "train", 3)
    assert len(s) == int(alpha * n) == len(set(s.tolist()))
    assert s.min() >= 0 and s.max() < n and np.all(np.diff(s) > 0)


def test_subsets_are_deterministic_and_distinct():
    a = draw_subset(100, 0.5, 7, "train", 0)
    assert np.array_equal(a, draw_subset(100, 0.5, 7, "train", 0))
    assert not np.array_equal(a, draw_subset(100, 0.5, 7, "train", 1))
    assert not np.array_equal(a, draw_subset(100, 0.5, 8, "train", 0))


N = 10  # the default's class units: C(10, 5) = 252 subsets of 5, so draws do collide


def _default_plus_test25(config: dict) -> dict:
    config["lds"]["extra_alphas"] = [0.25]
    return config


def masks_of(config: dict, ids: list[str]) -> dict[str, bytes]:
    """The workflow's mask of each subset id (the draw its chunk file holds), as comparable bytes."""
    out = {}
    for sid in ids:
        family, index = parse_subset_id(sid)
        units, _ = subset_of(N, config["subsets"]["alpha"], config["subsets"]["seed"], family, index)
        out[sid] = mask_key(units, N)
    return out


def test_the_first_draws_collide_at_10_units(config):
    """The reason for the redraws and skips: the i.i.d. first draws repeat at 10 units."""
    same = lambda a, b: draw_subset(N, 0.5, 0, *a).tolist() == draw_subset(N, 0.5, 0, *b).tolist()  # noqa: E731
    assert same(("test", 1), ("train", 33)) and same(("test", 2), ("train", 0)) and same(("test", 13), ("train", 30))
    assert same(("train", 14), ("train", 4)) and same(("train", 35), ("train", 2))


def test_no_datamodel_subset_equals_a_test_subset_at_10_units(config):
    """The datamodel's train family skips candidates equal to a test subset (no fitted model on a test
    subset); uniform and kernel keep them, so that Banzhaf and KernelSHAP sample the distributions
    their estimates assume, and report each one."""
    config = _default_plus_test25(config)
    plan = SubsetPlan(config, N)
    test = set(masks_of(config, plan.used("test") + plan.used("test25")).values())
    assert len(test) == 40
    for family, n in (("train", 40), ("loo", 10), ("full", 1)):
        used = plan.used(family)
        assert len(used) == n
        clash = {sid for sid, key in masks_of(config, used).items() if key in test}
        assert not clash, f"{family}: {sorted(clash)} equal a test subset"
    # The skipped candidates are exactly the ones equal to a test subset, e.g. train-0000 = test-0002.
    report = plan.report()
    skipped = report["train"]["skipped_equal_to_test"]
    assert "train-0000" in skipped and "train-0033" in skipped and "train-0030" in skipped
    assert set(masks_of(config, skipped).values()) <= test
    for family in ("uniform", "kernel"):
        used = plan.used(family)
        assert used == [subset_id(family, i) for i in range(40)] and report[family]["skipped_equal_to_test"] == []
        clash = sorted(sid for sid, key in masks_of(config, used).items() if key in test)
        assert report[family]["kept_equal_to_test"] == clash
    assert report["kernel"]["kept_equal_to_test"]  # with test25, size-2 coalitions often equal a test subset


def _game(n: int = N, seed: int = 3):
    """An enumerable 10-unit game with interactions: additive part, sparse pairwise terms and a
    concave term in the coalition's size."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1.5, n)
    pair = np.triu(rng.normal(0, 1.0, (n, n)) * (rng.random((n, n)) < 0.3), 1)

    def v(mask: np.ndarray) -> float:
        m = mask.astype(float)
        return float(w @ m + m @ pair @ m + 4 * np.sqrt(m.sum()))

    return v


def _exact_values(v, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley and Banzhaf values by enumerating every coalition."""
    shapley, banzhaf = np.zeros(n), np.zeros(n)
    for bits in range(2**n):
        mask = np.array([(bits >> i) & 1 for i in range(n)], dtype=bool)
        for i in np.flatnonzero(~mask):
            with_i = mask.copy()
            with_i[i] = True
            gain = v(with_i) - v(mask)
            s = int(mask.sum())
            shapley[i] += math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) * gain
            banzhaf[i] += gain / 2 ** (n - 1)
    return shapley, banzhaf


def test_the_plans_population_estimates_equal_exact_shapley_and_banzhaf(config):
    """The plan's population estimate: each estimator fitted on every coalition its family can draw,
    weighted by how often it is drawn, less what the plan skips (the test subsets, for a family that
    skips them). With lds.extra_alphas [0.25] skipping the test subsets moved KernelSHAP by 0.31 and
    Banzhaf by 0.07; keeping them leaves both within 0.05 of their exact values."""
    from diffattr.attribution.estimators import banzhaf_msr, kernel_shap
    from diffattr.attribution.subsets import shapley_kernel_sizes
    from diffattr.core.families import FAMILIES

    config = _default_plus_test25(config)
    plan = SubsetPlan(config, N)
    tests = set(masks_of(config, plan.used("test") + plan.used("test25")).values())
    v = _game()
    shapley, banzhaf = _exact_values(v)
    assert np.abs(shapley).max() > 2  # a game whose values are not small against the tolerance
    kernel_p = shapley_kernel_sizes(N)
    rows: dict[str, list[np.ndarray]] = {"uniform": [], "kernel": []}
    for size in range(1, N):
        # Kernel: P(size) spread over the size's coalitions, as integer repeats (an unweighted fit).
        repeats = round(kernel_p[size - 1] / math.comb(N, size) / (kernel_p[N // 2 - 1] / math.comb(N, N // 2)) * 4)
        for units in itertools.combinations(range(N), size):
            mask = mask_of(np.array(units), N)
            rows["uniform"].append(mask)  # Bernoulli(1/2) per unit, empty and full set redrawn
            rows["kernel"].extend([mask] * repeats)
    for family in rows:
        skipped = tests if FAMILIES[family].skips_tests else set()
        rows[family] = [m for m in rows[family] if mask_key(np.flatnonzero(m), N) not in skipped]
    masks = np.array(rows["uniform"])
    got_banzhaf = banzhaf_msr(masks, np.array([v(m) for m in masks])).coef
    masks = np.array(rows["kernel"])
    full, empty = v(np.ones(N, bool)), v(np.zeros(N, bool))
    got_shapley = kernel_shap(masks, np.array([v(m) for m in masks]), full, empty).coef
    assert np.abs(got_shapley - shapley).max() < 0.05
    assert np.abs(got_banzhaf - banzhaf).max() < 0.05


def test_no_within_family_duplicates_at_10_units(config):
    config = _default_plus_test25(config)
    report = SubsetPlan(config, N).report()
    for family in ("train", "test", "test25", "uniform"):
        candidates = [subset_id(family, i) for i in range(report[family]["candidates"])]
        assert len(set(masks_of(config, candidates).values())) == len(candidates), family
    assert report["train"]["redrawn"] > 0 and report["test25"]["redrawn"] > 0
    # Kernel draws stay i.i.d.: repeats are kept, and counted.
    kernel = list(masks_of(config, SubsetPlan(config, N).used("kernel")).values())
    assert report["kernel"]["redrawn"] == 0
    assert report["kernel"]["duplicates_kept"] == len(kernel) - len(set(kernel)) > 0


def test_redraws_keep_the_size_and_are_a_pure_function_of_the_prefix():
    sizes = {"train": 5, "test": 5, "test25": 2, "test75": 7}
    for family, size in sizes.items():
        n = min(60, math.comb(N, size))  # test25: all 45 subsets of 2, the last ones found by redraws
        drawn = list(itertools.islice(family_subsets(N, 0.5, 0, family), n))
        assert [len(u) for u, _ in drawn] == [size] * n
        assert len({tuple(u) for u, _ in drawn}) == n
        for i in (0, 17, n - 1):
            units, redraws = subset_of(N, 0.5, 0, family, i)
            assert units.tolist() == drawn[i][0].tolist() and redraws == drawn[i][1]
    # Uniform subsets keep their drawn size unless no subset of that size is left: at 4 units every
    # one of the 14 non-empty, non-full subsets is drawn once, then there is none left.
    uniform = [tuple(u) for u, _ in itertools.islice(family_subsets(4, 0.5, 0, "uniform"), 14)]
    assert len(set(uniform)) == 14
    with pytest.raises(ValueError, match="ask for fewer uniform subsets"):
        list(itertools.islice(family_subsets(4, 0.5, 0, "uniform"), 15))


def test_raising_counts_never_changes_an_existing_subset(config):
    config = _default_plus_test25(config)
    more = copy.deepcopy(config)
    more["subsets"]["n_train"] = 60
    assert SubsetPlan(more, N).used("train")[:40] == SubsetPlan(config, N).used("train")
    # A chunk's members (and so its file) do not depend on n_test, which only decides the skips.
    tests = copy.deepcopy(config)
    tests["subsets"]["n_test"] = 40
    chunks, chunks_more_tests = SubsetPlan(config, N).chunks, SubsetPlan(tests, N).chunks
    for name in set(chunks) & set(chunks_more_tests):
        assert chunks[name] == chunks_more_tests[name]
    assert len(set(SubsetPlan(tests, N).used("train")) - set(SubsetPlan(config, N).used("train"))) > 0
    assert set(SubsetPlan(tests, N).used("train")) <= {f"train-{i:04d}" for i in range(100)}


def test_baseline_and_table1_pairs_skip_candidates_equal_to_a_test_subset(config):
    # train-0000 equals test-0002: it is drawn (its chunk holds it) but never retrained or paired.
    assert masks_of(config, ["train-0000"])["train-0000"] == masks_of(config, ["test-0002"])["test-0002"]
    assert SubsetPlan(config, N).baseline == [f"train-{i:04d}" for i in range(1, 9)]
    assert SubsetPlan(config, N).pairs == ["train-0001", "train-0002"]
    assert "train-0000" in SubsetPlan(config, N).chunk_of and "train-0000" not in SubsetPlan(config, N).ids("train")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda c: c["subsets"].update(n_train=300),
            "config key subsets.n_train: 300 distinct training subsets of 5 of 10 units are asked for but only 232 "
            "exist besides the 20 test subsets; lower subsets.n_train or raise the number of units",
        ),
        (lambda c: c["subsets"].update(n_test=253), "config key subsets.n_test: 253 distinct test subsets of 5 of 10"),
        (
            lambda c: c["lds"].update(extra_alphas=[0.25]) or c["subsets"].update(n_test=46),
            "only 45 exist; lower subsets.n_test or remove 0.25 from lds.extra_alphas",
        ),
        (
            lambda c: c["subsets"].update(n_uniform=1023),
            "config key subsets.n_uniform: 1023 distinct uniform subsets of 10 units (of 1 to 9 units) are asked "
            "for but only 1022 exist; lower subsets.n_uniform or raise the number of units",
        ),
        (
            lambda c: c["subsets"].update(alpha=0.9, n_test=5),
            "config key datamodel.estimators: 'loo' fits on every subset of 9 of 10 units",
        ),
    ],
)
def test_more_distinct_subsets_than_exist_are_refused(config, schema_path, mutate, message):
    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config, schema_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_chunk_files_hold_the_start_up_draws(config, tmp_path):
    """The subsets job draws what start-up planned: each record is subset_of's draw, with its redraws,
    and a chunk holds its skipped candidates too."""
    from diffattr.attribution.subsets import read_subsets
    from diffattr.core.data import Dataset, save_dataset
    from diffattr.core.settings import SubsetDraws, Units
    from diffattr.stages.subsets import make_subsets

    labels = np.repeat(np.arange(N), 3)
    save_dataset(
        tmp_path / "data.npz",
        Dataset(np.zeros((len(labels), 1, 2, 2), np.float32), labels, tuple(str(c) for c in range(N))),
    )
    chunks = SubsetPlan(config, N).chunks
    for name in ("train-0000-0009", "train-0030-0039", "test-0010-0019"):
        make_subsets(
            data=tmp_path / "data.npz",
            chunk=tmp_path / f"{name}.json",
            settings=SubsetDraws(Units("class"), alpha=0.5, seed=0),
            chunk_id=name,
            members=chunks[name],
            n_units=N,
        )
    records = read_subsets(
        [tmp_path / f"{name}.json" for name in ("train-0000-0009", "train-0030-0039", "test-0010-0019")]
    )
    assert {"train-0000", "train-0030", "train-0033"} <= set(records)  # skipped, still drawn
    for sid, rec in records.items():
        family, index = parse_subset_id(sid)
        units, redraws = subset_of(N, 0.5, 0, family, index)
        assert rec["unit_indices"] == units.tolist() and rec["redraws"] == redraws
        assert rec["sample_indices"] == sorted(i for u in units for i in range(3 * u, 3 * u + 3))
    with pytest.raises(ValueError, match="11 were counted at start-up"):
        make_subsets(
            data=tmp_path / "data.npz",
            chunk=tmp_path / "x.json",
            settings=SubsetDraws(Units("class"), alpha=0.5, seed=0),
            chunk_id="train-0000-0009",
            members=chunks["train-0000-0009"],
            n_units=N + 1,
        )


def test_subsets_are_balanced_over_units():
    counts = np.zeros(10)
    for i in range(400):
        counts += mask_of(draw_subset(10, 0.5, 0, "train", i), 10)
    assert np.all(np.abs(counts / 400 - 0.5) < 0.1)


def test_bad_alpha_and_ids_are_rejected():
    with pytest.raises(ValueError, match="subsets.alpha"):
        subset_size(10, 0.05)
    with pytest.raises(ValueError, match="bad subset id"):
        parse_subset_id("valid-1")
    assert parse_subset_id(subset_id("test", 12)) == ("test", 12)


def test_units_by_class_and_sample():
    labels = np.array([0, 1, 1, 2, 0])
    by_class = make_units(labels, ("a", "b", "c"), "class")
    assert by_class.ids == ("class-a", "class-b", "class-c")
    assert by_class.indices(np.array([0, 2])).tolist() == [0, 3, 4]
    by_sample = make_units(labels, ("a", "b", "c"), "sample")
    assert len(by_sample) == 5 and by_sample.indices(np.array([4, 1])).tolist() == [1, 4]
    with pytest.raises(ValueError, match="attribution.unit"):
        make_units(labels, ("a", "b", "c"), "cluster")
