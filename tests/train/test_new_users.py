"""train.new_users: the list of users without history, chosen on validation jointly with the model's scores
(hetrec/train/new_users.py), and what a run, its artifact and serving do with it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hetrec.errors import ConfigError
from hetrec.evaluate.ranking import evaluate_split
from hetrec.graph.builder import GraphBuilder
from hetrec.train.new_users import NewUserRanking, new_user_mask
from hetrec.train.recency import HALF_LIVES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from graph.shops import make_shop  # noqa: E402

DAY = 86400


def _time_split_data():
    """Training days 0-9: users 0-5 bought item 0 on days 0-1 (the all-time bestseller), users 6-7 item 1 on day 9
    (selling lately), users 0-1 item 2 on day 5. Validation (days 10-11): new users 8-10 and known user 3 buy item 1.
    Test (day 12 on): new users 11-12 and known user 4 buy item 1."""
    rows = [(u, 0, "purchases", (u % 2) * DAY, u) for u in range(6)]
    rows += [(6, 1, "purchases", 9 * DAY, 6), (7, 1, "purchases", 9 * DAY, 7)]
    rows += [(0, 2, "purchases", 5 * DAY, 20), (1, 2, "purchases", 5 * DAY, 21)]
    rows += [(u, 1, "purchases", 10 * DAY + u, 30 + u) for u in (8, 9, 10, 3)]
    rows += [(11, 1, "purchases", 12 * DAY, 50), (12, 1, "purchases", 12 * DAY, 51), (4, 1, "purchases", 13 * DAY, 52)]
    split = {"strategy": "global_time", "cut_time": 12 * DAY, "valid_cut_time": 10 * DAY}
    return GraphBuilder(target="purchases", split=split, features=False).build(make_shop(rows))


def _evaluator(data, split, score_fn, calls=None):
    def evaluate(users=None, wrap=None):
        if calls is not None:
            calls.append(users)
        fn = score_fn if wrap is None else wrap(score_fn)
        return evaluate_split(data, fn, split, ks=[1], users=users)

    return evaluate


def _old_bestseller_first(users: torch.Tensor) -> torch.Tensor:  # the "model": item 0, then 2, then 1 for everyone
    return torch.tensor([3.0, 1.0, 2.0]).repeat(len(users), 1)


def test_new_users_get_the_recent_list_chosen_on_validation_and_known_users_keep_the_model():
    data = _time_split_data()
    new = new_user_mask(data)
    assert new[[8, 9, 10, 11, 12]].all() and not new[[0, 3, 4, 6]].any()
    nu = NewUserRanking("auto")
    evaluate = _evaluator(data, "valid", _old_bestseller_first)
    nu.prepare(data, evaluate, "recall@1")
    assert nu.active and nu.report["num_users"] == 3
    assert nu.report["valid"]["popularity"] == 0.0  # MostPop puts item 0 first too
    # item 1 sold lately: short half-lives put it first, the whole period (6 old sales of item 0) does not
    assert nu.report["valid"][f"recent:{min(HALF_LIVES):g}"] == 1.0
    joint = nu.joint(evaluate, "recall@1")["recall@1"]
    assert joint == pytest.approx(3 / 4)  # new users 3 of 3 by the list, known user 3 misses with the model
    nu.decide(evaluate, "recall@1")
    assert nu.chosen == f"recent:{min(HALF_LIVES):g}" and nu.report["chosen"] == nu.chosen
    assert nu.report["valid"]["model"] == 0.0
    scores = nu.wrap(_old_bestseller_first, data)(torch.tensor([0, 11, 4, 12]))
    assert scores[[1, 3]].argmax(1).tolist() == [1, 1]  # new users: the recent list
    assert torch.equal(scores[[0, 2]], _old_bestseller_first(torch.tensor([0, 4])))  # known users: the model
    test = evaluate_split(data, nu.wrap(_old_bestseller_first, data), "test", ks=[1])
    assert test["recall@1"] == pytest.approx(2 / 3)  # 11, 12 hit; known user 4: the model, a miss


def test_the_model_is_kept_when_it_beats_every_list_on_new_users():
    data = _time_split_data()

    def recent_first(users):  # a model that already ranks item 1 first for everyone
        return torch.tensor([1.0, 3.0, 2.0]).repeat(len(users), 1)

    nu = NewUserRanking("auto")
    evaluate = _evaluator(data, "valid", recent_first)
    nu.prepare(data, evaluate, "recall@1")
    nu.decide(evaluate, "recall@1")  # ties keep the model: a list must beat it
    assert nu.chosen is None and nu.scores is None and nu.report["chosen"] == "model"
    assert nu.wrap(recent_first, data) is recent_first
    nu.apply(data)  # a refit with nothing chosen changes nothing
    assert nu.scores is None


def test_apply_recomputes_the_chosen_list_on_the_refit_graph():
    data = _time_split_data()
    nu = NewUserRanking("auto")
    evaluate = _evaluator(data, "valid", _old_bestseller_first)
    nu.prepare(data, evaluate, "recall@1")
    nu.decide(evaluate, "recall@1")
    before = nu.scores.copy()
    data.graph.edges["purchases"].data["last_time"] = torch.zeros_like(data.graph.edges["purchases"].data["last_time"])
    data.graph.edges["purchases"].data["last_time"][0] = 1  # another training period: item 0's sale is the latest
    nu.apply(data)
    assert nu.scores.argmax() == 0 and not np.array_equal(nu.scores, before)


def test_skips_without_new_validation_users_and_when_off():
    rows = [(u, i, "purchases", (u + i) * DAY, u * 10 + i) for u in range(6) for i in range(4)]
    data = GraphBuilder(target="purchases", split={"strategy": "random", "valid_ratio": 0.3, "test_ratio": 0.0},
                        features=False).build(make_shop(rows))
    nu = NewUserRanking("auto")
    nu.prepare(data, lambda **o: pytest.fail("nothing to evaluate"), "recall@1")
    assert not nu.active and "no validation users" in nu.report["skipped"]
    off = NewUserRanking("off")
    off.prepare(_time_split_data(), lambda **o: pytest.fail("off"), "recall@1")
    assert not off.active and off.report == {"mode": "off", "skipped": "off"}
    with pytest.raises(ConfigError, match="train.new_users='always'"):
        NewUserRanking("always")


def test_run_writes_the_list_into_the_artifact_and_serving_answers_new_users_with_it(tmp_path):
    from test_app import TINY, _cfg

    from hetrec.serve import ServingModel
    from hetrec.train import app
    from hetrec.train.artifact import Artifact

    m = app.train(_cfg(tmp_path, [*TINY, "graph.split.strategy=global_time"]), tmp_path / "run")
    rep = m["new_users"]
    assert rep["mode"] == "auto" and rep["num_users"] > 0 and rep["chosen"] in rep["valid"]
    assert set(rep["valid"]) == {"model", "popularity", *(f"recent:{h:g}" for h in HALF_LIVES)}
    art = Artifact.load(tmp_path / "run" / "artifact")
    assert art.meta["new_users"] == rep["chosen"]
    assert (art.new_user_scores is None) == (rep["chosen"] == "model")
    # serving: whatever was chosen, a list written into the artifact orders the answers of users without history
    n_items = art.embeddings["item"].shape[0]
    art.new_user_scores = np.arange(n_items, dtype=np.float32)[::-1].copy()  # item 0 first, then 1, ...
    art.meta["new_users"] = "recent:0.25"
    art.save(tmp_path / "edited" / "artifact")
    sm = ServingModel.load(tmp_path / "edited")
    res = sm.recommend(user="nobody-knows-me", k=3)
    assert res["fallback"] == "popular" and [r["item"] for r in res["items"]] == list(sm.items.raw_ids[:3])
    assert res["items"][0]["evidence"]["recent_popularity"] == pytest.approx(n_items - 1)
    no_history = np.flatnonzero(np.diff(sm.train.indptr) == 0)
    if len(no_history):  # time split: known users first seen after the cut have no training history
        known = sm.recommend(user=sm.users.raw_ids[no_history[0]], k=3)
        assert known["method"] == "popular" and [r["item"] for r in known["items"]] == list(sm.items.raw_ids[:3])
    art.new_user_scores = np.zeros(n_items + 1, dtype=np.float32)
    art.save(tmp_path / "bad" / "artifact")
    with pytest.raises(ValueError, match="new_user_scores.npy has shape"):
        ServingModel.load(tmp_path / "bad")
