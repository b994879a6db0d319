"""Trainer: every loss/sampler/scorer trains, both modes; exact resume after a simulated kill; config errors."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest
import torch

from hetrec.objectives import LinkObjective
from hetrec.objectives.samplers import (
    AllSampler,
    InBatchSampler,
    PopularitySampler,
    SharedSampler,
    UniformSampler,
)
from hetrec.objectives.scorers import CosineScorer, DistMultScorer, DotScorer
from hetrec.train.model import LinkPredictionModel
from hetrec.train.trainer import Trainer, resolve_device, seed_everything

from toys import ToyEncoder, ToyInput, toy_graph_data

SAMPLERS = {
    "uniform": functools.partial(UniformSampler, num_negatives=2),
    "popularity": functools.partial(PopularitySampler, num_negatives=2, alpha=0.75),
    "in_batch": InBatchSampler,
    "all": AllSampler,
    "shared": functools.partial(SharedSampler, num_negatives=24),
}
SCORERS = {"dot": DotScorer, "cosine": CosineScorer, "distmult": DistMultScorer}


def make_model(data, loss="bpr", sampler="uniform", scorer="dot", aux_weight=0.0, seed=0, layers=2):
    seed_everything(seed)
    g = data.graph
    inp = ToyInput({nt: g.num_nodes(nt) for nt in g.ntypes}, {"item": 3}, 16)
    enc = ToyEncoder(g.canonical_etypes, {nt: 16 for nt in g.ntypes}, num_layers=layers, out_dim=16)
    temp = 0.2 if scorer == "cosine" or loss == "softmax" else 1.0
    obj = LinkObjective(data, 16, loss=loss, sampler=SAMPLERS[sampler], scorer=SCORERS[scorer],
                        temperature=temp, reg_weight=1e-4, aux_weight=aux_weight)
    return LinkPredictionModel(inp, enc, obj)


def epoch_losses(tmp_path, **kw):
    data = toy_graph_data()
    mode = kw.pop("mode", "full")
    model = make_model(data, **kw)
    tr = Trainer(model, data, mode=mode, batch_size=64, max_epochs=8, lr=0.02, patience=0, eval_every=8,
                 progress=False, run_dir=tmp_path, fanouts=[4, 4])
    tr.fit()
    return [json.loads(line)["loss"] for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("loss", ["bpr", "bce", "softmax"])
@pytest.mark.parametrize("sampler", ["uniform", "popularity", "in_batch", "all", "shared"])
def test_every_loss_and_sampler_lowers_the_loss(tmp_path, loss, sampler):
    losses = epoch_losses(tmp_path, loss=loss, sampler=sampler)
    assert len(losses) == 8 and all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-2:]) / 2 < 0.9 * sum(losses[:2]) / 2, losses


@pytest.mark.parametrize("scorer", ["cosine", "distmult"])
def test_scorers_train_with_aux_task(tmp_path, scorer):
    losses = epoch_losses(tmp_path, scorer=scorer, aux_weight=0.5)
    assert sum(losses[-2:]) < 0.9 * sum(losses[:2]), losses


@pytest.mark.parametrize("sampler", ["uniform", "in_batch"])
def test_minibatch_mode_lowers_the_loss(tmp_path, sampler):
    losses = epoch_losses(tmp_path, mode="minibatch", sampler=sampler, aux_weight=0.5)
    assert sum(losses[-2:]) < 0.9 * sum(losses[:2]), losses


@pytest.mark.parametrize("sampler", ["all", "shared"])
def test_full_graph_samplers_refuse_minibatches(tmp_path, sampler):
    with pytest.raises(ValueError, match="train.mode=full"):
        epoch_losses(tmp_path, mode="minibatch", sampler=sampler)


def _softmax_task(sampler: str, batch: int):
    """A softmax model's main task (positives not excluded), random embeddings and its first ``batch`` positives."""
    data = toy_graph_data()
    model = make_model(data, loss="softmax", sampler=sampler)
    task = model.objective.tasks[0]
    task.sampler.exclude_positives = False
    g = data.graph
    h = {nt: torch.randn(g.num_nodes(nt), 16) for nt in g.ntypes}
    return model, task, h, task.src[:batch], task.dst[:batch]


def test_shared_negatives_are_one_draw_per_batch_masking_each_examples_own_item():
    _, task, h, u, i = _softmax_task("shared", 30)
    negs = task.sampler.negatives(h["item"], u, i, generator=torch.Generator().manual_seed(0))
    rows = torch.randint(h["item"].shape[0], (24,), generator=torch.Generator().manual_seed(0))
    assert negs.shared and torch.equal(negs.rows, rows) and torch.equal(negs.emb, h["item"][rows])
    expected = i.unsqueeze(1) != rows.unsqueeze(0)
    assert torch.equal(negs.mask if negs.mask is not None else torch.ones_like(expected), expected)
    task.sampler.exclude_positives = True
    negs = task.sampler.negatives(h["item"], u, i, generator=torch.Generator().manual_seed(0))
    expected &= ~task.sampler.lookup.contains(u.unsqueeze(1).expand_as(expected), rows.expand_as(expected))
    assert torch.equal(negs.mask, expected)


