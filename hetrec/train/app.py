"""The Hydra app behind ``hetrec-train``: data -> graph -> NodeInput -> encoder -> objective -> Trainer -> metrics,
artifact.

Run directory (``hydra.run.dir``, default ``outputs/<date>/<time>``)::

    metrics.json      {"val": {...}, "test": {...}, "train_seconds", "status", "target", "split_hash",
                       "item_quality", ...}
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
import importlib.resources
import json
import logging
import os
import sys
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from hetrec.errors import (
    EXIT_USER_ERROR,
    ConfigError,
    composition_error,
    debug_enabled,
    user_error,
)
from hetrec.evaluate.associations import cosine_item_scores, item_quality
from hetrec.evaluate.blend import blend_from_config
from hetrec.evaluate.runner import (
    evaluate_associations,
    heldout_baskets,
    reset_peak_rss,
    run_facts,
)
from hetrec.io import atomic_write_text, run_lock
from hetrec.train.checks import JOB_RUNNERS, validate_against_data, validate_config
from hetrec.train.new_users import NewUserRanking
from hetrec.train.recency import RecencyCalibration
from hetrec.train.run_folder import (
    check_run_folder,
    command_line,
    record_failure,
    resume_hash,
)

log = logging.getLogger("hetrec.train")

CONF_DIR = str(importlib.resources.files("hetrec.conf"))
"""The app's Hydra configs: the installed package ``hetrec.conf`` (the repository's top-level ``conf/`` folder, mapped
into the package by pyproject's package-dir, so a wheel install and a checkout compose the same configs)."""

TEST_KEYS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@20", "mrr@20", "coverage@20")


def trainer_options(cfg: DictConfig) -> dict:
    """``Trainer`` keyword arguments from ``cfg.train``: plain values, with the optimizer and scheduler config groups
    instantiated into their factories (Hydra ``_partial_`` targets)."""
    from hydra.utils import instantiate

    tc = OmegaConf.to_container(cfg.train, resolve=True)
    tc.pop("recency", None)  # applied after training (hetrec.train.recency)
    tc.pop("new_users", None)  # chosen after training (hetrec.train.new_users)
    for key, group in (("optimizer", "adam|adamw|sgd"), ("scheduler", "cosine|step|exponential")):
        node = cfg.train.get(key)
        if node is None:
            tc[key] = None
        elif OmegaConf.is_dict(node) and "_target_" in node:
            tc[key] = instantiate(node)
        else:
            raise ConfigError(
                f"train.{key}={OmegaConf.to_container(node) if OmegaConf.is_config(node) else node!r} is not a "
                f"{key} config; choose one with train/{key}={group} (a config group: note the slash), then set its "
                f"options as train.{key}.<option>=..."
            )
    if tc["optimizer"] is None:
        tc.pop("optimizer")  # the trainer's default (Adam)
    return tc


def _choice(group: str, cfg_node: DictConfig) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        name = HydraConfig.get().runtime.choices.get(group)
        if name:
            return str(name)
    except Exception:  # not inside a Hydra run
        pass
    target = str(cfg_node.get("_target_", "?"))
    return target.rsplit(".", 1)[-1].lower()


def _is_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:
        return False


def _run_dir() -> Path:
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except Exception:
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
    """NodeInput -> encoder -> objective for this data (data-derived arguments passed at the call). NodeInput and
    encoder come from :func:`hetrec.train.artifact.build_modules`, as when serving rebuilds the model."""
    from hydra.utils import instantiate

    from hetrec.train.artifact import build_modules, model_spec
    from hetrec.train.model import LinkPredictionModel

    spec = model_spec(cfg, data)
    node_input, encoder = build_modules(spec)
    # GraphData is not a config value: instantiate a partial, then pass the data-derived arguments.
    objective = instantiate(cfg.objective, _partial_=True)(data=data, dim=encoder.out_dim)
    model = LinkPredictionModel(node_input, encoder, objective)
    if "cold_test" in data.splits:  # graph.split.strategy=cold_items: new products are never negatives
        from hetrec.evaluate.cold_items import warm_negatives

        warm_negatives(model, data)
    return model, spec["feat_dims"]


