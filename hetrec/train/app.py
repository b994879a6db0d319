"""The Hydra app behind ``hetrec-train``: data -> graph -> NodeInput -> encoder -> objective -> Trainer -> metrics,
artifact.

Run directory (``hydra.run.dir``, default ``outputs/<date>/<time>``)::

    metrics.json      DESIGN.md section 2 shape (plus "status", "target", "split_hash", "item_quality", ...)
    train_log.jsonl   one JSON line per epoch
    checkpoint.pt     written after every epoch; rerunning the same command in the same directory resumes
    artifact/         hetrec.train.artifact.Artifact (what `hetrec recommend/similar/serve` read)
    error.txt         only when the job failed (then metrics.json has "status": "failed")

Config validation names the override to fix (``train.lr``, ``train.fanouts``, ``evaluate.ks``, ``objective.target``).

``train.refit=true`` (select on validation, then fit on train + validation): after the run selected ``best_epoch`` on
the validation pairs carved from train, the graph is rebuilt with those pairs merged back (same builder,
``graph.split.valid_ratio=0``, same seed, same test pairs), a fresh model with the same hyperparameters and the same
initialisation is trained for ``best_epoch`` epochs without validation (checkpoints in ``refit/``, so a killed refit
resumes too), and its test metrics and artifact are reported. ``val`` stays the selection run's; ``train_seconds`` is
the sum of both fits. The test split is never used for any choice.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import sys
import time
import traceback
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from hetrec.data.idmap import atomic_write_text
from hetrec.evaluate.associations import cosine_item_scores, item_quality
from hetrec.evaluate.blend import blend_from_config
from hetrec.evaluate.runner import evaluate_associations, heldout_baskets, reset_peak_rss, run_facts

log = logging.getLogger("hetrec.train")

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
"""The repository's top-level ``conf/`` folder (resolved from the package location)."""

TEST_KEYS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@20", "mrr@20", "coverage@20")


class ConfigError(ValueError):
    """A config value that cannot work; the message names the override to fix."""


def validate_config(cfg: DictConfig) -> None:
    """Checks that need no data: learning rate, batch size, fanouts vs encoder layers, ks."""
    lr = cfg.train.lr
    if lr is None or not float(lr) > 0:
        raise ConfigError(f"train.lr={lr} is not a positive learning rate; set e.g. train.lr=0.01")
    if int(cfg.train.batch_size) < 1:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} must be >= 1; e.g. train.batch_size=8192")
    if int(cfg.train.max_epochs) < 1:
        raise ConfigError(f"train.max_epochs={cfg.train.max_epochs} must be >= 1; e.g. train.max_epochs=20")
    ks = list(cfg.evaluate.ks)
    if not ks or any(int(k) < 1 for k in ks):
        raise ConfigError(f"evaluate.ks={ks} must be positive cut-offs; e.g. evaluate.ks=[10,20]")
    missing = [k for k in (10, 20) if k not in [int(k) for k in ks]]
    if missing:
        raise ConfigError(f"evaluate.ks={ks} lacks {missing}; metrics.json reports @10 and @20, add them: "
                          f"evaluate.ks=[{','.join(str(k) for k in sorted(set(ks) | set(missing)))}]")
    layers = cfg.encoder.get("num_layers")
    fanouts = cfg.train.get("fanouts")
    if cfg.train.mode == "minibatch" and fanouts is not None and layers is not None and len(fanouts) != int(layers):
        raise ConfigError(
            f"train.fanouts={list(fanouts)} has {len(fanouts)} values but encoder.num_layers={layers}; set "
            f"train.fanouts to {layers} values (e.g. train.fanouts=[{','.join(['10'] * int(layers))}]) "
            f"or encoder.num_layers={len(fanouts)}"
        )
    if cfg.train.mode not in ("full", "minibatch"):
        raise ConfigError(f"train.mode={cfg.train.mode} is unknown; use train.mode=full or train.mode=minibatch")


