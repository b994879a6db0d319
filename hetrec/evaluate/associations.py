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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.evaluate.ranking import evaluate_ranking

__all__ = ["ItemScoreFn", "heldout_pairs", "evaluate_pairs", "evaluate_basket_completion"]

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