def train(cfg: DictConfig, run_dir: Path, callbacks=(), *, data=None, make_trainer=None) -> dict:
    """Run one training job into ``run_dir``; return the metrics dict written to ``metrics.json``. ``data`` (default:
    built from ``cfg``) and ``make_trainer`` (default ``Trainer``) let hetrec.dist train on DGL's engine."""
    from hetrec.train.trainer import Trainer, resolve_device, seed_everything

    validate_config(cfg)
    (run_dir / "error.txt").unlink(missing_ok=True)  # stale from an earlier failed attempt in this folder
    t_start = time.perf_counter()
    data = load_data(cfg) if data is None else data
    validate_against_data(cfg, data)
    blend = blend_from_config(cfg, CONF_DIR)
    if blend is not None:
        blend.check(data)
    seed = int(cfg.seed)
    seed_everything(seed)
    model, feat_dims = build_model(cfg, data)
    tc = trainer_options(cfg)
    device = resolve_device(tc.pop("device", "auto"))
    refit = bool(tc.pop("refit", False))
    trainer = (make_trainer or Trainer)(
        model, data, seed=seed, device=device, run_dir=run_dir, ks=list(cfg.evaluate.ks),
        eval_chunk_size=int(cfg.evaluate.get("chunk_size", 4096)), callbacks=callbacks,
        config_hash=resume_hash(cfg), **tc,
    )
    tc["batch_size"] = trainer.batch_size  # batch_size null is chosen from this training set; a refit keeps it
    summary = trainer.fit()
    recency = RecencyCalibration(str(cfg.train.get("recency", "off")))  # train.recency: item bias vs recent sales
    new_users = NewUserRanking(str(cfg.train.get("new_users", "off")))  # train.new_users: their list
    options = eval_options(cfg)
    emb = trainer.embeddings()

    def evaluate(split: str, e: dict, **opts) -> dict:  # every figure from here on: new users get their list
        return trainer.evaluate(split, e, wrap=lambda fn: new_users.wrap(fn, data), **opts)

    if trainer.has_valid:  # the recency shift and the new users' list are chosen jointly (hetrec.train.new_users)
        new_users.prepare(data, lambda **o: trainer.evaluate("valid", emb, **o), trainer.monitor)
        if new_users.active:
            emb = recency.select(data, model, emb, lambda e: new_users.joint(
                lambda **o: trainer.evaluate("valid", e, **o), trainer.monitor), trainer.monitor)
            new_users.decide(lambda **o: trainer.evaluate("valid", emb, **o), trainer.monitor)
        else:  # the candidates' figures carry the user breakdown, as the validation figures below do
            emb = recency.select(data, model, emb, lambda e: evaluate(
                "valid", e, activity_quantiles=options["activity_quantiles"]), trainer.monitor)
    has_test = len(data.splits.get("test", (torch.zeros(0),))[0]) > 0
    if trainer.has_valid and options["bootstrap"]:  # validation intervals: the figures to choose by
        val = evaluate("valid", emb, **options)
    elif new_users.active:  # the figures above were joint choices, not the model's validation metrics
        val = evaluate("valid", emb, activity_quantiles=options["activity_quantiles"])
    else:  # the selected epoch's figures, or those of the recency shift chosen after it
        val = recency.valid_metrics or summary["val"] or (evaluate("valid", emb) if trainer.has_valid else {})
    if blend is not None:  # evaluate.blend: the weight is chosen here, on validation, before any test figure
        gnn_scores = new_users.wrap(trainer.score_fn(emb), data)
        blend.select(data, gnn_scores, list(cfg.evaluate.ks))
        blend_val = blend.evaluate(data, gnn_scores, "valid", list(cfg.evaluate.ks), **options) \
            if trainer.has_valid else {}
    select_seconds = float(summary["train_seconds"])
    refit_info: dict = {"refit": False}
    select_split_hash = data.split_hash
    if refit and trainer.has_valid:
        data, model, feat_dims, trainer, refit_summary = refit_on_train_and_valid(
            cfg, data, summary["best_epoch"], tc, device, run_dir / "refit", callbacks
        )
        emb = recency.apply(data, model, trainer.embeddings())
        new_users.apply(data)
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
    test = evaluate("test", emb, **options) if has_test else None
    if blend is not None and has_test:
        blend_test = blend.evaluate(data, gnn_scores, "test", list(cfg.evaluate.ks), **options)
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
        "recency": recency.report,
        "new_users": new_users.report,
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
    if "cold_test" in data.splits:  # graph.split.strategy=cold_items: new products, every row of the evaluation
        from hetrec.evaluate.cold_items import evaluate_cold_items

        metrics["cold_items"] = evaluate_cold_items(data, model, emb, list(cfg.evaluate.ks), **options)
    gnn_test = metrics.get("test")
    if blend is not None:  # the job's figures are the blend's; the GNN alone stays beside them (and in the artifact)
        metrics["blend"] = {**blend.report, "gnn_val": metrics["val"], "gnn_test": gnn_test}
        metrics["val"] = {k: float(v) for k, v in blend_val.items() if "@" in k}
        if has_test:
            metrics["test"] = {k: float(v) for k, v in blend_test.items() if "@" in k or k.endswith("/num_users")}
    metrics.update(run_facts(t_start))
    save_artifact(cfg, data, model, emb, feat_dims, run_dir / "artifact", {**metrics, "test": gnn_test},
                  new_user_scores=new_users.scores)
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
        new_test is None
        or any(not torch.equal(torch.as_tensor(a), torch.as_tensor(b)) for a, b in zip(old_test, new_test))
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
        eval_chunk_size=int(cfg.evaluate.get("chunk_size", 4096)), callbacks=[*callbacks, stop_at_best],
        config_hash=resume_hash(cfg), **kw,
    )
    summary = trainer.fit()
    log.info("refit on train + valid: %d epochs, %.1f s", summary["epochs"], summary["train_seconds"])
    return rdata, model, feat_dims, trainer, summary


