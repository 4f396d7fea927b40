"""Retrained models are trained in batches (rules retrain, retrain_floor, retrain_cf; one job each):
which models share a batch, how a batch is named, that a model trained beside others is the model
trained alone bit for bit, and that a renamed batch copies the models a finished one holds."""

import json
import logging
import re
import shutil

import pytest
import torch
from conftest import SCHED

from diffattr.core.data import load_digits_dataset, save_dataset
from diffattr.core.families import EVAL_BATCH_PATTERN
from diffattr.core.settings import job_settings
from diffattr.modelling.models import load_model
from diffattr.stages.retrain import retrain_batch
from diffattr.workflow.draws import SubsetPlan, retraining_batches
from diffattr.workflow.layout import in_batch

LOG = logging.getLogger("test")


def test_a_family_s_models_are_cut_into_blocks_named_by_their_members():
    ids = ["test-0005", "test-0000", "test-0001", "test-0001-seed3", "train-0002", "cf-0123456789ab", "cf-fedcba987654"]
    batches = retraining_batches(ids, 2)
    assert list(batches.values()) == [
        ["test-0000", "test-0001"],
        ["test-0001-seed3"],  # one test seed's models a batch
        ["test-0005"],
        ["train-0002"],
        ["cf-0123456789ab", "cf-fedcba987654"],  # removals have no index: runs of their own
    ]
    names = list(batches)
    assert [n.split(".")[0] for n in names] == [
        "test-0000-0001",
        "test-0000-0001",
        "test-0004-0005",
        "train-0002-0003",
        "cf",
    ]
    assert len(set(names)) == len(names) and all(re.fullmatch(EVAL_BATCH_PATTERN, n) for n in names)
    # An excluded model renames its own block's batch only; a new test subset adds its block's batch
    # or renames the block it joins; no name ever holds other members.
    fewer = retraining_batches([i for i in ids if i != "test-0000"], 2)
    assert set(names) - set(fewer) == {names[0]} and fewer[next(iter(set(fewer) - set(names)))] == ["test-0001"]
    more = retraining_batches([*ids, "test-0004", "test-0006"], 2)
    assert set(names) - set(more) == {names[2]} and len(set(more) - set(names)) == 2
    one_each = retraining_batches(ids, 1)
    assert sorted(m for b in one_each.values() for m in b) == sorted(ids) and {len(b) for b in one_each.values()} == {1}


def test_the_default_trains_each_retrained_model_once_in_batches_of_models_per_job(config):
    plan = SubsetPlan(config)
    per_job = config["retrain"]["models_per_job"]
    for kind, ids in plan.trained.items():
        batches = plan.retrain_batches[kind]
        members = [m for b in batches.values() for m in b]
        assert sorted(members) == sorted(set(ids)) and max(map(len, batches.values())) == per_job
        assert all(plan.retrain_batch_of[kind][m] == name for name, b in batches.items() for m in b)
    # Table 1's pair subsets are retrained a second time although, at one test seed, not evaluated.
    assert set(plan.pairs) <= set(plan.trained["retrain_floor"]) - set(plan.evaluated["retrain_floor"])
    assert plan.trained["retrain"] == plan.evaluated["retrain"]


def _setup(tmp_path, config):
    ds = load_digits_dataset()
    save_dataset(tmp_path / "data.npz", ds)
    subsets = {
        sid: {"id": sid, "sample_indices": list(range(start, start + 40))}
        for sid, start in (("test-0000", 0), ("test-0001", 100), ("test-0002", 200))
    }
    (tmp_path / "subsets.json").write_text(json.dumps({"subsets": subsets}))
    recipe = {**config["train_base"], "steps": 4, "batch_size": 8}
    settings = job_settings(
        "train_base", recipe, {"train_base": {"log_every": 2}}, scheduler=SCHED, model=config["model"], seed=3
    )
    return {"data": tmp_path / "data.npz", "subsets": tmp_path / "subsets.json", "settings": settings, "log": LOG}


def _weights(batch, sid):
    return load_model(in_batch(batch, "retrain", "model", sid)).state_dict()


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_model_trained_in_a_batch_is_the_model_trained_alone(tmp_path, config):
    """Each model keeps its own seed (derived from the stage's seed and its id) and its own images, so a
    batch of two gives the two one-model jobs' checkpoints bit for bit; the job records each model's
    train seconds and the start-up once."""
    common = _setup(tmp_path, config)
    pair = tmp_path / "store" / "a" / "test-0000-0001.0000aaaa"
    record = retrain_batch(**common, members=["test-0000", "test-0001"], batch=pair, startup=2.0)
    assert record["subsets"] == ["test-0000", "test-0001"] and record["reused"] == {}
    assert set(record["train_seconds"]) == {"test-0000", "test-0001"} and 0 < record["startup_share"] < 1
    assert json.loads(in_batch(pair, "retrain", "job").read_text()) == record
    for sid in ("test-0000", "test-0001"):
        alone = tmp_path / "store" / f"alone-{sid}" / f"{sid}-{sid[-4:]}.0000bbbb"
        retrain_batch(**common, members=[sid], batch=alone)
        assert _same(_weights(pair, sid), _weights(alone, sid)), sid
    # two models, two checkpoints: the check can fail
    assert not _same(_weights(pair, "test-0000"), _weights(pair, "test-0001"))


