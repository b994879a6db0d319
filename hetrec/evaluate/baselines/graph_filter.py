"""GF-CF: a training-free graph filter (Shen et al., "How Powerful is Graph Convolution for Recommendation?",
CIKM 2021): a normalized item-item filter plus an ideal low-pass filter from a truncated SVD."""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.graph.data import GraphData

log = logging.getLogger(__name__)

SVD_SOLVERS = ("auto", "dense", "arpack", "propack", "lobpcg")
DENSE_SVD_MAX_CELLS = 25_000_000  # svd_solver=auto: LAPACK on the dense matrix up to this many user x item cells


def normalized_interactions(x: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``R~ = D_u^-1/2 R D_i^-1/2`` of a binary user x item matrix, and the item degrees ``d_i``.

    A user or item without interactions gets a zero row or column (its inverse degree is taken as 0).

    Shapes:
        x: [num_users, num_items] -> (R~ [num_users, num_items] float32 CSR, d_i [num_items] float64)
    """
    r = sp.csr_matrix(x, dtype=np.float32, copy=True)
    du = np.asarray(r.sum(1), dtype=np.float64).ravel()
    di = np.asarray(r.sum(0), dtype=np.float64).ravel()
    inv_u = np.divide(1.0, np.sqrt(du), out=np.zeros_like(du), where=du > 0)
    inv_i = np.divide(1.0, np.sqrt(di), out=np.zeros_like(di), where=di > 0)
    rn = sp.diags(inv_u.astype(np.float32)) @ r @ sp.diags(inv_i.astype(np.float32))
    return sp.csr_matrix(rn, dtype=np.float32), di


def top_right_singular_vectors(
    m: sp.csr_matrix, k: int, solver: str = "auto", seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """The ``k`` largest singular values of ``m`` and their right singular vectors.

    ``solver``: ``dense`` (LAPACK on the dense matrix), ``arpack`` / ``propack`` / ``lobpcg``
    (``scipy.sparse.linalg.svds``, in float64, start vector seeded by ``seed``), or ``auto`` (dense for matrices up to
    :data:`DENSE_SVD_MAX_CELLS` cells or when ``k`` reaches the smaller side, else ``arpack``). ``k`` is capped at the
    smaller side of ``m``.

    Returns:
        ``(s [k'] descending, V [num_cols, k'] float64, solver used)``
    """
    if solver not in SVD_SOLVERS:
        raise ValueError(f"svd_solver={solver!r} is unknown; use one of {SVD_SOLVERS}")
    kk = int(min(k, min(m.shape)))
    if solver == "auto":
        small = m.shape[0] * m.shape[1] <= DENSE_SVD_MAX_CELLS
        solver = "dense" if small or kk >= min(m.shape) - 1 else "arpack"
    if solver != "dense" and kk >= min(m.shape):
        raise ValueError(f"svds needs k < {min(m.shape)} (the smaller side of the {m.shape} matrix), got k={k}; "
                         "lower model.k or use model.svd_solver=dense")
    if solver == "dense":
        _, s, vt = np.linalg.svd(m.toarray().astype(np.float64), full_matrices=False)
        return s[:kk], vt[:kk].T, solver
    from scipy.sparse.linalg import svds

    _, s, vt = svds(m.astype(np.float64), k=kk, solver=solver, random_state=np.random.default_rng(seed))
    order = np.argsort(-s)
    return s[order], vt[order].T, solver


class GraphFilter(Recommender):
    """GF-CF (Shen et al., CIKM 2021): ``s_u = r_u (R~^T R~ + alpha D_i^-1/2 V V^T D_i^1/2)``, training free.

    ``R~ = D_u^-1/2 R D_i^-1/2`` is the symmetrically normalized binary training matrix, ``R~^T R~`` the normalized
    item-item (linear) filter and ``V`` the top-``k`` right singular vectors of ``R~`` (the ideal low-pass filter).
    The paper's setting for Gowalla and Yelp2018 is ``k=256, alpha=0.3`` (its Amazon-book setting drops the low-pass
    part: ``alpha=0``, which also skips the SVD).

    Memory: with at most ``dense_max_mb`` for a float32 ``num_items x num_items`` matrix the whole filter is one
    dense matrix (scores are one GEMM); above it ``R~^T R~`` is kept sparse (for Gowalla 42M non-zeros, ~0.35 GB)
    and the low-pass part as two ``num_items x k`` factors, and users are scored ``user_chunk`` at a time.

    Args:
        alpha: weight of the ideal low-pass part (default 0.3).
        k: singular vectors of the low-pass part (default 256; capped at the smaller side of the matrix).
        svd_solver: ``auto`` (default), ``dense``, ``arpack``, ``propack`` or ``lobpcg``
            (:func:`top_right_singular_vectors`).
        dense_max_mb: largest dense item x item filter (default 512 MB, i.e. up to ~11,500 items).
        user_chunk: users scored together on the sparse path (default 512).
        seed: seed of the SVD start vector (default 0).

    Attributes:
        info: what the fit built and how long it took (``svd_seconds``, ``k``, ``svd_solver``, ``item_filter``
            ``dense``/``sparse`` and its non-zeros, smallest kept singular value).

    Shapes:
        score(users [n]) -> [n, num_items]; item_scores(items [n]) -> [n, num_items]
    """

    name = "GF-CF"

    def __init__(self, alpha: float = 0.3, k: int = 256, svd_solver: str = "auto", dense_max_mb: float = 512.0,
                 user_chunk: int = 512, seed: int = 0) -> None:
        super().__init__()
        if alpha < 0:
            raise ValueError(f"GraphFilter(alpha={alpha}): the low-pass weight must be >= 0; set model.alpha=0.3")
        if k < 0:
            raise ValueError(f"GraphFilter(k={k}): k must be >= 0 singular vectors; set model.k=256")
        if svd_solver not in SVD_SOLVERS:
            raise ValueError(f"GraphFilter(svd_solver={svd_solver!r}): use one of {SVD_SOLVERS}")
        if user_chunk < 1:
            raise ValueError(f"GraphFilter(user_chunk={user_chunk}): must be >= 1; set model.user_chunk=512")
        self.alpha, self.k, self.svd_solver = float(alpha), int(k), svd_solver
        self.dense_max_mb, self.user_chunk, self.seed = float(dense_max_mb), int(user_chunk), int(seed)
        self.info: dict = {}

    def _fit(self, data: GraphData) -> None:
        x = train_matrix(data)
        self.x = x
        rn, di = normalized_interactions(x)
        n = x.shape[1]
        t = time.perf_counter()
        self.left = self.right = None  # low-pass factors D_i^-1/2 V [n, k] and V^T D_i^1/2 [k, n]
        info: dict = {"alpha": self.alpha, "k": 0, "svd_seconds": 0.0}
        if self.alpha > 0 and self.k > 0 and rn.nnz:
            s, v, solver = top_right_singular_vectors(rn, self.k, self.svd_solver, self.seed)
            inv_sqrt = np.divide(1.0, np.sqrt(di), out=np.zeros_like(di), where=di > 0)
            self.left = (v * inv_sqrt[:, None]).astype(np.float32)
            self.right = torch.from_numpy(np.ascontiguousarray((v * np.sqrt(di)[:, None]).T, dtype=np.float32))
            info.update(k=len(s), svd_solver=solver, svd_seconds=round(time.perf_counter() - t, 3),
                        singular_value_max=float(s[0]), singular_value_min=float(s[-1]))
        linear = sp.csr_matrix(rn.T @ rn, dtype=np.float32)  # R~^T R~, symmetric
        if n * n * 4 <= self.dense_max_mb * 2**20:
            w = torch.from_numpy(linear.toarray())
            if self.left is not None:
                w.addmm_(torch.from_numpy(self.left), self.right, alpha=self.alpha)
            self.dense, self.linear = w, None
            info.update(item_filter="dense", item_filter_nnz=int(n * n))
        else:
            self.dense, self.linear = None, linear
            info.update(item_filter="sparse", item_filter_nnz=int(linear.nnz))
        self.info = info
        log.info("GF-CF fit: %s", info)

    def apply(self, rows: sp.spmatrix) -> torch.Tensor:
        """The filter applied to signal rows: ``rows (R~^T R~ + alpha D_i^-1/2 V V^T D_i^1/2)``.

        Shapes:
            rows: [n, num_items] (sparse) -> [n, num_items] float32
        """
        self._check_fitted()
        rows = sp.csr_matrix(rows, dtype=np.float32)
        if self.dense is not None:
            return torch.from_numpy(rows.toarray()) @ self.dense
        out = torch.empty(rows.shape[0], self.num_items)
        for s in range(0, rows.shape[0], self.user_chunk):
            part = rows[s : s + self.user_chunk]
            block = out[s : s + part.shape[0]]
            block.copy_(torch.from_numpy((part @ self.linear).toarray()))
            if self.left is not None:
                block.addmm_(torch.from_numpy(np.asarray(part @ self.left)), self.right, alpha=self.alpha)
        return out

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.apply(self.x[self._check_users(users)])

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        items = np.asarray(torch.as_tensor(items, dtype=torch.int64).numpy())
        onehot = sp.csr_matrix((np.ones(len(items), np.float32), (np.arange(len(items)), items)),
                               shape=(len(items), self.num_items))
        return self.apply(onehot)  # row a: the evidence item a alone gives every item
