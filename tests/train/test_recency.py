"""train.recency: the target pairs' last times in the graph, recency-weighted counts, the choice on validation and
its effect on a run (hetrec/train/recency.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.errors import ConfigError
from hetrec.graph.builder import GraphBuilder
from hetrec.train.recency import HALF_LIVES, STRENGTHS, RecencyCalibration, recency_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from graph.shops import make_shop  # noqa: E402

ET = ("user", "purchases", "item")
DAY = 86400


def test_graph_keeps_the_last_time_of_each_training_pair():
    rows = [(0, 1, "purchases", 5 * DAY, 0), (0, 1, "purchases", 2 * DAY, 1), (1, 0, "purchases", 3 * DAY, 2),
            (1, 0, "clicks", 9 * DAY, -1), (2, 2, "purchases", 1 * DAY, 3)]
    no_split = {"strategy": "random", "valid_ratio": 0.0, "test_ratio": 0.0}
    g = GraphBuilder(target="purchases", split=no_split, features=False).build(make_shop(rows)).graph
    src, dst = g.edges(etype="purchases")
    got = dict(zip(zip(src.tolist(), dst.tolist()), g.edges["purchases"].data["last_time"].tolist()))
    assert got == {(0, 1): 5 * DAY, (1, 0): 3 * DAY, (2, 2): 1 * DAY}  # clicks do not count for purchases
    assert "last_time" not in g.edges["clicks"].data
    assert torch.equal(g.edges["rev_purchases"].data["last_time"], g.edges["purchases"].data["last_time"])
    untimed = GraphBuilder(target="purchases", split=no_split, features=False).build(make_shop(rows, has_time=False))
    assert "last_time" not in untimed.graph.edges["purchases"].data


def _graph(times: list[int], items: list[int], num_items: int = 3):
    g = dgl.heterograph({ET: (torch.arange(len(items)), torch.tensor(items))},
                        num_nodes_dict={"user": len(items), "item": num_items})
    g.edges[ET].data["last_time"] = torch.tensor(times, dtype=torch.int64)
    return g


def test_recency_counts_weigh_recent_pairs_and_keep_the_total():
    # item 0: two pairs at the start, item 1: two pairs at the end, item 2: none; span 8 days
    g = _graph([0, 0, 8 * DAY, 8 * DAY], [0, 0, 1, 1])
    c, ch = recency_counts(g, ET, half_life=0.25)  # half-life 2 days: the old pairs weigh 2^-4 each
    assert c.tolist() == [2.0, 2.0, 0.0]
    assert ch.sum() == pytest.approx(c.sum()) and ch[2] == 0.0
    assert ch[0] / ch[1] == pytest.approx(2.0 ** -4)
    assert recency_counts(_graph([DAY, DAY], [0, 1]), ET, 1.0) is None  # one time: nothing to weigh
    g.edges[ET].data.pop("last_time")
    assert recency_counts(g, ET, 1.0) is None


def _setup():
    g = _graph([0, 0, 8 * DAY, 8 * DAY, 4 * DAY], [0, 0, 1, 1, 2])
    data = SimpleNamespace(graph=g, target=ET)
    model = SimpleNamespace(objective=SimpleNamespace(item_bias=nn.Parameter(torch.tensor([0.3, 0.1, -0.2]))))
    emb = {"user": torch.ones(5, 3), "item": torch.cat([torch.zeros(3, 2), model.objective.item_bias.data[:, None]], 1)}
    return data, model, emb


def test_select_shifts_the_bias_when_validation_asks_for_recent_items():
    data, model, emb = _setup()
    before = model.objective.item_bias.detach().clone()
    calls = []

    def evaluate(e):  # validation that rewards ranking the recent item 1 above the old item 0
        calls.append(1)
        return {"recall@20": float(e["item"][1, -1] - e["item"][0, -1])}

    cal = RecencyCalibration("auto")
    out = cal.select(data, model, emb, evaluate, "recall@20")
    assert len(calls) == 1 + len(HALF_LIVES) * len(STRENGTHS)
    assert cal.chosen == (min(HALF_LIVES), max(STRENGTHS)) and cal.report["chosen"]["half_life"] == min(HALF_LIVES)
    c, ch = recency_counts(data.graph, ET, min(HALF_LIVES))
    shift = torch.from_numpy((np.log1p(ch) - np.log1p(c)).astype(np.float32))
    assert torch.allclose(model.objective.item_bias.detach(), before + shift)
    assert torch.allclose(out["item"][:, -1], model.objective.item_bias.detach())  # embeddings match the model
    assert torch.equal(emb["item"][:, -1], before)  # the input embeddings are not modified


def test_select_keeps_the_bias_when_nothing_beats_it_and_skips_without_times():
    data, model, emb = _setup()
    before = model.objective.item_bias.detach().clone()
    cal = RecencyCalibration("auto")
    out = cal.select(data, model, emb, lambda e: {"recall@20": float(e["item"][0, -1] - e["item"][1, -1])},
                     "recall@20")
    assert cal.chosen is None and cal.report["chosen"] is None and out is emb
    assert torch.equal(model.objective.item_bias.detach(), before)
    assert cal.apply(data, model, emb) is emb  # nothing chosen: a refit is left alone too
    data.graph.edges[ET].data.pop("last_time")
    cal = RecencyCalibration("auto")
    assert cal.select(data, model, emb, lambda e: pytest.fail("no times: nothing to evaluate"), "recall@20") is emb
    assert "timestamps" in cal.report["skipped"]
    off = RecencyCalibration("off")
    assert off.select(data, model, emb, lambda e: pytest.fail("off"), "recall@20") is emb
    with pytest.raises(ConfigError, match="train.recency='sometimes'"):
        RecencyCalibration("sometimes")


def test_run_reports_the_choice_and_the_artifact_carries_the_bias(tmp_path):
    from test_app import TINY, _cfg

    from hetrec.train import app
    from hetrec.train.artifact import Artifact

    m = app.train(_cfg(tmp_path, [*TINY, "graph.split.strategy=global_time"]), tmp_path / "run")
    rec = m["recency"]
    assert rec["mode"] == "auto" and len(rec["valid"]) == 1 + len(HALF_LIVES) * len(STRENGTHS)
    best = max(rec["valid"].values())
    assert m["val"]["recall@20"] == pytest.approx(best if rec["chosen"] else rec["valid"]["none"])
    art = Artifact.load(tmp_path / "run" / "artifact")
    # serving scores with the calibrated bias: the items' last embedding column is the model's item bias
    assert torch.allclose(art.embeddings["item"][:, -1], art.model_state["objective.item_bias"])
    off = app.train(_cfg(tmp_path, [*TINY, "graph.split.strategy=global_time", "train.recency=off"]),
                    tmp_path / "off")
    assert off["recency"] == {"mode": "off", "skipped": "off"}
