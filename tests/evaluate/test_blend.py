"""Score blend: per-user standardization, and the blend weight chosen on validation only."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hetrec.evaluate.blend import BlendScorer, ScoreBlend, exclusions, select_weight, standardize_rows
from hetrec.evaluate.ranking import evaluate_split

from .conftest import graphdata_from_pairs

WEIGHTS = [0.0, 0.1, 0.5, 1.0, 4.0]


def test_standardize_rows_skips_excluded_items():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(4, 9)).astype(np.float32) * 5 + 3
    s[2] = 7.0  # a constant row
    ex = sp.csr_matrix(([1.0] * 4, ([0, 0, 1, 3], [1, 4, 8, 0])), shape=(6, 9))
    users = np.array([5, 0, 2, 1])  # evaluator rows 0..3 are users 5, 0, 2, 1
    z = standardize_rows(torch.from_numpy(s), ex, users).numpy()
    for r, u in enumerate(users):
        keep = np.setdiff1d(np.arange(9), ex[u].indices)
        cand = s[r, keep].astype(np.float64)
        ref = (s[r] - cand.mean()) / cand.std() if cand.std() > 0 else np.zeros(9)
        np.testing.assert_allclose(z[r], ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose([z[r, keep].mean(), z[r, keep].std() if cand.std() > 0 else 0.0],
                                   [0.0, 1.0 if cand.std() > 0 else 0.0], atol=1e-5)


def _oracle_data(test_shift: int = 0):
    """40 users x 50 items; each user trains on 5 items, holds out 2 for validation and 2 for test."""
    rng = np.random.default_rng(1)
    tr, va, te = ([], []), ([], []), ([], [])
    for u in range(40):
        items = rng.choice(50, size=9, replace=False)
        for part, its in ((tr, items[:5]), (va, items[5:7]), (te, items[7:] if not test_shift else items[:2])):
            part[0].extend([u] * len(its))
            part[1].extend(its.tolist())
    return graphdata_from_pairs(tr, 40, 50, va, te)


def _oracle(data, split: str, noise_seed: int, decoys: int = 0):
    """A score function that ranks ``split``'s held-out items first, then ``decoys`` random other items per user."""
    truth = data.interaction_matrix(split).toarray()
    rng = np.random.default_rng(noise_seed)
    table = truth * 10.0 + rng.random(truth.shape)
    for u in range(truth.shape[0]):
        table[u, rng.choice(np.flatnonzero(truth[u] == 0), size=decoys, replace=False)] += 5.0
    table = torch.from_numpy(table.astype(np.float32))
    return lambda users: table[users]


def test_weight_is_chosen_on_validation_never_on_test():
    data = _oracle_data()
    # base knows test; partner knows valid and then pushes decoys (which hurt once valid items are excluded on test)
    base, partner = _oracle(data, "test", 0), _oracle(data, "valid", 1, decoys=3)
    w, table = select_weight(data, base, partner, WEIGHTS, ks=(2, 20), metric="recall@2")
    assert [row["weight"] for row in table] == WEIGHTS
    vals = [row["val_recall@2"] for row in table]
    assert w > 0 and vals[WEIGHTS.index(w)] == max(vals) and vals[0] < max(vals)
    # on test the base alone would have won: the selection must not have looked there
    test_at = {x: evaluate_split(data, BlendScorer(base, partner, x, exclusions(data, "test")), "test",
                                 (2,))["recall@2"] for x in (0.0, w)}
    assert test_at[0.0] > test_at[w]
    # another test split changes nothing about the choice or its table
    other = _oracle_data(test_shift=1)
    assert select_weight(other, base, partner, WEIGHTS, ks=(2, 20), metric="recall@2") == (w, table)


def test_useless_partner_gets_weight_zero_and_bad_metric_is_named():
    data = _oracle_data()
    base = _oracle(data, "valid", 0)
    partner = _oracle(data, "train", 2)  # scores training items: excluded, no help on candidates
    w, _ = select_weight(data, base, partner, WEIGHTS, ks=(10, 20))
    assert w == 0.0
    with pytest.raises(ValueError, match="blend_metric"):
        select_weight(data, base, partner, WEIGHTS, ks=(10, 20), metric="auc")


def test_score_blend_needs_validation_unless_the_weight_is_fixed():
    from hetrec.evaluate.baselines import MostPopular

    data = _oracle_data()
    no_valid = graphdata_from_pairs((data.splits["train"][0].numpy(), data.splits["train"][1].numpy()), 40, 50,
                                    None, tuple(t.numpy() for t in data.splits["test"]))
    base = _oracle(data, "test", 0)
    with pytest.raises(ValueError, match="valid_ratio"):
        ScoreBlend(MostPopular, WEIGHTS).select(no_valid, base, (10, 20))
    fixed = ScoreBlend(MostPopular, [0.5], name="baseline/mostpop")
    assert fixed.select(no_valid, base, (10, 20)) == 0.5 and fixed.report["chosen_on"].startswith("fixed")
    m = fixed.evaluate(no_valid, base, "test", (10, 20))
    assert 0.0 <= m["recall@20"] <= 1.0
    with pytest.raises(RuntimeError, match="select"):
        ScoreBlend(MostPopular, WEIGHTS).evaluate(data, base, "test", (10, 20))
