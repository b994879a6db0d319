"""Score blend of a model with a partner recommender (e.g. a GNN with the GF-CF graph filter), weight chosen on
validation.

``score(u, i) = z_u(base)(i) + w * z_u(partner)(i)`` where ``z_u`` standardizes one user's scores over that user's
candidate items (every item the evaluator does not exclude: training items, and for test also validation items), so
the two score scales meet on equal terms per user. ``w`` is the grid value with the best validation ``metric``
(ties: the earlier grid value); the test split is never looked at before the weight is fixed.

In ``hetrec-train`` (GNN runs): ``evaluate.blend=graph_filter`` (any ``conf/model/<name>.yaml`` recommender),
``evaluate.blend_weights``, ``evaluate.blend_metric``, ``evaluate.blend_options`` (overrides of the partner's config).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.evaluate.ranking import ScoreFn, evaluate_split, per_user_metrics
from hetrec.evaluate.ranking import split_exclusions as exclusions
from hetrec.graph.data import GraphData

__all__ = ["BlendScorer", "ScoreBlend", "blend_from_config", "exclusions", "partner_config", "select_weight",
           "standardize_rows"]


def standardize_rows(scores: torch.Tensor, exclude: sp.csr_matrix | None = None,
                     users: np.ndarray | None = None) -> torch.Tensor:
    """Per-row z-scores ``(s - mean) / std`` over each row's candidate items (those not in ``exclude[users[row]]``).

    A row whose candidates all score the same (e.g. a partner with no evidence for the user) becomes all zeros.

    Shapes:
        scores: [n, num_items]; exclude: [num_users, num_items]; users: [n] -> [n, num_items] float32
    """
    s = scores.float()
    n, m = s.shape
    rows = cols = None
    count = torch.full((n,), float(m), dtype=torch.float64)
    total = s.sum(1, dtype=torch.float64)
    if exclude is not None and n:
        sub = exclude[np.asarray(users)]
        rows = torch.from_numpy(np.repeat(np.arange(n, dtype=np.int64), np.diff(sub.indptr)))
        cols = torch.from_numpy(sub.indices.astype(np.int64))
        vals = s[rows, cols].double()
        count -= torch.bincount(rows, minlength=n).double()
        total -= torch.zeros(n, dtype=torch.float64).index_add_(0, rows, vals)
    mean = (total / count.clamp(min=1.0)).float()
    z = s - mean[:, None]
    sq = z.pow(2).sum(1, dtype=torch.float64)
    if rows is not None and len(rows):
        sq -= torch.zeros(n, dtype=torch.float64).index_add_(0, rows, z[rows, cols].double().pow(2))
    std = (sq.clamp(min=0.0) / count.clamp(min=1.0)).sqrt().float()
    std = torch.where(std > 1e-12, std, torch.full_like(std, math.inf))  # constant rows -> 0
    return z.div_(std[:, None])


class BlendScorer:
    """``users -> z(base(users)) + weight * z(partner(users))`` (a score function for the evaluator).

    Args:
        base, partner: score functions ``users [n] -> [n, num_items]``.
        weight: partner weight ``w``.
        exclude: the items the evaluator will exclude (standardization skips them), or ``None``.
    """

    writable_output = True  # every call returns a fresh block the evaluator may mask in place

    def __init__(self, base: ScoreFn, partner: ScoreFn, weight: float, exclude: sp.csr_matrix | None) -> None:
        self.base, self.partner, self.weight, self.exclude = base, partner, float(weight), exclude

    def components(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = np.asarray(torch.as_tensor(users, dtype=torch.int64).numpy())
        with torch.no_grad():
            zb = standardize_rows(torch.as_tensor(self.base(torch.from_numpy(u))).detach().cpu(), self.exclude, u)
            zp = standardize_rows(torch.as_tensor(self.partner(torch.from_numpy(u))).detach().cpu(), self.exclude, u)
        return zb, zp

    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        zb, zp = self.components(users)
        return zb.add_(zp, alpha=self.weight)


def select_weight(data: GraphData, base: ScoreFn, partner: ScoreFn, weights: Sequence[float],
                  ks: Sequence[int] = (10, 20), metric: str = "recall@20", chunk_size: int = 4096,
                  memory_budget_mb: float = 1024.0) -> tuple[float, list[dict]]:
    """The grid weight with the best mean validation ``metric`` (ties: the earlier grid value), from one pass over
    the validation users (each user's two score rows are computed once and combined for every weight).

    Returns:
        ``(weight, [{"weight": w, "val_<metric>": ..., "val_recall@20": ..., "val_ndcg@20": ...}, ...])``
    """
    if not weights:
        raise ValueError("evaluate.blend_weights is empty; give at least one weight, e.g. [0.0, 0.5, 1.0]")
    truth = data.interaction_matrix("valid")
    exclude = exclusions(data, "valid")
    pop = np.asarray(exclude.getnnz(axis=0), dtype=np.float64)
    users = np.flatnonzero(np.diff(truth.indptr) > 0).astype(np.int64)
    ks = sorted({int(k) for k in ks})
    wanted = sorted({metric, "recall@20", "ndcg@20"} & {f"{m}@{k}" for m in ("recall", "ndcg", "precision", "hit",
                                                                             "mrr") for k in ks})
    if metric not in wanted:
        raise ValueError(f"evaluate.blend_metric={metric!r} is not a metric at evaluate.ks={ks}; "
                         "use e.g. recall@20 or ndcg@20")
    scorer = BlendScorer(base, partner, 0.0, exclude)
    step = max(1, min(int(chunk_size), int(memory_budget_mb * 2**20 // max(1, truth.shape[1] * 4 * 4))))
    sums = {w: {k: 0.0 for k in wanted} for w in weights}
    for s in range(0, len(users), step):
        u = users[s : s + step]
        zb, zp = scorer.components(torch.from_numpy(u))
        for w in weights:
            block = zb + float(w) * zp
            _, per, _ = per_user_metrics(lambda _u, b=block: b, truth, exclude, ks, users=u, chunk_size=len(u),
                                         memory_budget_mb=len(u) * truth.shape[1] * 8 / 2**20 + 1.0,
                                         item_popularity=pop)
            for k in wanted:
                sums[w][k] += float(np.nansum(per[""][k]))
    n = max(len(users), 1)
    table = [{"weight": float(w), **{f"val_{k}": sums[w][k] / n for k in wanted}} for w in weights]
    best = max(range(len(table)), key=lambda j: (table[j][f"val_{metric}"], -j))
    return float(weights[best]), table


def partner_config(name: str, options: dict | None, conf_dir: str | Path, seed: int = 0):
    """The partner's config: ``<conf_dir>/model/<name>.yaml`` (needs a ``_target_``) with ``options`` merged over it;
    ``${seed}`` resolves to ``seed``."""
    from omegaconf import OmegaConf

    path = Path(conf_dir) / "model" / f"{name}.yaml"
    if not path.exists():
        options_ = sorted(str(p.relative_to(Path(conf_dir) / "model").with_suffix(""))
                          for p in (Path(conf_dir) / "model").rglob("*.yaml") if p.name != "gnn.yaml")
        raise ValueError(f"evaluate.blend={name!r}: no {path}; use one of {options_}, e.g. evaluate.blend=graph_filter")
    node = OmegaConf.load(path)
    if "_target_" not in node:
        raise ValueError(f"evaluate.blend={name!r}: {path} is not a recommender config (no _target_)")
    root = OmegaConf.create({"seed": int(seed), "partner": OmegaConf.merge(node, options or {})})
    return root.partner


class ScoreBlend:
    """Blend a model's scores with a partner recommender: fit the partner on the same training data, choose the
    weight on validation, evaluate splits with the chosen weight (refitting the partner when the data changes, as
    after ``train.refit``).

    Args:
        make_partner: ``() -> Recommender`` (unfitted).
        weights: the grid of partner weights.
        metric: validation metric that chooses the weight (default ``recall@20``).
        chunk_size: users scored at once.
    """

    def __init__(self, make_partner: Callable, weights: Sequence[float], metric: str = "recall@20",
                 chunk_size: int = 4096, name: str = "") -> None:
        self.make_partner, self.weights = make_partner, [float(w) for w in weights]
        self.metric, self.chunk_size, self.name = metric, int(chunk_size), name
        self.partner = None
        self._fitted_on: str | None = None
        self.weight: float | None = None
        self.report: dict = {"partner": name, "weights": self.weights, "metric": metric, "partner_fit_seconds": 0.0}

    def _partner_for(self, data: GraphData):
        key = f"{data.split_hash}:{data.interaction_matrix('train').nnz}"
        if self.partner is None or self._fitted_on != key:
            self.partner = self.make_partner().fit(data)
            self._fitted_on = key
            self.report["partner_fit_seconds"] = round(self.report["partner_fit_seconds"] + self.partner.fit_seconds, 3)
            self.report["partner_model"] = self.partner.name
            if getattr(self.partner, "info", None):
                self.report["partner_info"] = dict(self.partner.info)
        return self.partner

    def check(self, data: GraphData) -> None:
        """Fail before any training when the weight cannot be chosen: a grid of several weights needs validation
        pairs."""
        if not len(data.splits.get("valid", ((),))[0]) and len(self.weights) != 1:
            raise ValueError(
                "evaluate.blend chooses its weight on validation but this run has no validation pairs; set "
                "graph.split.valid_ratio>0, or fix the weight with one value: evaluate.blend_weights=[1.0]"
            )

    def select(self, data: GraphData, base: ScoreFn, ks: Sequence[int]) -> float:
        """Fit the partner on ``data``'s training part and choose the weight on its validation split (a grid of one
        weight needs no validation: it is used as given)."""
        t = time.perf_counter()
        self.check(data)
        partner = self._partner_for(data)
        if not len(data.splits.get("valid", ((),))[0]):
            self.weight = self.weights[0]
            self.report.update(weight=self.weight, chosen_on="fixed (no validation split)", selection=[])
        else:
            self.weight, table = select_weight(data, base, partner.score, self.weights, ks, self.metric,
                                               self.chunk_size)
            self.report.update(weight=self.weight, chosen_on="validation", selection=table)
        self.report["select_seconds"] = round(time.perf_counter() - t, 3)
        return self.weight

    def evaluate(self, data: GraphData, base: ScoreFn, split: str, ks: Sequence[int], **options) -> dict:
        """Full-ranking metrics of the blend with the chosen weight on ``split`` (``options`` as for
        :func:`~hetrec.evaluate.ranking.evaluate_split`)."""
        if self.weight is None:
            raise RuntimeError("ScoreBlend.evaluate before select(): the weight is chosen on validation first")
        scorer = BlendScorer(base, self._partner_for(data).score, self.weight, exclusions(data, split))
        return evaluate_split(data, scorer, split, ks, chunk_size=self.chunk_size, **options)


def blend_from_config(cfg, conf_dir: str | Path) -> ScoreBlend | None:
    """The :class:`ScoreBlend` of a run's ``evaluate.blend*`` settings, or ``None`` when ``evaluate.blend`` is unset."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    ev = cfg.evaluate
    name = ev.get("blend")
    if not name:
        return None
    options = ev.get("blend_options")
    options = OmegaConf.to_container(options, resolve=True) if options is not None else {}
    node = partner_config(str(name), options, conf_dir, int(cfg.get("seed", 0)))
    weights = [float(w) for w in (ev.get("blend_weights") or [])]
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError(f"evaluate.blend_weights={weights}: weights must be finite and >= 0")
    return ScoreBlend(lambda: instantiate(node), weights, str(ev.get("blend_metric", "recall@20")),
                      int(ev.get("chunk_size", 4096)), name=str(name))
