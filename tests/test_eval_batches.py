"""Retrained models are evaluated in batches (rule behaviour_retrained): which models share a batch, how
a batch is named, that a batch's behaviours equal one-model jobs' bit for bit, and what the layout,
`missing` and the forecast make of them."""

import json
import logging
import re
import shutil

import pytest
import torch
from conftest import SCHED, write_reference

from diffattr.core.families import EVAL_BATCH_PATTERN, UNLEARN_BATCH_PATTERN
from diffattr.core.settings import job_settings
from diffattr.modelling.models import build_unet, save_model
from diffattr.workflow.draws import SubsetPlan, evaluation_batches
from diffattr.workflow.layout import Layout, batch_behaviours, in_batch

CHUNKS = {f"test-{i:04d}": "test-0000-0003" if i < 4 else "test-0004-0007" for i in range(8)}
CHUNKS |= {f"train-{i:04d}": "train-0000-0005" for i in range(6)}


def test_models_share_the_batch_of_their_subsets_chunk():
    ids = ["test-0005", "test-0000", "test-0001", "test-0001-seed3", "train-0002"]
    batches = evaluation_batches(ids, CHUNKS, per_job=4)
    assert sorted(batches.values()) == [
        ["test-0000", "test-0001", "test-0001-seed3"],  # a test seed joins its subset's chunk
        ["test-0005"],
        ["train-0002"],
    ]
    for name, members in batches.items():
        assert re.fullmatch(EVAL_BATCH_PATTERN, name) and not re.fullmatch(UNLEARN_BATCH_PATTERN, name)
        assert name.startswith(CHUNKS[members[0].split("-seed")[0]] + ".")


def test_a_batch_is_named_by_its_members():
    """The same models give the same name in any order; one model more or less, another name (so a
    batch's content never changes under one name), and the other batches keep theirs."""
    one = evaluation_batches(["test-0001", "test-0000", "test-0004"], CHUNKS, per_job=4)
    assert one == evaluation_batches(["test-0004", "test-0000", "test-0001"], CHUNKS, per_job=4)
    fewer = evaluation_batches(["test-0000", "test-0004"], CHUNKS, per_job=4)
    assert set(one) ^ set(fewer) and len(set(one) & set(fewer)) == 1
    assert {n.split(".")[0] for n in set(one) - set(fewer)} == {"test-0000-0003"}


def test_counterfactual_removals_are_batched_by_count():
    cf = [f"cf-{i:012x}" for i in range(7)]
    batches = evaluation_batches(cf[::-1], CHUNKS, per_job=3)
    assert sorted(map(len, batches.values())) == [1, 3, 3]
    assert sorted(m for members in batches.values() for m in members) == cf
    assert all(re.fullmatch(EVAL_BATCH_PATTERN, n) and n.startswith("cf.") for n in batches)


def test_a_config_evaluates_its_second_retrainings_where_it_reads_them(config):
    """At one test seed the second retrainings evaluated are the LDS ceiling's; at three, every test
    subset's seeds 2 and 3 and the pair subsets' (the proxy fidelity's mean); excluding a test subset
    renames only its chunk's batches."""
    plan = SubsetPlan(config)
    assert plan.evaluated["retrain"] == [*plan.ids_of(("test", "test25", "test75")), *plan.baseline]
    assert plan.evaluated["retrain_floor"] == plan.ceiling
    config["lds"]["test_seeds"] = 3
    three = SubsetPlan(config)
    assert sorted(three.evaluated["retrain_floor"]) == sorted([*three.seed_ids, *three.pairs])
    config["lds"]["test_seeds"] = 1
    config["subsets"]["exclude"] = [plan.ids("test")[-1]]
    fewer = SubsetPlan(config).eval_batches["retrain"]
    renamed = set(plan.eval_batches["retrain"]) - set(fewer)
    assert len(renamed) == 1 and plan.ids("test")[-1] in plan.eval_batches["retrain"][renamed.pop()]


def test_the_layout_finds_a_model_in_its_evaluation_batch():
    batches = evaluation_batches(["test-0000", "test-0001"], CHUNKS, per_job=4)
    (name,) = batches
    layout = Layout({"behaviour_retrain": "h" * 12}, CHUNKS, batch_of={"behaviour_retrain": {"test-0001": name}})
    assert layout.path("behaviour_retrain", "behaviour", subset="test-0001").endswith(f"/{name}/test-0001.json")