def test_a_renamed_batch_copies_what_a_finished_one_holds_and_trains_the_rest(tmp_path, config):
    import diffattr.stages.retrain as stage

    common = _setup(tmp_path, config)
    stage_dir = tmp_path / "store" / "retrain" / "h"
    first = stage_dir / "test-0000-0001.0000aaaa"
    retrain_batch(**common, members=["test-0000", "test-0001"], batch=first)
    # an unfinished batch beside it (atomic_dir's temporary folder) is never copied from
    (stage_dir / ".test-0001-0002.x.tmp" / "test-0002").mkdir(parents=True)
    renamed = stage_dir / "test-0001-0002.0000cccc"
    record = retrain_batch(**common, members=["test-0001", "test-0002"], batch=renamed)
    assert record["reused"] == {"test-0001": first.name}
    assert (
        record["train_seconds"]["test-0001"]
        == json.loads(in_batch(first, "retrain", "train", "test-0001").read_text())["train_seconds"]
    )
    assert _same(_weights(renamed, "test-0001"), _weights(first, "test-0001"))
    # the model it trained is the one a batch of its own gives
    alone = tmp_path / "other" / "test-0002-0002.0000dddd"
    retrain_batch(**common, members=["test-0002"], batch=alone)
    assert _same(_weights(renamed, "test-0002"), _weights(alone, "test-0002"))
    assert json.loads(in_batch(alone, "retrain", "job").read_text())["reused"] == {}
    # A store of one model per job ({subset}/model and train.json in the stage folder, as before the
    # batches) gives its models too.
    legacy = tmp_path / "legacy" / "retrain" / "h"
    shutil.copytree(in_batch(alone, "retrain", "model", "test-0002"), legacy / "test-0002" / "model")
    shutil.copy(in_batch(alone, "retrain", "train", "test-0002"), legacy / "test-0002" / "train.json")
    (legacy / "test-0001" / "model").mkdir(parents=True)  # no train.json: unfinished, not taken
    upgraded = legacy / "test-0000-0003.0000eeee"
    record = retrain_batch(**common, members=["test-0001", "test-0002"], batch=upgraded)
    assert record["reused"] == {"test-0002": stage.LEGACY}
    assert _same(_weights(upgraded, "test-0002"), _weights(alone, "test-0002"))
    assert _same(_weights(upgraded, "test-0001"), _weights(first, "test-0001"))


def test_a_stopped_batch_s_rerun_takes_the_models_it_had_finished(tmp_path, config, monkeypatch):
    """A job stopped in its second model (here: that training raises) stores no batch, but keeps its
    first model beside that model's resume state; the rerun copies it and trains the second only, and
    once the batch is in place nothing is kept. The models equal an uninterrupted batch's."""
    import diffattr.stages.retrain as stage

    common = _setup(tmp_path, config)
    members = ["test-0000", "test-0001"]
    resume = {sid: tmp_path / "resume" / f"{sid}.pt" for sid in members}
    batch = tmp_path / "store" / "retrain" / "h" / "test-0000-0001.0000aaaa"
    real = stage.one

    def stopped(**kw):
        if kw["sid"] == "test-0001":
            raise KeyboardInterrupt("stopped")
        return real(**kw)

    monkeypatch.setattr(stage, "one", stopped)
    with pytest.raises(KeyboardInterrupt):
        retrain_batch(**common, members=members, batch=batch, resume=resume)
    assert not batch.exists() and stage.finished_keep(resume["test-0000"]).is_dir()
    assert not stage.finished_keep(resume["test-0001"]).exists()
    trained = []

    def counting(**kw):
        trained.append(kw["sid"])
        return real(**kw)

    monkeypatch.setattr(stage, "one", counting)
    record = retrain_batch(**common, members=members, batch=batch, resume=resume)
    assert trained == ["test-0001"] and record["reused"] == {"test-0000": stage.STOPPED}
    assert not any(stage.finished_keep(p).exists() for p in resume.values())
    whole = tmp_path / "other" / "test-0000-0001.0000bbbb"
    monkeypatch.setattr(stage, "one", real)
    retrain_batch(**common, members=members, batch=whole)
    for sid in members:
        assert _same(_weights(batch, sid), _weights(whole, sid)), sid
