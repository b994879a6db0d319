"""The Hydra app: a tiny end-to-end run, config validation naming overrides, a multirun summary with a failing job,
and the planted complementary pairs recovered by the default run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from hetrec.registry import register_configs
from hetrec.train import app
from hetrec.train.artifact import Artifact

TINY = [
    "dataset.num_users=120",
    "dataset.num_items=60",
    "dataset.num_interactions=4000",
    "dataset.num_pairs=10",
    "train.max_epochs=2",
    "train.progress=false",
    "node_input.dim=16",
    "encoder.hidden_dim=16",
    "encoder.out_dim=16",
]


def _cfg(tmp_path, overrides):
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *overrides])


def test_default_objective_is_sampled_softmax_over_16_uniform_negatives(tmp_path):
    obj = _cfg(tmp_path, []).objective
    assert (obj.loss, obj.temperature, obj.sampler.num_negatives) == ("softmax", 1.0, 16)
    assert obj.sampler._target_.endswith("UniformSampler") and obj.scorer._target_.endswith("DotScorer")


@pytest.mark.parametrize("objective", ["sampled_softmax", "bpr", "bce", "in_batch_softmax", "ccl"])
def test_every_objective_option_trains_and_lowers_the_loss(tmp_path, objective):
    run = tmp_path / "run"
    app.train(_cfg(tmp_path, TINY + [f"objective={objective}", "train.max_epochs=3"]), run)
    losses = [json.loads(line)["loss"] for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert len(losses) == 3 and losses[-1] < losses[0], losses


def test_tiny_run_writes_metrics_log_checkpoint_artifact(tmp_path):
    cfg = _cfg(tmp_path, TINY)
    run = tmp_path / "run"
    m = app.train(cfg, run)
    saved = json.loads((run / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(m))
    for key in ("dataset", "encoder", "seed", "epochs", "best_epoch", "train_seconds", "val", "test"):
        assert key in saved
    assert set(app.TEST_KEYS) <= set(saved["test"])
    assert saved["epochs"] == 2 and 1 <= saved["best_epoch"] <= 2
    iq = saved["item_quality"]  # the synthetic shop has baskets and categories: every item-item figure is there
    assert set(iq["cosine_spread"]) == {"mean", "std", "p05", "p50", "p95"}
    assert 0 <= iq["copurchase_hit@10"] <= 1 and iq["copurchase_pairs"] > 0
    assert 0 <= iq["category_agreement@10"] <= 1 and 0 < iq["category_agreement_random@10"] < 1
    assert iq["category_queries"] == 60
    assert len((run / "train_log.jsonl").read_text().splitlines()) == 2
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 2
    art = Artifact.load(run / "artifact")
    assert art.meta["target"] == ["user", "clicks", "item"] and art.meta["scorer"] == "dot"
    for key in ("dataset", "encoder", "canonical_etypes", "num_nodes", "feat_dims", "node_input", "encoder_config",
                "hetrec_version"):
        assert key in art.meta
    # the default objective's item bias is the 17th column: 1 for users, b_i for items
    assert art.meta["item_bias"] is True and art.train_matrix.shape == (120, 60)
    assert art.embeddings["item"].shape == (60, 17) and torch.all(art.embeddings["user"][:, -1] == 1)
    assert any(k.startswith("node_input.") for k in art.model_state)
    # rerunning the finished command resumes at the end: same metrics, no extra epochs
    again = app.train(cfg, run)
    assert again["test"] == m["test"] and again["resumed_from"] == 2


@pytest.mark.parametrize(
    "override, named",
    [
        ("train.lr=-0.1", "train.lr"),
        ("train.lr=0", "train.lr"),
        ("evaluate.ks=[10,20,500]", "evaluate.ks"),
        ("objective.target=bought", "objective.target"),
        ("train.mode=minibatch train.fanouts=[5,5]", "train.fanouts"),
    ],
)
def test_bad_config_names_the_override(tmp_path, override, named):
    cfg = _cfg(tmp_path, TINY + override.split())
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        app.train(cfg, tmp_path / "run")


def test_summary_groups_seeds_and_keeps_failed_jobs(tmp_path):
    from hetrec.train.summary import summarize_sweep

    jobs = [(["encoder=gcn", "seed=1"], 0.2), (["encoder=gcn", "seed=2"], 0.4), (["encoder=sage", "seed=1"], None)]
    for n, (ov, r20) in enumerate(jobs):
        d = tmp_path / str(n)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in ov))
        m = {"status": "failed", "error": "ValueError: boom"} if r20 is None else {
            "status": "ok", "seed": int(ov[1][-1]), "epochs": 3, "best_epoch": 2, "train_seconds": 1.0,
            "val": {"recall@20": r20 + 0.1}, "test": {"recall@20": r20, "ndcg@20": r20 / 2}}
        (d / "metrics.json").write_text(json.dumps(m))
    csv_path, md_path = summarize_sweep(tmp_path)
    assert len(csv_path.read_text().splitlines()) == 4
    md = md_path.read_text()
    # validation Recall@20 (the column to choose settings by) stands before the test columns
    assert "| settings | runs | failed | val/recall@20 | test/recall@20 | test/ndcg@20 |" in md
    assert "| encoder=gcn | 2 | 0 | 0.4000 ± 0.1414 | 0.3000 ± 0.1414 | 0.1500 ± 0.0707 |" in md
    assert "| encoder=sage | 1 | 1 |" in md and "ValueError: boom" in md


def test_summary_escapes_error_cells(tmp_path):
    """A job's error with a traceback's newlines and a `|` stays inside its cell: every table row is one line with
    the header's number of cells."""
    from hetrec.train.summary import _md_cell, summarize_sweep

    cell = _md_cell("Traceback:\n  File x | y\r\nValueError: a\\b\n")
    assert cell == "Traceback:<br>File x \\| y<br>ValueError: a\\\\b"
    for n, (ov, m) in enumerate([
        (["seed=1"], {"status": "ok", "val": {"recall@20": 0.1}, "test": {"recall@20": 0.1}}),
        (["seed=2"], {"status": "failed", "error": "Traceback (most recent call last):\n  a | b\nKeyError: 'x|y'"}),
    ]):
        d = tmp_path / str(n)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in ov))
        (d / "metrics.json").write_text(json.dumps(m))
    _, md_path = summarize_sweep(tmp_path)
    jobs = md_path.read_text().split("## Jobs")[1].strip().splitlines()
    assert len(jobs) == 4  # header, rule, two jobs
    cells = lambda row: len(re.split(r"(?<!\\)\|", row)) - 2  # unescaped pipes
    assert len({cells(row) for row in jobs}) == 1
    assert "Traceback (most recent call last):<br>a \\| b<br>KeyError: 'x\\|y'" in jobs[3]