def test_all_destinations_softmax_equals_cross_entropy_over_the_catalogue():
    """With exclude_positives off, softmax over every destination is the plain cross-entropy of full ranking."""
    model, task, h, u, i = _softmax_task("all", 10)
    st, dt_ = task.etype[0], task.etype[2]
    model.objective.reg_weight = 0.0
    got = model.objective.batch_loss(task, h, h, u, i)
    logits = h[st][u] @ h[dt_].T / model.objective.temperature
    assert torch.allclose(got, torch.nn.functional.cross_entropy(logits, i), atol=1e-5)


class Killed(RuntimeError):
    pass


def _run(run_dir, mode, kill_after=None):
    data = toy_graph_data()
    model = make_model(data, loss="bpr", sampler="uniform", seed=3)

    def kill(trainer, epoch, record):
        if kill_after is not None and epoch == kill_after:
            raise Killed(f"simulated kill after epoch {epoch}")

    tr = Trainer(model, data, mode=mode, batch_size=64, max_epochs=5, lr=0.02, patience=0, seed=3,
                 scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5), progress=False,
                 run_dir=run_dir, fanouts=[4, 4], callbacks=[kill])
    summary = tr.fit()
    return tr, summary


@pytest.mark.parametrize("mode", ["full", "minibatch"])
def test_resume_after_kill_equals_uninterrupted(tmp_path, mode):
    ref, ref_summary = _run(tmp_path / "a", mode)
    with pytest.raises(Killed):
        _run(tmp_path / "b", mode, kill_after=2)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"] == 2
    resumed, summary = _run(tmp_path / "b", mode)  # the same command again
    assert summary["resumed_from"] == 2
    assert summary["epochs"] == ref_summary["epochs"] == 5
    assert summary["best_epoch"] == ref_summary["best_epoch"]
    assert summary["val"] == ref_summary["val"]
    for (k, a), (_, b) in zip(ref.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    log_a = [json.loads(x) for x in (tmp_path / "a" / "train_log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log_b] == [1, 2, 3, 4, 5]
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]
    assert ref.evaluate("test") == resumed.evaluate("test")


def test_early_stopping_restores_best(tmp_path):
    data = toy_graph_data()
    model = make_model(data)
    tr = Trainer(model, data, batch_size=64, max_epochs=40, lr=0.05, patience=2, progress=False, run_dir=tmp_path)
    s = tr.fit()
    log = [json.loads(x) for x in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    best = max(log, key=lambda r: r["val"]["recall@20"])
    assert s["best_epoch"] == best["epoch"]
    if s["epochs"] < 40:
        assert log[-1].get("early_stop") and s["epochs"] - s["best_epoch"] == 2
    assert tr.evaluate("valid")["recall@20"] == pytest.approx(best["val"]["recall@20"])


def test_config_errors_name_the_override():
    data = toy_graph_data()
    model = make_model(data, layers=2)
    with pytest.raises(ValueError, match=r"train\.fanouts"):
        Trainer(model, data, mode="minibatch", fanouts=[5, 5, 5])
    with pytest.raises(ValueError, match=r"train\.lr"):
        Trainer(model, data, lr=-0.1)
    with pytest.raises(ValueError, match=r"objective\.target"):
        LinkObjective(data, 16, target="bought")
    with pytest.raises(ValueError, match=r"train\.device"):
        resolve_device("tpu")


@pytest.mark.parametrize("mode", ["full", "minibatch"])
def test_item_bias_is_one_embedding_column_and_learns_popularity(tmp_path, mode):
    """objective.item_bias: users get a column of ones, items their bias, so <u, i> = <u', i'> + b_i everywhere
    (training, ranking, the artifact); the bias learns which items are popular."""
    data = toy_graph_data()
    g = data.graph
    seed_everything(0)
    inp = ToyInput({nt: g.num_nodes(nt) for nt in g.ntypes}, {"item": 3}, 16)
    enc = ToyEncoder(g.canonical_etypes, {nt: 16 for nt in g.ntypes}, num_layers=2, out_dim=16)
    obj = LinkObjective(data, 16, loss="softmax", sampler=SAMPLERS["uniform"], scorer=DotScorer, temperature=0.2,
                        item_bias=True)
    model = LinkPredictionModel(inp, enc, obj)
    tr = Trainer(model, data, mode=mode, batch_size=64, max_epochs=6, lr=0.05, patience=0, eval_every=6,
                 progress=False, run_dir=tmp_path, fanouts=[4, 4])
    tr.fit()
    emb = tr.embeddings()
    assert emb["user"].shape[1] == emb["item"].shape[1] == 17
    assert torch.all(emb["user"][:, -1] == 1.0)
    assert torch.allclose(emb["item"][:, -1], obj.item_bias.detach())
    counts = torch.bincount(data.splits["train"][1], minlength=g.num_nodes("item")).float()
    b = obj.item_bias.detach()
    assert torch.corrcoef(torch.stack([b, counts]))[0, 1] > 0.3  # popular items get larger biases


def test_item_bias_refuses_cosine_and_item_item_targets():
    data = toy_graph_data()
    with pytest.raises(ValueError, match=r"objective/scorer=dot or objective.item_bias=false"):
        LinkObjective(data, 16, scorer=functools.partial(CosineScorer), item_bias=True)
    with pytest.raises(ValueError, match=r"needs a main task between two node types"):
        LinkObjective(data, 16, target="co_bought", item_bias=True)


def test_isolated_nodes_get_no_id_embedding():
    """A node with no edge in the training graph never receives a gradient: NodeInput zeroes its id embedding in
    embed_full (features would still count), so it is not represented by its random initial vector."""
    from hetrec.models.gcn import GCN
    from hetrec.models.input import NodeInput

    data = toy_graph_data()
    g = data.graph
    keep = g.edges(etype="clicks")[0] != 5  # user 5 loses every training click (all held out)
    g2 = g.edge_subgraph({et: (keep if et[1] in ("clicks", "rev_clicks") else torch.ones(g.num_edges(et), dtype=bool))
                          for et in g.canonical_etypes}, relabel_nodes=False)
    data.graph = g2
    seed_everything(0)
    inp = NodeInput({nt: g2.num_nodes(nt) for nt in g2.ntypes}, {}, 8)
    enc = GCN(g2.canonical_etypes, inp.out_dims, hidden_dim=8, out_dim=8, weight=False, self_loop=False,
              activation="none", layer_combine="mean")
    model = LinkPredictionModel(inp, enc, LinkObjective(data, 8, item_bias=True))
    h, x = model.embed_full(g2, {})
    assert torch.count_nonzero(x["user"][5]) == 0 and torch.count_nonzero(x["user"][4]) > 0
    assert torch.count_nonzero(h["user"][5][:-1]) == 0  # a cold user is scored by the item bias alone


def test_optimizer_and_scheduler_configs_compose_into_factories():
    """train/optimizer and train/scheduler are Hydra _partial_ targets: a group choice plus a key override composes."""
    from hydra import compose, initialize_config_dir

    from hetrec.registry import register_configs
    from hetrec.train import app

    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["train/optimizer=sgd", "train/scheduler=step", "train.scheduler.gamma=0.1",
                                           "train.max_epochs=3"])
    opts = app.trainer_options(cfg)
    data = toy_graph_data()
    tr = Trainer(make_model(data), data, progress=False, **{k: opts[k] for k in ("optimizer", "scheduler", "lr")})
    assert isinstance(tr.optimizer, torch.optim.SGD) and tr.optimizer.defaults["momentum"] == 0.9
    assert isinstance(tr.scheduler, torch.optim.lr_scheduler.StepLR) and tr.scheduler.gamma == 0.1
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["experiment=ml100k_u1_gcn"])
    opts = app.trainer_options(cfg)
    tr = Trainer(make_model(data), data, progress=False, **{k: opts[k] for k in ("optimizer", "scheduler", "lr")})
    assert isinstance(tr.optimizer, torch.optim.Adam) and tr.optimizer.defaults.get("fused") is True
    assert isinstance(tr.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and tr.scheduler.T_max == 10
    assert app.trainer_options(compose_default())["scheduler"] is None


def compose_default():
    from hydra import compose, initialize_config_dir

    from hetrec.train import app

    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return compose("config")


def test_minibatch_default_batch_size_scales_with_the_training_set():
    """train=minibatch has batch_size: null: chosen so an epoch has >= 16 steps where possible, at most 32768."""
    from omegaconf import OmegaConf

    from hetrec.train.batch_size import auto_batch_size

    assert auto_batch_size(810_128) == 32768  # Gowalla: 25 steps an epoch
    assert auto_batch_size(80_000) == 4096  # ml-100k: 20 steps
    assert auto_batch_size(4_000) == 128 and auto_batch_size(10) == 64
    for n in (1_000, 70_000, 300_000, 5_000_000):
        b = auto_batch_size(n)
        assert b & (b - 1) == 0 and (math.ceil(n / b) >= 16 or b == 64 or b == 32768)
    conf = Path(__file__).resolve().parents[2] / "conf" / "train" / "minibatch.yaml"
    assert OmegaConf.load(conf).batch_size is None
    data = toy_graph_data()
    model = make_model(data)
    n = model.objective.tasks[0].num_edges
    tr = Trainer(model, data, mode="minibatch", batch_size=None, fanouts=[4, 4], progress=False)
    assert tr.batch_size == auto_batch_size(n) and math.ceil(n / tr.batch_size) >= 2
    assert Trainer(model, data, mode="full", batch_size=None, progress=False).batch_size == 8192


def test_loss_options_bind_to_the_loss_and_unknown_names_fail(toy_data):
    from hetrec.errors import ConfigError

    obj = LinkObjective(toy_data, 16, loss="ccl", scorer="cosine", loss_options={"margin": 0.2, "negative_weight": 4})
    assert obj.loss_fn.keywords == {"margin": 0.2, "negative_weight": 4.0}
    with pytest.raises(ConfigError, match=r"\['margn'\] are not options of loss 'ccl'.*margin"):
        LinkObjective(toy_data, 16, loss="ccl", scorer="cosine", loss_options={"margn": 0.2})