def _tiny(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model_cfg = {"block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 4, "attention": False}
    return build_unet(model_cfg, 8, 1).eval()


def test_a_batch_gives_each_model_the_behaviour_its_own_job_gives(tmp_path):
    """Two models evaluated in one batch job (one extractor, one reference load) and each in a job of
    its own: the same behaviour values, bit for bit; the batch records its members and start-up."""
    from diffattr.stages.behaviour import evaluate_model
    from diffattr.stages.behaviour_retrained import evaluate_retrained

    write_reference(tmp_path)
    sampling = {"metrics": ["fid", "class_entropy"], "n_samples": 20, "ddim_steps": 2, "seed": 0, "eta": 0.0}
    settings = job_settings("behaviour", sampling, {"behaviour": {"batch_size": 20}}, scheduler=SCHED)
    # the two models in two retraining batches (batch folders of rule retrain), listed in their job records
    models, trains, folders = [], [], []
    for i in range(2):
        folder, sid = tmp_path / f"retrained{i}", f"test-000{i}"
        save_model(_tiny(i), in_batch(folder, "retrain", "model", sid))
        in_batch(folder, "retrain", "train", sid).write_text(json.dumps({"train_seconds": 1.0, "steps": 3}))
        in_batch(folder, "retrain", "job").write_text(json.dumps({"subsets": [sid]}))
        models.append(in_batch(folder, "retrain", "model", sid))
        trains.append(in_batch(folder, "retrain", "train", sid))
        folders.append(folder)
    common = {"classifier": tmp_path / "clf.pt", "reference": tmp_path / "ref.npz", "settings": settings}
    record = evaluate_retrained(
        retrained=folders,
        **common,
        source="retrain",
        members=["test-0000", "test-0001"],
        behaviour=tmp_path / "batch",
        log=logging.getLogger("test"),
        startup=2.0,
    )
    assert record["subsets"] == ["test-0000", "test-0001"] and 0 < record["startup_share"] < 1
    batched = batch_behaviours([tmp_path / "batch"], ["test-0001", "test-0000"])
    assert [p.split("/")[-1] for p in batched] == ["test-0001.json", "test-0000.json"]
    alone = [
        evaluate_model(
            model=m, train=t, **common, source="retrain", subset=f"test-000{i}", behaviour=tmp_path / f"{i}.json"
        )
        for i, (m, t) in enumerate(zip(models, trains))
    ]
    for i, one in enumerate(alone):
        got = json.loads((tmp_path / "batch" / f"test-000{i}.json").read_text())
        assert got["metrics"] == one["metrics"] and got["subset"] == one["subset"] == f"test-000{i}"
    assert alone[0]["metrics"] != alone[1]["metrics"]  # two models, two behaviours: the check can fail
    with pytest.raises(ValueError, match=r"no model of \['test-0001'\]"):
        evaluate_retrained(
            retrained=folders[:1],
            **common,
            source="retrain",
            members=["test-0000", "test-0001"],
            behaviour=tmp_path / "bad",
            log=logging.getLogger("test"),
        )
    assert not (tmp_path / "bad").exists()


def test_missing_names_the_failed_retraining_not_its_batch_mates(config, tmp_path):
    """A retraining that failed takes its retraining batch with it and leaves its evaluation batch
    unrun: `missing` names that subset only, the member the batch's log shows starting last (excluding
    it names new batches, which train and evaluate the others); with no log to tell, every member of
    the lost batch; where every model of an evaluation batch exists but its evaluation failed, all
    of them."""
    from diffattr.missing import missing_subsets
    from diffattr.workflow.addressing import build_plan

    plan = SubsetPlan(config)
    layout = Layout(
        build_plan(config).hashes,
        plan.chunk_of,
        batch_of={"behaviour_retrain": plan.eval_batch_of["retrain"], "retrain": plan.retrain_batch_of["retrain"]},
    )

    def touch(rel: str) -> None:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")

    for family in plan.draws:
        for sid in plan.used(family):
            stage = "behaviour_unlearn" if family in ("train", "uniform", "kernel", "loo", "full") else None
            if stage:
                touch(layout.path(stage, "behaviour", subset=sid))
    tests = plan.ids_of(("test", "test25", "test75"))
    first = plan.eval_batches["retrain"][plan.eval_batch_of["retrain"][tests[0]]]
    lost_batch = plan.retrain_batch_of["retrain"][first[1]]
    lost = plan.retrain_batches["retrain"][lost_batch]
    assert len(lost) > 2 and lost[1] == first[1]  # batch mates before and after the failed one
    for sid in tests:
        touch(layout.path("retrain", "train", subset=sid))  # a model folder's presence stands for the model
        (tmp_path / layout.path("retrain", "model", subset=sid)).mkdir(parents=True, exist_ok=True)
        if sid not in first:
            touch(layout.path("behaviour_retrain", "behaviour", subset=sid))
    batch_dir = tmp_path / layout.path("retrain", "batch", batch=lost_batch)
    shutil.rmtree(batch_dir)  # the retraining of lost[1] failed: its batch is not stored
    assert missing_subsets(config, tmp_path) == [s for s in tests if s in lost]  # no log: cannot tell
    log = tmp_path / layout.log("retrain", "batch").format(batch=lost_batch)
    log.parent.mkdir(parents=True)
    log.write_text(
        f"retrain {lost[0]}: 30 images, ...\nretrain {lost[0]}: step 5/5\nretrain {lost[1]}: 30 images, ...\n"
        f"FloatingPointError: retrain {lost[1]}: loss became nan at step 3; lower the lr\n"
    )
    assert missing_subsets(config, tmp_path) == [first[1]]
    for sid in lost:  # all trained; the evaluation failed
        touch(layout.path("retrain", "train", subset=sid))
        (tmp_path / layout.path("retrain", "model", subset=sid)).mkdir(parents=True, exist_ok=True)
    assert missing_subsets(config, tmp_path) == [s for s in tests if s in first]


def test_the_forecast_sizes_an_evaluation_batch_by_its_models(config):
    from diffattr.workflow.forecast import cf_retrainings, context, rule_work

    plan = SubsetPlan(config)
    ctx = context(config, plan, {"h": "retrain"})
    params = {"params_full": 1000, "params_pruned": 500}
    n, steps = config["behaviour"]["n_samples"], config["behaviour"]["ddim_steps"]
    for name, members in plan.eval_batches["retrain"].items():
        work = rule_work("behaviour_retrained", {"bhash": "h", "batch": name}, ctx, params)
        assert work.images == len(members) * n and work.image_steps == {"full": len(members) * n * steps}
    # a counterfactual batch, unknown before its plan: at most unlearn.subsets_per_job models
    pending = rule_work("behaviour_retrained", {"bhash": "h", "batch": "cf-pending-0"}, ctx, params)
    bound = min(config["unlearn"]["subsets_per_job"], cf_retrainings(config))
    assert pending.images == bound * n