def validate_against_data(cfg: DictConfig, data) -> None:
    """Checks that need the data: relation names exist, K fits the catalogue."""
    from hetrec.objectives.objective import resolve_relation

    etypes = [tuple(et) for et in data.graph.canonical_etypes]
    if cfg.objective.get("target") is not None:
        resolve_relation(etypes, cfg.objective.target, "objective.target")
    gt = cfg.graph.get("target") if "graph" in cfg else None
    if gt is not None:
        resolve_relation(etypes, gt, "graph.target")
    n = data.num_items
    big = [int(k) for k in cfg.evaluate.ks if int(k) > n]
    if big:
        ok = [int(k) for k in cfg.evaluate.ks if int(k) <= n] or [min(10, n)]
        raise ConfigError(
            f"evaluate.ks={list(cfg.evaluate.ks)} has K={big} larger than the catalogue ({n} items); "
            f"set evaluate.ks=[{','.join(str(k) for k in ok)}]"
        )


def _choice(group: str, cfg_node: DictConfig) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        name = HydraConfig.get().runtime.choices.get(group)
        if name:
            return str(name)
    except Exception:  # noqa: BLE001 (not inside a Hydra run)
        pass
    target = str(cfg_node.get("_target_", "?"))
    return target.rsplit(".", 1)[-1].lower()


def _is_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001
        return False


def _run_dir() -> Path:
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # noqa: BLE001
        return Path.cwd()


def load_data(cfg: DictConfig):
    """Instantiate the dataset and the graph builder and build (or load from cache) the ``GraphData``."""
    from hetrec.evaluate.runner import build_data

    return build_data(cfg)


def is_baseline(cfg: DictConfig) -> bool:
    """Whether this job runs a classical baseline (``model=baseline/<name>``) instead of the GNN path."""
    return "model" in cfg and cfg.model is not None and "_target_" in cfg.model


def run_baseline_job(cfg: DictConfig, run_dir: Path) -> dict:
    """Fit and evaluate the baseline ``cfg.model`` on the same data, split and evaluator as the GNNs; write
    ``metrics.json`` (same shape, ``encoder`` = the baseline's option name) into ``run_dir``."""
    from hetrec.evaluate.runner import run_baseline
    from hetrec.train.trainer import seed_everything

    t_start = time.perf_counter()
    validate_config(cfg)
    if cfg.evaluate.get("blend"):
        raise ConfigError(f"evaluate.blend={cfg.evaluate.blend} blends a GNN's scores with a partner; a baseline job "
                          f"(model={_choice('model', cfg.model)}) takes none: drop evaluate.blend or use model=gnn")
    job = cfg.copy()
    with open_dict(job):  # the option name (baseline/ease) names the row
        job.model_name = _choice("model", cfg.model)
    data = load_data(cfg)
    validate_against_data(cfg, data)
    seed_everything(int(cfg.seed))
    with cpu_threads(cfg.train.get("num_threads")):
        metrics = {"status": "ok", **run_baseline(job, data=data, t_start=t_start, eval_options=eval_options(cfg))}
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, default=str))
    return metrics


