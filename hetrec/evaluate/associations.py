"""Item-item association metrics on held-out baskets (co-purchase prediction and basket completion).

Two protocols, both ranking the **full** catalogue with the evaluator of :mod:`hetrec.evaluate.ranking`:

* **pairs** (:func:`evaluate_pairs`): every item ``a`` that occurs in a held-out basket with at least one other item
  is a query; its relevant items are all items co-purchased with ``a`` in held-out baskets; ``a`` itself is
  excluded. Recall@K = found co-purchases / all held-out co-purchases of ``a``, averaged over query items.
* **basket completion** (:func:`evaluate_basket_completion`): from every held-out basket with at least two items one
  item is hidden (seeded); the other items are the context, scored by the sum of their item-item score rows; the
  context items are excluded; the hidden item is the single relevant item (so Recall@K = Hit@K).

``item_score_fn(items: LongTensor [n]) -> FloatTensor [n, num_items]`` gives the association strength of every item
to each query item (rule confidence, lift, embedding similarity, ...). Higher is better.

:func:`item_quality` describes an item embedding itself (cosine neighbours): held-out co-purchases among the top 10,
category agreement of the top 10 against chance, and the spread of random-pair cosines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.evaluate.ranking import _hits, evaluate_ranking, topk_items

__all__ = ["ItemScoreFn", "heldout_pairs", "evaluate_pairs", "evaluate_basket_completion", "cosine_item_scores",
           "item_quality"]

ItemScoreFn = Callable[[torch.Tensor], torch.Tensor]


def _binary(baskets: sp.spmatrix, name: str = "baskets") -> sp.csr_matrix:
    if not sp.issparse(baskets):
        raise TypeError(f"{name} must be a scipy.sparse basket x item matrix, got {type(baskets).__name__}")
    b = sp.csr_matrix(baskets, dtype=np.float32, copy=True)
    b.sum_duplicates()
    b.eliminate_zeros()
    b.data[:] = 1.0
    return b


def heldout_pairs(baskets: sp.spmatrix) -> sp.csr_matrix:
    """Item x item matrix of co-purchases: entry (a, b) = number of baskets containing both (a != b).

    Shapes:
        baskets: [num_baskets, num_items] -> [num_items, num_items]
    """
    b = _binary(baskets)
    co = (b.T @ b).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    return co


def evaluate_pairs(
    item_score_fn: ItemScoreFn,
    heldout_baskets: sp.spmatrix,
    ks: Sequence[int] = (10, 20),
    exclude: sp.spmatrix | None = None,
    **kwargs,
) -> dict[str, float]:
    """Held-out co-purchase pairs ranked among all items given the other item (recall/ndcg/hit/... at K).

    Args:
        item_score_fn: ``f(items [n]) -> [n, num_items]`` association scores.
        heldout_baskets: binary basket x item matrix of the held-out baskets only.
        ks: cut-offs (default ``(10, 20)``).
        exclude: extra item x item pairs never to return (default: only the query item itself).
        **kwargs: passed to :func:`~hetrec.evaluate.ranking.evaluate_ranking` (``item_popularity``, ``bootstrap``).

    Returns:
        metric dict as from ``evaluate_ranking``; ``num_users`` counts query items.
    """
    truth = heldout_pairs(heldout_baskets)
    n = truth.shape[0]
    ex = sp.identity(n, dtype=np.float32, format="csr")
    if exclude is not None:
        ex = ex + sp.csr_matrix(exclude, dtype=np.float32)
        ex.data[:] = 1.0
    return evaluate_ranking(item_score_fn, truth, ex, ks, **kwargs)


def evaluate_basket_completion(
    item_score_fn: ItemScoreFn,
    heldout_baskets: sp.spmatrix,
    ks: Sequence[int] = (10, 20),
    seed: int = 0,
    **kwargs,
) -> dict[str, float]:
    """Hide one item per held-out basket (>= 2 items) and rank it among all items given the rest of the basket.

    The basket's score for item j is ``sum over context items c of item_score_fn(c)[j]``; context items are
    excluded from the ranking.

    Args:
        item_score_fn: ``f(items [n]) -> [n, num_items]`` association scores.
        heldout_baskets: binary basket x item matrix of the held-out baskets.
        ks: cut-offs (default ``(10, 20)``).
        seed: which item is hidden in each basket (default 0).
        **kwargs: passed to :func:`~hetrec.evaluate.ranking.evaluate_ranking`.
    """
    b = _binary(heldout_baskets)
    sizes = np.diff(b.indptr)
    keep = np.flatnonzero(sizes >= 2)
    if len(keep) == 0:
        raise ValueError("no held-out basket has two or more items; basket completion needs a context item")
    b = b[keep]
    sizes = sizes[keep]
    rng = np.random.default_rng(seed)
    hidden_pos = b.indptr[:-1] + rng.integers(0, sizes)
    hidden = b.indices[hidden_pos]
    n, num_items = b.shape
    truth = sp.csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), hidden)), shape=(n, num_items))
    context = b - truth
    context.eliminate_zeros()
    context = context.tocsr()

    def score_fn(rows: torch.Tensor) -> torch.Tensor:
        ctx = context[rows.numpy()]
        items = np.unique(ctx.indices)
        s = item_score_fn(torch.from_numpy(items.astype(np.int64)))
        s = torch.as_tensor(s, dtype=torch.float32)
        # column positions of each context item inside `items`
        local = sp.csr_matrix(
            (ctx.data, np.searchsorted(items, ctx.indices), ctx.indptr), shape=(ctx.shape[0], len(items))
        )
        return torch.from_numpy(np.asarray(local @ s.numpy(), dtype=np.float32))

    return evaluate_ranking(score_fn, truth, context, ks, **kwargs)


def _unit(item_emb: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.as_tensor(item_emb).detach().cpu().float(), dim=1)


def cosine_item_scores(item_emb: torch.Tensor) -> ItemScoreFn:
    """Item-item association scores of an embedding: cosine similarity of the item vectors.

    Shapes:
        item_emb: [num_items, D]; the returned ``f(items [n]) -> [n, num_items]``.
    """
    items = _unit(item_emb)
    return lambda q: items[torch.as_tensor(q, dtype=torch.long)] @ items.T


def _sample(pool: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return pool if len(pool) <= size else np.sort(rng.choice(pool, size, replace=False))


def item_quality(
    item_emb: torch.Tensor,
    heldout_baskets: sp.spmatrix | None = None,
    item_category: np.ndarray | None = None,
    k: int = 10,
    max_queries: int = 2000,
    num_pairs: int = 20000,
    seed: int = 0,
) -> dict:
    """Item-item quality of an embedding (cosine neighbours): co-purchases, category agreement, cosine spread.

    * ``copurchase_hit@k``: of the held-out co-purchase pairs ``(a, b)`` (:func:`heldout_pairs`) of up to
      ``max_queries`` sampled items ``a``, the share with ``b`` among the k nearest neighbours of ``a`` (``a``
      excluded); ``copurchase_pairs`` counts those pairs. Absent without held-out pairs.
    * ``category_agreement@k``: over up to ``max_queries`` sampled items with a category, the mean share of their k
      nearest neighbours (self excluded) in the same category; ``category_agreement_random@k`` is its expectation for
      k random other items, ``(n_c - 1) / (num_items - 1)`` averaged over the same queries. Absent without categories.
    * ``cosine_spread``: ``mean, std, p05, p50, p95`` of the cosine of ``num_pairs`` random pairs of distinct items
      (near-uniform embeddings show as a high mean with a small std).

    Args:
        item_emb: item embeddings.
        heldout_baskets: binary basket x item matrix of held-out baskets (default ``None``: no co-purchase metric).
        item_category: category id per item, ``-1`` for none (default ``None``: no category metric).
        k: neighbours per query (default 10).
        max_queries: query items sampled per metric (default 2000).
        num_pairs: random pairs for the cosine spread (default 20000).
        seed: seed of all samples (default 0).

    Shapes:
        item_emb: [num_items, D]; heldout_baskets: [num_baskets, num_items]; item_category: [num_items].

    Returns:
        ``{["copurchase_hit@k", "copurchase_pairs",] ["category_agreement@k", "category_agreement_random@k",
        "category_queries",] "cosine_spread": {"mean", "std", "p05", "p50", "p95"}}``.
    """
    n = int(item_emb.shape[0])
    score = cosine_item_scores(item_emb)
    self_ex = sp.identity(n, dtype=np.float32, format="csr")
    out: dict = {}
    if heldout_baskets is not None:
        truth = heldout_pairs(heldout_baskets)
        q = _sample(np.flatnonzero(truth.getnnz(axis=1)), max_queries, np.random.default_rng([seed, 0]))
        if len(q):
            top, _ = topk_items(score, q, k, exclude=self_ex)
            pairs = int(truth[q].nnz)
            out[f"copurchase_hit@{k}"] = float(_hits(top, top >= 0, truth, q).sum() / pairs)
            out["copurchase_pairs"] = pairs
    if item_category is not None:
        cat = np.asarray(item_category, dtype=np.int64)
        q = _sample(np.flatnonzero(cat >= 0), max_queries, np.random.default_rng([seed, 1]))
        if len(q) and n > 1:
            top, _ = topk_items(score, q, k, exclude=self_ex)
            same = (cat[np.maximum(top, 0)] == cat[q][:, None]) & (top >= 0)
            size = np.bincount(cat[cat >= 0])
            out[f"category_agreement@{k}"] = float((same.sum(1) / (top >= 0).sum(1)).mean())
            out[f"category_agreement_random@{k}"] = float(((size[cat[q]] - 1) / (n - 1)).mean())
            out["category_queries"] = len(q)
    if n > 1:
        rng = np.random.default_rng([seed, 2])
        a = rng.integers(0, n, num_pairs)
        b = (a + rng.integers(1, n, num_pairs)) % n  # a random other item
        unit = _unit(item_emb)
        cos = (unit[a] * unit[b]).sum(1).numpy().astype(np.float64)
        p05, p50, p95 = np.percentile(cos, [5, 50, 95])
        out["cosine_spread"] = {"mean": float(cos.mean()), "std": float(cos.std()), "p05": float(p05),
                                "p50": float(p50), "p95": float(p95)}
    return out
