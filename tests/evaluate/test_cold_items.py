"""The cold-item evaluation: the ranking math on hand-made cases, the baselines' scores, the encoder path's inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from hetrec.evaluate.cold_items import category_scores, knn_scores, rank_metrics


def _truth(pairs, shape):
    u, i = zip(*pairs)
    return sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=shape)


def test_rank_metrics_users_for_item_and_items_for_user_by_hand():
    # 3 users x 2 cold items; item 0 bought by users 0 and 1, item 1 by user 2
    truth = _truth([(0, 0), (1, 0), (2, 1)], (3, 2))
    scores = np.array([[0.9, 0.2], [0.1, 0.3], [0.5, 0.8]])
    # users for item 0: u0, u2, u1 -> recall@1 1/2, recall@2 1/2, ndcg@2 = 1 / (1 + 1/log2 3); item 1: u2 first
    u4i = rank_metrics(scores, truth, [1, 2], users_for_item=True)
    assert u4i["num_queries"] == 2
    assert u4i["recall@1"] == pytest.approx((0.5 + 1.0) / 2)
    assert u4i["recall@2"] == pytest.approx((0.5 + 1.0) / 2)
    assert u4i["ndcg@2"] == pytest.approx((1.0 / (1.0 + 1.0 / math.log2(3)) + 1.0) / 2)
    # items for user: u0 [0.9, 0.2] truth {0} hit@1; u1 [0.1, 0.3] truth {0} at rank 2; u2 truth {1} hit@1
    i4u = rank_metrics(scores, truth, [1, 2], users_for_item=False)
    assert i4u["num_queries"] == 3
    assert i4u["recall@1"] == pytest.approx(2 / 3)
    assert i4u["ndcg@2"] == pytest.approx((1.0 + 1.0 / math.log2(3) + 1.0) / 3)
    # bootstrap intervals bracket the mean
    b = rank_metrics(scores, truth, [1], bootstrap=200, seed=0, users_for_item=False)
    assert b["recall@1_ci_low"] <= b["recall@1"] <= b["recall@1_ci_high"]
    assert b["recall@1_ci_low"] < b["recall@1_ci_high"]


def test_category_popularity_counts_the_users_purchases_in_the_items_category():
    # items 0, 1, 3 in category A (0), item 2 in B (1); item 3 is cold
    member = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32))
    train = _truth([(0, 0), (0, 1), (1, 2), (2, 0), (2, 2)], (3, 4))
    s = category_scores(train, member, np.array([3]))
    assert s.shape == (3, 1)
    assert np.round(s[:, 0]).tolist() == [2.0, 0.0, 1.0]
    assert list(np.argsort(-s[:, 0])) == [0, 2, 1]
    # tie-break by activity: two users with the same category count, the more active first
    train2 = _truth([(0, 0), (1, 0), (1, 2)], (2, 4))
    s2 = category_scores(train2, member, np.array([3]))
    assert s2[1, 0] > s2[0, 0] and np.floor(s2[:, 0]).tolist() == [1.0, 1.0]


def test_attribute_knn_weights_the_neighbours_interactions_by_similarity():
    feats = np.array([[1, 0], [0.8, 0.6], [0, 1], [1, 0.1]], dtype=np.float32)  # item 3 cold, nearest: 0 then 1
    train = _truth([(0, 0), (1, 1), (2, 2)], (3, 4))
    warm = np.array([0, 1, 2])
    s1 = knn_scores(train, feats, np.array([3]), warm, k=1)  # only item 0 counts
    assert s1[0, 0] > 0.99 and s1[1, 0] < 1e-5 and s1[2, 0] < 1e-5
    s2 = knn_scores(train, feats, np.array([3]), warm, k=3)
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    want = np.clip(f[[0, 1, 2]] @ f[3], 0, None)
    assert s2[:, 0] == pytest.approx(want, abs=1e-5)