@contextlib.contextmanager
def cpu_threads(n):
    """``train.num_threads`` for a baseline job: torch's threads and, through threadpoolctl, the BLAS threads that
    numpy/scipy use (SVDs, dense products); ``None`` leaves both as they are."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        with threadpool_limits(limits=max(1, int(n))):
            yield
    finally:
        torch.set_num_threads(before)


def build_model(cfg: DictConfig, data):
    """NodeInput -> encoder -> objective for this data (data-derived arguments passed at the call)."""
    from hydra.utils import instantiate

    from hetrec.models.input import NodeInput
    from hetrec.train.model import LinkPredictionModel

    g = data.graph
    num_nodes = {nt: g.num_nodes(nt) for nt in g.ntypes}
    feat_dims = {nt: int(f.shape[1]) for nt, f in data.features.items() if nt in num_nodes}
    node_input = NodeInput(num_nodes, feat_dims, **OmegaConf.to_container(cfg.node_input, resolve=True))
    dims = node_input.out_dims
    encoder = instantiate(cfg.encoder, etypes=g.canonical_etypes, in_dims=dims)
    # GraphData is not a config value: instantiate a partial, then pass the data-derived arguments.
    objective = instantiate(cfg.objective, _partial_=True)(data=data, dim=encoder.out_dim)
    return LinkPredictionModel(node_input, encoder, objective), feat_dims


def train(cfg: DictConfig, run_dir: Path, callbacks=()) -> dict:
    """Run one training job into ``run_dir``; return the metrics dict written to ``metrics.json``."""
    from hetrec.train.trainer import Trainer, resolve_device, seed_everything

    validate_config(cfg)
    (run_dir / "error.txt").unlink(missing_ok=True)  # stale from an earlier failed attempt in this folder
    t_start = time.perf_counter()
    data = load_data(cfg)
    validate_against_data(cfg, data)
    blend = blend_from_config(cfg, CONF_DIR)
    if blend is not None:
        blend.check(data)
    seed = int(cfg.seed)
    seed_everything(seed)
    model, feat_dims = build_model(cfg, data)
    tc = OmegaConf.to_container(cfg.train, resolve=True)
    device = resolve_device(tc.pop("device", "auto"))
    refit = bool(tc.pop("refit", False))
    trainer = Trainer(
        model, data, seed=seed, device=device, run_dir=run_dir, ks=list(cfg.evaluate.ks),
        eval_chunk_size=int(cfg.evaluate.get("chunk_size", 4096)), callbacks=callbacks, **tc,
    )
    summary = trainer.fit()
    emb = trainer.embeddings()
    has_test = len(data.splits.get("test", (torch.zeros(0),))[0]) > 0
    options = eval_options(cfg)
    if trainer.has_valid and options["bootstrap"]:  # validation intervals: the figures to choose by
        val = trainer.evaluate("valid", emb, **options)
    else:
        val = summary["val"] or (trainer.evaluate("valid", emb) if trainer.has_valid else {})
    if blend is not None:  # evaluate.blend: the weight is chosen here, on validation, before any test figure
        blend.select(data, trainer.score_fn(emb), list(cfg.evaluate.ks))
        blend_val = blend.evaluate(data, trainer.score_fn(emb), "valid", list(cfg.evaluate.ks), **options) \
            if trainer.has_valid else {}
    select_seconds = float(summary["train_seconds"])
    refit_info: dict = {"refit": False}
    select_split_hash = data.split_hash
    if refit and trainer.has_valid:
        data, model, feat_dims, trainer, refit_summary = refit_on_train_and_valid(
            cfg, data, summary["best_epoch"], tc, device, run_dir / "refit", callbacks
        )
        emb = trainer.embeddings()
        refit_info = {
            "refit": True,
            "refit_epochs": refit_summary["epochs"],
            "select_seconds": round(select_seconds, 3),
            "refit_seconds": refit_summary["train_seconds"],
            "refit_split_hash": data.split_hash,
        }
        summary = {**summary, "train_seconds": round(select_seconds + float(refit_summary["train_seconds"]), 3)}
    elif refit:
        log.warning("train.refit=true but this run has no validation pairs (graph.split.valid_ratio=0?): nothing to "
                    "merge back, the selection run is reported as is")
    test = trainer.evaluate("test", emb, **options) if has_test else None
    if blend is not None and has_test:
        blend_test = blend.evaluate(data, trainer.score_fn(emb), "test", list(cfg.evaluate.ks), **options)
    metrics = {
        "status": "ok",
        "dataset": data.name or _choice("dataset", cfg.dataset),
        "encoder": _choice("encoder", cfg.encoder),
        "objective": _choice("objective", cfg.objective),
        "seed": seed,
        "epochs": summary["epochs"],
        "best_epoch": summary["best_epoch"],
        "train_seconds": summary["train_seconds"],
        "resumed_from": summary["resumed_from"],
        **refit_info,
        "target": list(model.objective.target),
        "split_hash": select_split_hash,
        "num_users": data.num_users,
        "num_items": data.num_items,
        "device": str(device),
        "val": {k: float(v) for k, v in val.items() if "@" in k},
    }
    if test is not None:
        metrics["test"] = {k: float(v) for k, v in test.items() if "@" in k or k.endswith("/num_users")}
    # what the model saw: forward and reverse relations with their edge counts, and node feature sizes
    metrics["graph_edges"] = {",".join(et): int(data.graph.num_edges(et)) for et in data.graph.canonical_etypes}
    metrics["feature_dims"] = {nt: int(f.shape[1]) for nt, f in data.features.items()}
    item_emb = emb[data.target[2]]
    if cfg.evaluate.get("associations"):
        metrics["associations"] = evaluate_associations(data, cosine_item_scores(item_emb), list(cfg.evaluate.ks))
    # co-purchase pairs only for basket data (held-out pairs of e.g. movie ratings are no co-purchases)
    pairs_from = heldout_baskets(data) if data.train_baskets is not None else None
    metrics["item_quality"] = item_quality(item_emb, pairs_from, data.item_categories(), seed=seed)
    gnn_test = metrics.get("test")
    if blend is not None:  # the job's figures are the blend's; the GNN alone stays beside them (and in the artifact)
        metrics["blend"] = {**blend.report, "gnn_val": metrics["val"], "gnn_test": gnn_test}
        metrics["val"] = {k: float(v) for k, v in blend_val.items() if "@" in k}
        if has_test:
            metrics["test"] = {k: float(v) for k, v in blend_test.items() if "@" in k or k.endswith("/num_users")}
    metrics.update(run_facts(t_start))
    save_artifact(cfg, data, model, emb, feat_dims, run_dir / "artifact", {**metrics, "test": gnn_test})
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def eval_options(cfg: DictConfig) -> dict:
    """Options of the validation and test evaluations from ``evaluate``: per-user bootstrap resamples for 95%
    intervals, and the activity quantiles of the cold/warm user breakdown."""
    quantiles = cfg.evaluate.get("activity_quantiles")
    return {"bootstrap": int(cfg.evaluate.get("bootstrap", 0) or 0), "seed": int(cfg.seed),
            "activity_quantiles": None if quantiles is None else [float(q) for q in quantiles]}


def refit_on_train_and_valid(cfg: DictConfig, data, best_epoch: int, train_kwargs: dict, device, run_dir: Path,
                             callbacks=()):
    """Final fit on train + validation for the epoch count selected on validation (the "refit" protocol).

    Rebuilds the graph with the same builder and ``graph.split.valid_ratio=0`` (the validation pairs go back into
    the training graph and targets; the test pairs must stay exactly the same, else it raises), re-seeds so the
    fresh model starts from the selection run's initialisation, and trains ``best_epoch`` epochs with the same
    hyperparameters (the LR schedule keeps ``train.max_epochs`` as its horizon, so epoch k sees the same LR as in the
    selection run). No validation, no early stopping. Checkpoints go to ``run_dir`` so a killed refit resumes.

    Args:
        cfg: the run's composed config. data: the selection run's ``GraphData`` (its test pairs are checked).
        best_epoch: epochs to train (the selection run's best epoch, >= 1).
        train_kwargs: the ``Trainer`` keyword arguments of the selection run (``train.*`` minus device/refit).
        device: torch device. run_dir: checkpoint/log folder of the refit (e.g. ``<run>/refit``).
        callbacks: per-epoch callbacks, as for the selection run.

    Returns:
        ``(refit_data, model, feat_dims, trainer, summary)``.
    """
    from hetrec.train.trainer import Trainer, seed_everything

    best_epoch = int(best_epoch)
    if best_epoch < 1:
        raise ValueError(f"refit needs the selected epoch count >= 1, got best_epoch={best_epoch}")
    rcfg = copy.deepcopy(cfg)
    rcfg.graph.split.valid_ratio = 0.0
    rdata = load_data(rcfg)
    old_test, new_test = data.splits.get("test"), rdata.splits.get("test")
    if old_test is not None and (
        new_test is None or any(not torch.equal(torch.as_tensor(a), torch.as_tensor(b)) for a, b in zip(old_test, new_test))
    ):
        raise ValueError(
            f"train.refit=true: rebuilding the graph with graph.split.valid_ratio=0 changed the test pairs "
            f"(split strategy {cfg.graph.split.strategy!r} draws test after valid), so the refit would be scored on "
            f"another test set; use a split whose test part does not depend on valid_ratio (graph.split.strategy="
            f"given, global_time with graph.split.cut_time) or set train.refit=false"
        )
    seed = int(cfg.seed)
    seed_everything(seed)
    model, feat_dims = build_model(rcfg, rdata)

    def stop_at_best(trainer, epoch, record):
        if epoch >= best_epoch and not trainer.stopped:
            trainer.stopped = True
            trainer.save_checkpoint()  # a resumed refit must not train past best_epoch

    kw = dict(train_kwargs)
    kw["max_epochs"] = max(int(kw.get("max_epochs", best_epoch)), best_epoch)
    trainer = Trainer(
        model, rdata, seed=seed, device=device, run_dir=run_dir, ks=list(cfg.evaluate.ks),
        eval_chunk_size=int(cfg.evaluate.get("chunk_size", 4096)), callbacks=[*callbacks, stop_at_best], **kw,
    )
    summary = trainer.fit()
    log.info("refit on train + valid: %d epochs, %.1f s", summary["epochs"], summary["train_seconds"])
    return rdata, model, feat_dims, trainer, summary


def save_artifact(cfg, data, model, emb, feat_dims, path: Path, metrics: dict) -> None:
    """Write the serving artifact (see :mod:`hetrec.train.artifact`)."""
    from hetrec import __version__ as hetrec_version
    from hetrec.train.artifact import Artifact

    g = data.graph
    meta = {
        "dataset": metrics["dataset"],
        "encoder": metrics["encoder"],
        "target": list(model.objective.target),
        "scorer": model.objective.scorer_name,
        # DistMult's relation diagonal: score(u, i) = sum(u * relation * i); empty for dot/cosine
        "scorer_params": {k: v.detach().cpu().tolist() for k, v in model.objective.scorer.state_dict().items()},
        # objective.item_bias: the embeddings' last column is 1 (users) / b_i (items), so <u, i> includes b_i
        "item_bias": model.objective.item_bias is not None,
        "canonical_etypes": [list(et) for et in g.canonical_etypes],
        "num_nodes": {nt: g.num_nodes(nt) for nt in g.ntypes},
        "feat_dims": feat_dims,
        "node_input": {"dim": int(model.node_input.dim), "id_embedding": bool(cfg.node_input.get("id_embedding", True))},
        "encoder_config": OmegaConf.to_container(cfg.encoder, resolve=True),
        "objective_config": OmegaConf.to_container(cfg.objective, resolve=True),
        "split_hash": data.split_hash,
        "seed": metrics["seed"],
        "best_epoch": metrics["best_epoch"],
        "test": metrics.get("test"),
        "hetrec_version": hetrec_version,
    }
    item_attrs = data.item_attrs if data.item_attrs is not None and hasattr(data.item_attrs, "to_parquet") else None
    Artifact(
        embeddings=emb,
        idmaps=dict(data.idmaps),
        meta=meta,
        config=OmegaConf.to_container(cfg, resolve=True),
        train_matrix=data.interaction_matrix("train"),
        co_bought=data.co_bought,
        item_attrs=item_attrs,
        model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
        features={k: v.detach().cpu() for k, v in data.features.items()} or None,
        feature_encoders=data.feature_encoders or None,
    ).save(path)


def _print_result(run_dir: Path, metrics: dict) -> None:
    print(f"hetrec-train: outputs in {run_dir}")
    if "model" in metrics:  # a baseline job: metrics.json only
        print(f"  metrics.json  (baseline {metrics['model']}, {metrics['train_seconds']:.1f} s fit)")
    else:
        print(f"  metrics.json, train_log.jsonl, checkpoint.pt, artifact/  (best epoch {metrics['best_epoch']} of "
              f"{metrics['epochs']}, {metrics['train_seconds']:.1f} s training)")
    split = "test" if "test" in metrics else "val"
    shown = "  ".join(f"{k}={metrics[split].get(k, float('nan')):.4f}" for k in TEST_KEYS)
    print(f"  {split}: {shown}")


def task(cfg: DictConfig) -> dict | None:
    """One Hydra job. In a multirun a failure is recorded (error.txt, metrics.json with status failed) and the sweep
    goes on; in a single run it is raised."""
    run_dir = _run_dir()
    reset_peak_rss()  # jobs of a multirun share this process; each reports its own peak memory
    try:
        metrics = run_baseline_job(cfg, run_dir) if is_baseline(cfg) else train(cfg, run_dir)
    except Exception as e:  # noqa: BLE001
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "error.txt", "".join(traceback.format_exception(e)))
        failed = {
            "status": "failed",
            "error": f"{type(e).__name__}: {e}",
            "dataset": _choice("dataset", cfg.dataset) if "dataset" in cfg else None,
            "encoder": _choice("encoder", cfg.encoder) if "encoder" in cfg else None,
            "seed": int(cfg.get("seed", 0)),
        }
        atomic_write_text(run_dir / "metrics.json", json.dumps(failed, indent=2))
        if _is_multirun():
            log.error("job failed (%s); see %s", failed["error"], run_dir / "error.txt")
            return failed
        raise
    _print_result(run_dir, metrics)
    return metrics


def main() -> None:
    """Entry point of ``hetrec-train``: register plugin encoder configs, then let Hydra compose and run."""
    import hydra

    from hetrec.registry import register_configs

    register_configs()
    hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")(task)()


if __name__ == "__main__":
    sys.exit(main())
