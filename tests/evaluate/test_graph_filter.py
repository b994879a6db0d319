"""GF-CF graph filter: the filter math against a dense numpy reference, on every computation path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hetrec.evaluate.baselines import GraphFilter
from hetrec.evaluate.baselines.graph_filter import normalized_interactions, top_right_singular_vectors
from hetrec.evaluate.ranking import evaluate_split

from .conftest import graphdata_from_pairs, random_graphdata


def _tiny():
    """14 users x 11 items; user 13 and item 10 have no training interaction."""
    rng = np.random.default_rng(3)
    r = (rng.random((14, 11)) < 0.35).astype(np.float64)
    r[13, :] = 0.0
    r[:, 10] = 0.0
    r[0, :3] = 1.0  # no empty rows other than user 13
    u, i = np.nonzero(r)
    return r, graphdata_from_pairs((u, i), 14, 11)


def _reference(r: np.ndarray, alpha: float, k: int) -> np.ndarray:
    """The GF-CF score matrix written out with dense matrices (paper eq.: s_u = r_u (P~ + alpha D^-1/2 V V^T D^1/2))."""
    du, di = r.sum(1), r.sum(0)
    inv = lambda d: np.diag(np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0))  # noqa: E731
    rt = inv(du) @ r @ inv(di)
    p = rt.T @ rt
    _, _, vt = np.linalg.svd(rt)
    v = vt[:k].T
    return r @ (p + alpha * inv(di) @ v @ v.T @ np.diag(np.sqrt(di)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"svd_solver": "dense"},
        {"svd_solver": "dense", "dense_max_mb": 0.0, "user_chunk": 3},  # the sparse, chunked path
        {"svd_solver": "arpack", "dense_max_mb": 0.0},
        {"svd_solver": "arpack"},
    ],
)
def test_scores_match_the_dense_reference(kwargs):
    r, data = _tiny()
    k, alpha = 4, 0.7
    model = GraphFilter(alpha=alpha, k=k, **kwargs).fit(data)
    got = model.score(torch.arange(14)).double().numpy()
    np.testing.assert_allclose(got, _reference(r, alpha, k), rtol=1e-4, atol=1e-5)
    assert model.info["k"] == k and model.info["item_filter"] == ("sparse" if "dense_max_mb" in kwargs else "dense")
    assert np.all(got[13] == 0.0)  # a user without history gets no evidence
    assert np.allclose(got[:, 10], 0.0, atol=1e-6)  # an item nobody trained on gets none either


def test_linear_part_alone_and_item_scores():
    r, data = _tiny()
    model = GraphFilter(alpha=0.0, k=256).fit(data)
    assert model.info["k"] == 0 and model.info["svd_seconds"] == 0.0  # alpha=0 skips the SVD
    np.testing.assert_allclose(model.score(torch.arange(14)).double().numpy(), _reference(r, 0.0, 0),
                               rtol=1e-5, atol=1e-6)
    full = GraphFilter(alpha=0.5, k=3, svd_solver="dense").fit(data)
    all_rows = full.item_scores(torch.arange(11)).double().numpy()  # row a: the filter row of item a
    expected = _reference(r, 0.5, 3)
    for u in (0, 4, 7):  # a user's score is the sum of the filter rows of its training items
        np.testing.assert_allclose(all_rows[np.flatnonzero(r[u])].sum(0), expected[u], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(full.item_scores(torch.tensor([2, 5])).double().numpy(), all_rows[[2, 5]], rtol=1e-6)
    ids, _ = full.similar(torch.tensor([1]), k=3)
    assert 1 not in ids[0].tolist()


def test_k_is_capped_and_the_svd_solvers_agree():
    _, data = _tiny()
    rn, _ = normalized_interactions(data.interaction_matrix("train"))
    s_dense, v_dense, used = top_right_singular_vectors(rn, 100, "dense")
    assert used == "dense" and len(s_dense) == 11  # capped at the smaller side
    s_arp, v_arp, _ = top_right_singular_vectors(rn, 5, "arpack", seed=1)
    np.testing.assert_allclose(s_arp, s_dense[:5], rtol=1e-6)
    np.testing.assert_allclose(v_arp @ v_arp.T, v_dense[:, :5] @ v_dense[:, :5].T, atol=1e-6)  # same subspace
    assert abs(s_dense[0] - 1.0) < 1e-6  # a symmetrically normalized bipartite matrix has top singular value 1
    with pytest.raises(ValueError, match="smaller side"):
        top_right_singular_vectors(rn, 11, "arpack")
    with pytest.raises(ValueError, match="svd_solver"):
        top_right_singular_vectors(rn, 3, "magic")


@pytest.mark.parametrize("bad, match", [({"alpha": -1.0}, "model.alpha"), ({"k": -2}, "model.k"),
                                        ({"svd_solver": "x"}, "svd_solver"), ({"user_chunk": 0}, "user_chunk")])
def test_bad_options_name_the_setting(bad, match):
    with pytest.raises(ValueError, match=match):
        GraphFilter(**bad)


def test_ranks_held_out_items_above_chance():
    data = random_graphdata(num_users=80, num_items=50, density=0.2, seed=4)
    model = GraphFilter(k=8).fit(data)
    m = evaluate_split(data, model.score, "test", ks=(10,))
    assert m["recall@10"] > 10 / 50 * 1.2  # random ranking expects recall@10 = 10 / 50