def save_artifact(cfg, data, model, emb, feat_dims, path: Path, metrics: dict, new_user_scores=None) -> None:
    """Write the serving artifact (see :mod:`hetrec.train.artifact`); ``new_user_scores``: the list of users
    without history chosen by ``train.new_users`` (or ``None``)."""
    from hetrec import __version__ as hetrec_version
    from hetrec.train.artifact import Artifact, model_spec

    meta = {
        "dataset": metrics["dataset"],
        "encoder": metrics["encoder"],
        "target": list(model.objective.target),
        "scorer": model.objective.scorer_name,
        # DistMult's relation diagonal: score(u, i) = sum(u * relation * i); empty for dot/cosine
        "scorer_params": {k: v.detach().cpu().tolist() for k, v in model.objective.scorer.state_dict().items()},
        # objective.item_bias: the embeddings' last column is 1 (users) / b_i (items), so <u, i> includes b_i
        "item_bias": model.objective.item_bias is not None,
        **model_spec(cfg, data),  # canonical_etypes, num_nodes, feat_dims, node_input, encoder_config
        "objective_config": OmegaConf.to_container(cfg.objective, resolve=True),
        "split_hash": data.split_hash,
        "seed": metrics["seed"],
        "best_epoch": metrics["best_epoch"],
        "test": metrics.get("test"),
        "new_users": (metrics.get("new_users") or {}).get("chosen"),
        "hetrec_version": hetrec_version,
        "command": command_line(path.parent),
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
        new_user_scores=new_user_scores,
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
    goes on. In a single run a user error (`HetrecError`) prints its message and exits with status 2 (the traceback
    goes to error.txt; ``--debug``/``HETREC_DEBUG=1`` raises it instead); any other exception is raised."""
    run_dir = _run_dir()
    reset_peak_rss()  # jobs of a multirun share this process; each reports its own peak memory
    with run_lock(run_dir):  # one writer per run folder
        try:
            check_run_folder(cfg, run_dir)
            runner = JOB_RUNNERS.get(cfg.train.get("mode"), train)
            metrics = run_baseline_job(cfg, run_dir) if is_baseline(cfg) else runner(cfg, run_dir)
        except Exception as e:
            err = user_error(e)
            failed = record_failure(run_dir, e, {
                "dataset": _choice("dataset", cfg.dataset) if "dataset" in cfg else None,
                "encoder": _choice("encoder", cfg.encoder) if "encoder" in cfg else None,
                "seed": int(cfg.get("seed", 0)),
            }, shown=err)
            if _is_multirun():
                log.error("job failed (%s); see %s", failed["error"], run_dir / "error.txt")
                return failed
            if err is not None and not debug_enabled():
                print(f"hetrec-train: error: {err}\n  (details in {run_dir / 'error.txt'}; rerun with --debug to see "
                      f"where it was raised)", file=sys.stderr)
                raise SystemExit(EXIT_USER_ERROR) from None
            raise
    if metrics is not None:
        _print_result(run_dir, metrics)
    return metrics


def main() -> None:
    """Entry point of ``hetrec-train``: register plugin encoder configs, then let Hydra compose and run.

    User errors (bad overrides, config values, data files) print their message and exit with status 2, without a
    traceback; ``--debug`` (anywhere on the command line) or ``HETREC_DEBUG=1`` shows the traceback."""
    import hydra

    from hetrec.errors import DEBUG_ENV
    from hetrec.registry import register_configs

    if "--debug" in sys.argv[1:]:
        sys.argv = [a for a in sys.argv if a != "--debug"]
        os.environ[DEBUG_ENV] = "1"
    # Hydra prints its own errors and exits with 1; with HYDRA_FULL_ERROR it raises them, so that they are told
    # apart here: composition errors are the user's (status 2), anything else keeps its traceback.
    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        register_configs()
        hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")(task)()
    except Exception as e:
        msg = None if debug_enabled() else composition_error(e)
        if msg is None:
            raise
        print(f"hetrec-train: error: {msg}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


if __name__ == "__main__":
    sys.exit(main())
