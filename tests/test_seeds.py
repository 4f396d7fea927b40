"""lds.test_seeds: each test subset retrained with s seeds, the LDS target their mean, the ceiling from
two halves of the seeds, the proxy fidelity against the mean retraining, and the store reused (seed 2
is the ceiling's second retraining; raising s adds only the new seeds)."""

import copy
import json
import re

import numpy as np
import pytest
from conftest import SMOKE, copy_workflow, job_counts, snakemake

from diffattr.attribution.lds import ceiling_of, mean_retrainings
from diffattr.attribution.matrix import Matrix, average_seeds, read_matrix, write_matrix
from diffattr.core.atomic import write_json
from diffattr.core.families import TEST_FAMILIES, base_id, seed_id, split_seed_id
from diffattr.core.registry import downstream
from diffattr.core.settings import Bootstrap
from diffattr.core.stats import lds, lds_ceiling_of_seeds, spearman
from diffattr.missing import load_configs
from diffattr.stages.lds import evaluate_lds
from diffattr.stages.matrix import build_matrix
from diffattr.workflow.addressing import build_plan
from diffattr.workflow.config import ConfigError, validate_config
from diffattr.workflow.dag import needed_jobs
from diffattr.workflow.draws import SubsetPlan


def _subset(family: str, i: int, rng) -> dict:
    units = sorted(rng.choice(6, 3, replace=False).tolist())
    return {
        "id": f"{family}-{i:04d}",
        "unit": "class",
        "alpha": 0.5,
        "n_units": 6,
        "unit_indices": units,
        "unit_ids": [f"class-{u}" for u in units],
    }


def test_the_lds_target_is_the_mean_over_seeds(tmp_path):
    """Three seeds whose mean ranks the test subsets unlike any single seed (and unlike their median):
    lds.json's `actual` and its LDS follow the mean, while the matrix file keeps seed 1's."""
    rng = np.random.default_rng(0)
    # Their mean 4, 5.67, 3.67, 4.33, 3 ranks the five subsets unlike any seed (Spearman 0.05 to 0.4).
    seeds = np.array([[8.0, 2.0, 2.0, 9.0, 4.0], [1.0, 7.0, 8.0, 3.0, 0.0], [3.0, 8.0, 1.0, 1.0, 5.0]])
    mean = seeds.mean(axis=0)
    assert all(spearman(s, mean) < 0.5 for s in seeds) and spearman(np.median(seeds, axis=0), mean) < 0.5
    rows, further = [], {}
    for i in range(8):
        sub = _subset("train", i, rng)
        write_json(tmp_path / f"{sub['id']}.json", {"metrics": {"fid": float(rng.normal())}})
        rows.append(("unlearn", sub, tmp_path / f"{sub['id']}.json"))
    for i in range(5):
        sub = _subset("test", i, rng)
        write_json(tmp_path / f"{sub['id']}.json", {"metrics": {"fid": float(seeds[0, i])}})
        rows.append(("retrain", sub, tmp_path / f"{sub['id']}.json"))
        for k in (2, 3):  # seed 2: the subset's own id in retrain_floor; seed 3: test-000i-seed3
            further[seed_id(sub["id"], k)] = {"fid": float(seeds[k - 1, i])}
    m = build_matrix(rows, tmp_path / "m.h5", "abc")
    test_rows = m.rows("retrain")
    averaged = average_seeds(m, further, 3)
    assert averaged.behaviour("fid")[test_rows] == pytest.approx(mean)
    assert averaged.behaviour("fid")[m.rows("unlearn")] == pytest.approx(m.behaviour("fid")[m.rows("unlearn")])
    assert averaged.n_seeds == 3 and np.isnan(averaged.seeds("fid")[:, m.rows("unlearn")]).all()
    write_matrix(tmp_path / "copy.h5", averaged)  # every seed kept on disk
    assert read_matrix(tmp_path / "copy.h5").seeds("fid")[:, test_rows] == pytest.approx(seeds)
    coefficients = {f"class-{u}": float(u) for u in range(6)}
    write_json(
        tmp_path / "dm.json",
        {
            "target": "fid",
            "primary": "ridge",
            "lower_is_better": True,
            "n_train_models": 8,
            "estimators": {"ridge": {"coefficients": coefficients, "intercept": 0.0}},
        },
    )
    files = {"datamodel": tmp_path / "dm.json", "matrix": tmp_path / "m.h5"}
    boot = Bootstrap(n_bootstrap=50, ci_level=0.95, seed=0)
    out = evaluate_lds(**files, lds=tmp_path / "lds.json", settings=boot, seeds=further, test_seeds=3)
    assert out["actual"] == pytest.approx(mean) and out["test_seeds"] == 3
    assert out["lds"] == pytest.approx(lds(out["estimators"]["ridge"]["predicted"], mean))
    assert out["ceiling"]["n_seeds"] == 3 and out["ceiling"]["halves"] == [1, 2]
    assert read_matrix(tmp_path / "m.h5").behaviour("fid")[test_rows] == pytest.approx(seeds[0])
    one = evaluate_lds(**files, lds=tmp_path / "lds1.json", settings=boot)
    assert one["actual"] == pytest.approx(seeds[0]) and "test_seeds" not in one  # one seed: as before
    # A seed missing or one too many is an error naming the subset or the model, not a shorter mean.
    with pytest.raises(ValueError, match=r"test-0004: no behaviour for seed\(s\) \[3\]"):
        average_seeds(m, {k: v for k, v in further.items() if k != "test-0004-seed3"}, 3)
    with pytest.raises(ValueError, match="test-0000-seed3: not one of seeds 2..2"):
        average_seeds(m, further, 2)


