"""Association rules from market baskets (Agrawal et al., SIGMOD 1993; FP-growth: Han et al., SIGMOD 2000)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from hetrec.errors import ConfigError
from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.graph.data import GraphData

_METRICS = ("confidence", "lift", "support")


def pair_rules(baskets: sp.spmatrix, min_support: float = 0.0, min_confidence: float = 0.0) -> pd.DataFrame:
    """All pair rules ``a -> b`` from a sparse basket x item matrix, via the co-occurrence matrix ``B^T B``.

    ``support = |a and b| / N``, ``confidence = |a and b| / |a|``, ``lift = confidence / (|b| / N)``.

    Args:
        baskets: binary basket x item matrix (any non-zero counts once).
        min_support: keep pairs whose support is at least this (default 0.0).
        min_confidence: keep rules whose confidence is at least this (default 0.0).

    Returns:
        DataFrame with columns ``antecedent, consequent, count, support, confidence, lift`` (internal item ids),
        sorted by ``(antecedent, consequent)``.
    """
    b = sp.csr_matrix(baskets, dtype=np.float32, copy=True)
    b.data[:] = 1.0
    n = b.shape[0]
    item_count = np.asarray(b.sum(0)).ravel()
    co = (b.T @ b).tocoo()
    keep = co.row != co.col
    a, c, cnt = co.row[keep].astype(np.int64), co.col[keep].astype(np.int64), co.data[keep].astype(np.float64)
    support = cnt / max(n, 1)
    confidence = cnt / item_count[a]
    lift = confidence / (item_count[c] / n)
    df = pd.DataFrame(
        {"antecedent": a, "consequent": c, "count": cnt.astype(np.int64), "support": support,
         "confidence": confidence, "lift": lift}
    )
    df = df[(df.support >= min_support) & (df.confidence >= min_confidence)]
    return df.sort_values(["antecedent", "consequent"]).reset_index(drop=True)


def frequent_itemsets(
    baskets: sp.spmatrix, min_support: float = 0.01, algorithm: str = "fpgrowth", max_len: int | None = None
) -> pd.DataFrame:
    """Frequent itemsets with mlxtend's FP-growth (Han et al., 2000) or Apriori (Agrawal & Srikant, 1994).

    Args:
        baskets: binary basket x item matrix.
        min_support: minimum fraction of baskets (default 0.01).
        algorithm: ``"fpgrowth"`` (default) or ``"apriori"``.
        max_len: largest itemset size (default unbounded).

    Returns:
        mlxtend's DataFrame: ``support`` and ``itemsets`` (frozensets of internal item ids).
    """
    from mlxtend.frequent_patterns import apriori, fpgrowth

    algos = {"fpgrowth": fpgrowth, "apriori": apriori}
    if algorithm not in algos:
        raise ConfigError(f"unknown itemset algorithm {algorithm!r}; use one of {sorted(algos)}")
    b = sp.csr_matrix(baskets)
    dense = pd.DataFrame(b.toarray() > 0, columns=list(range(b.shape[1])))
    return algos[algorithm](dense, min_support=min_support, use_colnames=True, max_len=max_len)


class AssociationRules(Recommender):
    """Pair association rules as a recommender: ``score(u, b) = sum over a in history(u) of metric(a -> b)``.

    Rules come from ``data.train_baskets`` (training baskets, held-out interactions removed) when present, else each
    user's training items form one basket.

    Args:
        metric: rule strength used for scoring, ``"confidence"`` (default), ``"lift"`` or ``"support"``.
        min_support: rules below this support are dropped (default 0.0).
        min_confidence: rules below this confidence are dropped (default 0.0).

    Shapes:
        score(users [n]) -> [n, num_items]; item_scores(items [n]) -> [n, num_items]
    """

    name = "AssocRules"

    def __init__(self, metric: str = "confidence", min_support: float = 0.0, min_confidence: float = 0.0) -> None:
        super().__init__()
        if metric not in _METRICS:
            raise ConfigError(f"AssociationRules(metric={metric!r}): use one of {_METRICS}; e.g. model.metric=lift")
        self.metric, self.min_support, self.min_confidence = metric, float(min_support), float(min_confidence)

    def _fit(self, data: GraphData) -> None:
        self.x = train_matrix(data)
        baskets = data.train_baskets if data.train_baskets is not None else self.x
        self.baskets = sp.csr_matrix(baskets)
        self.rules = pair_rules(self.baskets, self.min_support, self.min_confidence)
        n = self.num_items
        r = self.rules
        self.m = sp.csr_matrix(
            (r[self.metric].to_numpy(np.float32), (r.antecedent.to_numpy(), r.consequent.to_numpy())), shape=(n, n)
        )
        # tie-breaker: popularity in the baskets, tiny enough never to reorder rule scores
        pop = np.asarray((self.baskets > 0).sum(0)).ravel().astype(np.float64)
        self._tie = torch.from_numpy((1e-6 * pop / max(pop.max(), 1.0)).astype(np.float32))

    def score(self, users: torch.Tensor) -> torch.Tensor:
        u = self._check_users(users)
        s = torch.from_numpy(np.asarray((self.x[u] @ self.m).toarray(), dtype=np.float32))
        return s + self._tie

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        s = torch.from_numpy(np.asarray(self.m[np.asarray(items)].toarray(), dtype=np.float32))
        return s + self._tie