@pytest.mark.slow
def test_multirun_summary_reports_a_failing_job(tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "hetrec.train.app", "-m", "train.lr=0.01,-1", *TINY, "train.max_epochs=1",
           f"cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(app.__file__).resolve().parents[2])})
    assert res.returncode == 0, res.stderr[-3000:]
    rows = (sweep / "summary.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 jobs
    assert (sweep / "1" / "error.txt").exists()
    assert json.loads((sweep / "1" / "metrics.json").read_text())["status"] == "failed"
    assert json.loads((sweep / "0" / "metrics.json").read_text())["status"] == "ok"
    md = (sweep / "summary.md").read_text()
    assert "train.lr=-1" in md and "failed" in md and "train.lr" in md and "±" in md


def partner_ranks(item_emb: torch.Tensor, pairs: np.ndarray) -> np.ndarray:
    """Rank (0 = best) of each planted partner among all other items by cosine similarity, both directions."""
    e = torch.nn.functional.normalize(item_emb.float(), dim=1)
    sim = e @ e.t()
    sim.fill_diagonal_(-float("inf"))
    a, b = torch.as_tensor(pairs[:, 0]), torch.as_tensor(pairs[:, 1])
    q = torch.cat([a, b])
    p = torch.cat([b, a])
    target = sim[q, p]
    return (sim[q] > target.unsqueeze(1)).sum(1).numpy()


@pytest.mark.slow
def test_default_run_recovers_planted_complementary_pairs(tmp_path):
    """The default `hetrec-train` (synthetic shop, SAGE, sampled softmax) places the planted partner of an item in its
    top 10 of ~1000 items (cosine of item embeddings) >= 10x as often as chance (10/999 = 1%; measured 18.3%, median
    rank 53; 11.7% / 104.5 with BPR); with the auxiliary co_bought task on (objective.aux_weight=1.0) >= 30x
    (measured 55%, median rank 6.5)."""
    from hydra.utils import instantiate

    for overrides, min_hit10, max_median in (([], 0.10, 0.15), (["objective.aux_weight=1.0"], 0.30, 0.03)):
        cfg = _cfg(tmp_path, ["train.progress=false", *overrides])
        run = tmp_path / f"run{len(overrides)}"
        app.train(cfg, run)
        art = Artifact.load(run / "artifact")
        pairs = instantiate(cfg.dataset).load().planted["complementary_pairs"]
        ranks = partner_ranks(art.embeddings["item"], pairs)
        n = art.embeddings["item"].shape[0]
        hit10 = float((ranks < 10).mean())
        chance = 10 / (n - 1)
        assert hit10 >= min_hit10 and hit10 >= 10 * chance, (overrides, hit10, chance, np.median(ranks))
        assert np.median(ranks) < max_median * n, (overrides, np.median(ranks))


def test_refit_trains_best_epoch_on_train_plus_valid_and_resumes(tmp_path):
    cfg = _cfg(tmp_path, [*TINY, "train.max_epochs=3", "train.refit=true"])
    run = tmp_path / "run"
    m = app.train(cfg, run)
    assert m["refit"] is True and m["refit_epochs"] == m["best_epoch"]
    assert m["train_seconds"] == pytest.approx(m["select_seconds"] + m["refit_seconds"], abs=2e-3)
    assert m["refit_split_hash"] != m["split_hash"]
    refit_log = [json.loads(ln) for ln in (run / "refit" / "train_log.jsonl").read_text().splitlines()]
    assert len(refit_log) == m["best_epoch"] and all("val" not in r for r in refit_log)
    # the refit graph holds the validation pairs as training pairs; the test pairs are unchanged
    sel = app.load_data(cfg)
    cfg0 = _cfg(tmp_path, [*TINY, "train.max_epochs=3", "train.refit=true", "graph.split.valid_ratio=0"])
    full = app.load_data(cfg0)
    n_train, n_valid = (len(sel.splits[s][0]) for s in ("train", "valid"))
    assert len(full.splits["train"][0]) == n_train + n_valid and len(full.splits.get("valid", ((),))[0]) == 0
    assert all(torch.equal(a, b) for a, b in zip(sel.splits["test"], full.splits["test"]))
    # the artifact comes from the refit model: its seen-items matrix includes the validation pairs
    art = Artifact.load(run / "artifact")
    assert art.train_matrix.nnz == full.interaction_matrix("train").nnz > sel.interaction_matrix("train").nnz
    # val is the selection run's; rerunning resumes both fits at their ends with the same test metrics
    again = app.train(cfg, run)
    assert again["test"] == m["test"] and again["val"] == m["val"] and again["refit_epochs"] == m["refit_epochs"]
    assert len((run / "refit" / "train_log.jsonl").read_text().splitlines()) == m["best_epoch"]


def test_refit_off_by_default_reports_selection_model(tmp_path):
    m = app.train(_cfg(tmp_path, TINY), tmp_path / "run")
    assert m["refit"] is False and not (tmp_path / "run" / "refit").exists()


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(app.CONF_DIR) / "experiment").glob("*.yaml")))
def test_every_experiment_composes_and_validates(tmp_path, name):
    """Each benchmark setting in conf/experiment/ composes (its overrides name real groups and keys), passes the
    data-free config checks, and starts with its command line as the first comment."""
    path = Path(app.CONF_DIR) / "experiment" / f"{name}.yaml"
    lines = path.read_text().splitlines()
    assert lines[0] == "# @package _global_" and f"experiment={name}" in lines[1], lines[:2]
    cfg = _cfg(tmp_path, [f"experiment={name}"])
    app.validate_config(cfg)
    assert "_target_" in cfg.dataset and (app.is_baseline(cfg) or "_target_" in cfg.encoder)