def test_seed_ids_name_the_subset_and_a_seed_of_their_own():
    assert seed_id("test-0003", 2) == "test-0003" and seed_id("test25-0003", 4) == "test25-0003-seed4"
    assert split_seed_id("test-0003-seed4") == ("test-0003", 4) and split_seed_id("test-0003") == ("test-0003", 2)
    assert base_id("test75-0010-seed12") == "test75-0010"
    with pytest.raises(ValueError, match="seed 1 is rule retrain's"):
        seed_id("test-0003", 1)


def _simulated_seeds(n_seeds: int, n_models: int, tau: float, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    expected = tau * rng.normal(size=n_models)
    return expected, expected + noise * rng.normal(size=(n_seeds, n_models))


@pytest.mark.parametrize("n_seeds", [2, 3, 4, 5, 8])
def test_the_ceiling_from_halves_recovers_the_planted_noise_and_bound(n_seeds):
    """Expected behaviours of sd 1 over 600 test subsets, each seed adding noise of sd 1.5: the halves
    give one retraining's noise sd (with unequal halves at odd s too), the target's noise falls as 1/s,
    and the bound is the LDS the expected behaviour itself scores against the s-seed mean."""
    tau, noise = 1.0, 1.5
    expected, y = _simulated_seeds(n_seeds, 600, tau, noise, seed=n_seeds)
    c = lds_ceiling_of_seeds(y, 100, 0.95, 0)
    assert c["n_seeds"] == n_seeds and sum(c["halves"]) == n_seeds
    assert c["noise_sd"] == pytest.approx(noise, rel=0.08)
    assert c["noise_sd_target"] ** 2 * n_seeds == pytest.approx(c["noise_sd"] ** 2)
    assert c["bound"] == pytest.approx(lds(expected, y.mean(axis=0)), abs=0.04)
    # Through a matrix: the noise share of the averaged target, against the truth sigma^2/s / spread^2.
    m = Matrix(
        masks=np.zeros((600, 2), bool),
        behaviours=y.mean(axis=0)[:, None],
        behaviour_names=["fid"],
        unit_ids=["a", "b"],
        subset_ids=[f"test-{i:04d}" for i in range(600)],
        source=["retrain"] * 600,
        train_seconds=np.zeros(600),
        seed_behaviours=y[:, :, None],
    )
    got = ceiling_of(m, "fid", "test", None, Bootstrap(n_bootstrap=100, ci_level=0.95, seed=0))
    truth = (noise**2 / n_seeds) / (tau**2 + noise**2 / n_seeds)
    assert got["noise_share"] == pytest.approx(truth, abs=0.06)
    assert got["n_subsets"] == 600 and got["spread_sd"] == pytest.approx(np.std(y.mean(axis=0), ddof=1))


def test_the_noise_share_of_the_mean_falls_as_one_over_s():
    """Same expected behaviours (sd 0.5), one retraining's noise sd 1, more seeds: the target's measured
    noise variance is 1/s (4000 test subsets: its sampling error about 2 %), and its share of the
    target's spread is the planted (1/s) / (0.25 + 1/s)."""
    shares = []
    for s in (2, 3, 4, 8):
        _, y = _simulated_seeds(s, 4000, 0.5, 1.0, seed=10 + s)
        c = lds_ceiling_of_seeds(y, 20, 0.95, 0)
        assert c["noise_sd_target"] ** 2 == pytest.approx(1 / s, rel=0.1)
        share = c["noise_sd_target"] ** 2 / np.var(y.mean(axis=0), ddof=1)
        assert share == pytest.approx((1 / s) / (0.25 + 1 / s), rel=0.1)
        shares.append(share)
    assert shares == sorted(shares, reverse=True)


def test_the_proxy_fidelity_compares_against_the_mean_retraining_where_there_are_two():
    first = {"train-0001": {"fid": 1.0}, "train-0002": {"fid": 4.0}, "train-0003": {"fid": 2.0}}
    mean, averaged = mean_retrainings(first, {"train-0002": {"fid": 0.0}})
    assert mean == {"train-0001": {"fid": 1.0}, "train-0002": {"fid": 2.0}, "train-0003": {"fid": 2.0}}
    assert averaged == ["train-0002"]


def test_one_seed_renames_nothing_and_more_rename_the_analysis_only(config):
    plain = copy.deepcopy(config)
    del plain["lds"]["test_seeds"]  # a config from before the key: the same names
    assert build_plan(config).hashes == build_plan(plain).hashes
    two, three = copy.deepcopy(config), copy.deepcopy(config)
    two["lds"]["test_seeds"], three["lds"]["test_seeds"] = 2, 3
    base, h2, h3 = build_plan(config).hashes, build_plan(two).hashes, build_plan(three).hashes
    # Only the stages that read the target: the matrix, the datamodel and the counterfactual check
    # (whose retrainings Snakemake would redo after a renamed removal plan) keep their names.
    changed = {s for s in base if base[s] != h2[s]}
    assert changed == downstream({"lds", "estimators", "budget"}) & set(base)
    assert not changed & {"matrix", "datamodel", "cf_plan", "retrain_cf", "counterfactual", "table1"}
    # Every model keeps its name: the retrainings of s = 2 are the ones s = 3 reuses.
    for stage in ("retrain", "retrain_floor", "behaviour_retrain_floor", "unlearn"):
        assert base[stage] == h2[stage] == h3[stage]
    assert h2["budget"] != h3["budget"] and h2["lds"] != h3["lds"]
    assert build_plan(two).specs["budget"]["upstream"]["behaviour_retrain_floor"] == base["behaviour_retrain_floor"]


def test_seed_two_is_the_ceilings_retraining_and_raising_s_adds_only_new_seeds(config):
    config["lds"]["test_seeds"] = 3
    plan3 = SubsetPlan(config)
    config["lds"]["test_seeds"] = 2
    plan2 = SubsetPlan(config)
    tests = plan2.ids_of(TEST_FAMILIES)
    assert plan2.seed_ids == tests and set(plan2.ceiling) <= set(plan2.seed_ids)
    assert plan3.seed_ids[: len(tests)] == plan2.seed_ids
    assert plan3.seed_ids[len(tests) :] == [seed_id(sid, 3) for sid in tests]
    config["lds"]["test_seeds"] = 1
    assert SubsetPlan(config).seed_ids == []


@pytest.mark.parametrize("value", [0, 1.5])
def test_test_seeds_below_one_or_not_an_integer_is_a_one_line_error(config, schema_path, value):
    config["lds"]["test_seeds"] = value
    with pytest.raises(ConfigError) as err:
        validate_config(config, schema_path)
    lines = str(err.value).split("\n")
    assert len(lines) == 1 and lines[0].startswith("config key lds.test_seeds:"), lines


def test_a_finished_store_gains_only_the_new_seeds_retrainings(smoke_run, tmp_path):
    """The smoke run (3 ceiling subsets of 4 + 4 test subsets) dry-run with more seeds: seed 2 of the
    ceiling subsets is in the store, so only the other test subsets' seed 2 (and at 3 seeds, every
    seed 3) is retrained; a retraining batch the new seeds rename copies the ceiling's models from
    the stored batch (stages.retrain), so only models no stored batch holds are trained. At 1 seed,
    stated or not, nothing is to be done."""
    stored = {
        sid
        for job in (smoke_run / "results/store/retrain_floor").glob("*/*/job.json")
        for sid in json.loads(job.read_text())["subsets"]
    }
    (tmp_path / "s1.yaml").write_text("lds: {test_seeds: 1}\n")
    assert "Nothing to be done" in snakemake(smoke_run, "-n", *SMOKE, str(tmp_path / "s1.yaml")).stdout
    plan = SubsetPlan(load_configs([str(smoke_run / p) for p in SMOKE[1:]]))
    tests, ceiling = plan.ids_of(TEST_FAMILIES), plan.ceiling
    for s, new in ((2, len(tests) - len(ceiling)), (3, 2 * len(tests) - len(ceiling))):
        (tmp_path / f"s{s}.yaml").write_text(f"lds: {{test_seeds: {s}}}\n")
        out = snakemake(smoke_run, "-n", *SMOKE, str(tmp_path / f"s{s}.yaml")).stdout
        jobs = job_counts(out)
        config = load_configs([str(smoke_run / p) for p in SMOKE[1:]] + [str(tmp_path / f"s{s}.yaml")])
        planned = re.findall(r"^rule retrain_floor:\n(?:\s+.*\n)*?\s+wildcards: batch=(\S+)", out, re.M)
        assert len(planned) == jobs["retrain_floor"], (planned, jobs)
        members = [m for b in planned for m in SubsetPlan(config).retrain_batches["retrain_floor"][b]]
        assert len([m for m in members if m not in stored]) == new and set(ceiling) <= stored, (members, stored)
        # Their behaviours and the pair subsets' second retrainings', in evaluation batches: every
        # batch of the second retrainings holds other models than at 1 seed, so each is new.
        batches = SubsetPlan(config).eval_batches["retrain_floor"]
        assert {m for members in batches.values() for m in members} >= set(plan.pairs) | set(ceiling)
        assert jobs["behaviour_retrained"] == len(batches) and "behaviour" not in jobs, jobs
        assert not {"retrain", "unlearn", "matrix", "datamodel", "cf_plan", "retrain_cf", "table1"} & set(jobs)


def test_the_plan_counts_the_new_seeds_retrainings(tmp_path):
    """`make plan` forecasts from Snakemake's DAG: at 3 seeds, every test subset's seeds 2 and 3 less
    the ceiling's second retrainings are further retrain_floor models (in retraining batches),
    evaluated in the second retrainings' evaluation batches (one per subsets chunk), which replace
    the ceiling's."""
    work = copy_workflow(tmp_path / "wf")
    (work / "s3.yaml").write_text("lds: {test_seeds: 3}\n")
    one, three = needed_jobs(work, SMOKE[1:], 2), needed_jobs(work, [*SMOKE[1:], "s3.yaml"], 2)
    subsets = one.globals["SUBSETS"]
    added = 2 * len(subsets.ids_of(TEST_FAMILIES)) - len(subsets.ceiling)

    def count(dag, rule):
        return sum(j.rule == rule for j in dag.jobs)

    def trained(dag, rule):
        """The models the DAG's jobs of retraining rule `rule` train."""
        batches = dag.globals["RETRAIN_BATCHES"][rule]
        return [m for j in dag.jobs if j.rule == rule for m in batches[j.wildcards["batch"]]]

    assert len(trained(three, "retrain_floor")) == len(trained(one, "retrain_floor")) + added
    floor = {name: dag.globals["EVAL_BATCHES"]["retrain_floor"] for name, dag in (("one", one), ("three", three))}
    assert count(three, "behaviour_retrained") == count(one, "behaviour_retrained") - len(floor["one"]) + len(
        floor["three"]
    )
    assert count(three, "behaviour") == count(one, "behaviour")
    source = three.globals["BEHAVIOUR_SOURCE"]
    evaluated = [
        m
        for j in three.jobs
        if j.rule == "behaviour_retrained" and source[j.wildcards["bhash"]] == "retrain_floor"
        for m in floor["three"][j.wildcards["batch"]]
    ]
    # every second retraining (the pair subsets' and the test seeds') evaluated once
    assert sorted(evaluated) == sorted(set(trained(three, "retrain_floor")))
    assert count(three, "retrain") == count(one, "retrain") and count(three, "retrain_cf") == count(one, "retrain_cf")
