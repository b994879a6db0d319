"""Scorers, losses and negative samplers (unit level; training with them is tested in tests/train)."""

from __future__ import annotations

import math

import pytest
import torch

from hetrec.objectives import (
    CosineScorer,
    DistMultScorer,
    DotScorer,
    InBatchSampler,
    PopularitySampler,
    PositiveLookup,
    UniformSampler,
    bce_loss,
    bpr_loss,
    softmax_loss,
)


@pytest.mark.parametrize("cls", [DotScorer, CosineScorer, DistMultScorer])
def test_scorer_shapes_agree(cls):
    torch.manual_seed(0)
    sc = cls(dim=8)
    a, b, c = torch.randn(5, 8), torch.randn(5, 8), torch.randn(7, 8)
    pair = sc(a, b)
    assert pair.shape == (5,)
    many = sc.many(a, b.unsqueeze(1).expand(5, 3, 8))
    assert many.shape == (5, 3) and torch.allclose(many[:, 0], pair, atol=1e-6)
    full = sc.all(a, c)
    assert full.shape == (5, 7)
    assert torch.allclose(full[2, 4], sc(a[2:3], c[4:5])[0], atol=1e-6)


def test_distmult_starts_as_dot_and_learns_a_diagonal():
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    sc = DistMultScorer(dim=6)
    assert torch.allclose(sc(a, b), DotScorer()(a, b))
    with torch.no_grad():
        sc.relation.copy_(torch.arange(6.0))
    assert torch.allclose(sc(a, b), (a * torch.arange(6.0) * b).sum(1))
    with pytest.raises(ValueError, match="dim"):
        DistMultScorer(dim=0)


def test_cosine_is_bounded():
    s = CosineScorer()(torch.randn(10, 4) * 100, torch.randn(10, 4))
    assert s.abs().max() <= 1 + 1e-5


def test_loss_values():
    pos, neg = torch.zeros(3), torch.zeros(3, 2)
    assert bpr_loss(pos, neg).item() == pytest.approx(math.log(2))
    assert bce_loss(pos, neg).item() == pytest.approx(2 * math.log(2))
    assert softmax_loss(pos, neg, temperature=1.0).item() == pytest.approx(math.log(3))
    # a masked negative is ignored: softmax over the positive and one negative
    mask = torch.tensor([[True, False]] * 3)
    assert softmax_loss(pos, neg, mask, temperature=1.0).item() == pytest.approx(math.log(2))
    # separating positives from negatives lowers every loss
    for f in (bpr_loss, bce_loss, softmax_loss):
        assert f(pos + 5, neg - 5).item() < f(pos, neg).item()


@pytest.mark.parametrize("dense", [True, False])
def test_positive_lookup_matches_brute_force(monkeypatch, dense):
    """Both membership paths (dense bool table for small grids, searchsorted over sorted keys) agree with a set."""
    if not dense:
        monkeypatch.setattr(PositiveLookup, "dense_max_entries", 0)
    g = torch.Generator().manual_seed(0)
    src, dst = torch.randint(20, (100,), generator=g), torch.randint(15, (100,), generator=g)
    lk = PositiveLookup(src, dst, 20, 15)
    assert (lk.dense is not None) is dense
    pairs = set(zip(src.tolist(), dst.tolist()))
    qs, qd = torch.randint(20, (500,), generator=g), torch.randint(15, (500,), generator=g)
    got = lk.contains(qs, qd)
    assert got.tolist() == [(s, d) in pairs for s, d in zip(qs.tolist(), qd.tolist())]
    many = lk.contains(qs[:50], qd[:200].reshape(50, 4))  # one source against several destinations
    assert many.tolist() == [[(qs[i].item(), qd[4 * i + j].item()) in pairs for j in range(4)] for i in range(50)]
    blk = lk.block(qs[:30], qd[:40])
    assert blk.shape == (30, 40)
    assert blk[3, 7].item() == ((qs[3].item(), qd[7].item()) in pairs)


@pytest.mark.parametrize("cls", [UniformSampler, PopularitySampler])
def test_negatives_never_are_training_positives(cls):
    g = torch.Generator().manual_seed(1)
    n_users, n_items = 30, 12
    # dense users: each has 8 of 12 items, so a naive draw hits a positive 2/3 of the time
    src = torch.arange(n_users).repeat_interleave(8)
    dst = torch.stack([torch.randperm(n_items, generator=g)[:8] for _ in range(n_users)]).reshape(-1)
    s = cls(num_negatives=5, exclude_positives=True, max_tries=30).bind((src, dst), n_users, n_items)
    users = torch.randint(n_users, (400,), generator=g)
    neg, mask = s.sample(users, g)
    assert neg.shape == (400, 5)
    bad = s.lookup.contains(users, neg)
    if mask is None:
        assert not bad.any()
    else:  # leftovers after max_tries are masked, never used
        assert not (bad & mask).any()
    assert bad.float().mean() < 0.01
    # without the flag, positives do come back (the flag is what removes them)
    s2 = cls(num_negatives=5, exclude_positives=False).bind((src, dst), n_users, n_items)
    neg2, mask2 = s2.sample(users, g)
    assert mask2 is None and s2.lookup.contains(users, neg2).float().mean() > 0.3


def test_popularity_sampler_follows_counts():
    dst = torch.cat([torch.zeros(900, dtype=torch.long), torch.ones(99, dtype=torch.long), torch.tensor([2])])
    src = torch.arange(1000)
    s = PopularitySampler(alpha=1.0, num_negatives=1, exclude_positives=False).bind((src, dst), 1000, 3)
    neg, _ = s.sample(torch.zeros(20000, dtype=torch.long), torch.Generator().manual_seed(0))
    freq = torch.bincount(neg.reshape(-1), minlength=3).double() / neg.numel()
    expected = torch.tensor([901.0, 100.0, 2.0]) / 1003
    assert torch.allclose(freq, expected.double(), atol=0.01)
    with pytest.raises(ValueError, match="objective.sampler.alpha"):
        PopularitySampler(alpha=-1)


def test_in_batch_mask():
    src = torch.tensor([0, 0, 1, 2])
    dst = torch.tensor([5, 6, 5, 7])
    s = InBatchSampler(exclude_positives=True).bind((src, dst), 3, 8)
    m = s.mask(src, dst)
    assert m.shape == (4, 4)
    assert not m.diagonal().any()
    assert not m[0, 1]  # item 6 is user 0's own positive
    assert not m[0, 2]  # same item as the positive
    assert m[0, 3] and m[2, 1]
    m2 = InBatchSampler(exclude_positives=False).bind((src, dst), 3, 8).mask(src, dst)
    assert m2[0, 1] and not m2[0, 2]


def test_all_sampler_mask_excludes_own_and_other_positives():
    from hetrec.objectives.samplers import AllSampler

    src = torch.tensor([0, 0, 1, 2])
    dst = torch.tensor([5, 6, 5, 7])
    s = AllSampler().bind((src, dst), 3, 8)
    m = s.mask(torch.tensor([0, 1]), torch.tensor([5, 5]))
    assert m.shape == (2, 8)
    assert not m[0, 5] and not m[0, 6] and m[0, 7] and m[0, 0]  # user 0: both positives masked
    assert not m[1, 5] and m[1, 6]
    m2 = AllSampler(exclude_positives=False).bind((src, dst), 3, 8).mask(torch.tensor([0]), torch.tensor([5]))
    assert not m2[0, 5] and m2[0, 6]  # the positive itself is never a negative
    with pytest.raises(ValueError, match="train.batch_size"):
        AllSampler(max_logits=10).bind((src, dst), 3, 8).mask(src, dst)


def test_sampler_errors():
    with pytest.raises(ValueError, match="objective.sampler.num_negatives"):
        UniformSampler(num_negatives=0)
    with pytest.raises(RuntimeError, match="bind"):
        UniformSampler().sample(torch.zeros(3, dtype=torch.long))


def test_positive_lookup_block_matches_the_dense_matrix_with_repeated_rows_and_columns():
    """block() reads only the asked rows' positives; it must equal the dense positives matrix indexed the same way,
    repeated sources and destinations included."""
    import numpy as np

    from hetrec.objectives.samplers import PositiveLookup

    rng = np.random.default_rng(1)
    for _ in range(50):
        num_src, num_dst = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        e = int(rng.integers(0, 200))
        lookup = PositiveLookup(torch.from_numpy(rng.integers(0, num_src, e)),
                                torch.from_numpy(rng.integers(0, num_dst, e)), num_src, num_dst)
        src = torch.from_numpy(rng.integers(0, num_src, int(rng.integers(1, 20))))
        dst = torch.from_numpy(rng.integers(0, num_dst, int(rng.integers(1, 20))))
        dense = torch.from_numpy(lookup.csr.toarray())
        assert torch.equal(lookup.block(src, dst), dense[src][:, dst])


def test_ccl_loss_pushes_only_negatives_above_the_margin():
    from hetrec.objectives.losses import ccl_loss

    pos = torch.tensor([1.0, 0.5])
    neg = torch.tensor([[0.9, 0.1], [0.2, 0.3]])
    # positive term mean(1 - s+) = 0.25; only 0.9 exceeds the margin 0.5: row means 0.2 and 0, mean 0.1, times w=3
    assert ccl_loss(pos, neg, margin=0.5, negative_weight=3.0).item() == pytest.approx(0.25 + 0.3)
    mask = torch.tensor([[False, True], [True, True]])  # the offending negative masked: only the positive term
    assert ccl_loss(pos, neg, mask, margin=0.5, negative_weight=3.0).item() == pytest.approx(0.25)


def _dense_positives(n_users=30, n_items=12, per_user=4, seed=2):
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n_users).repeat_interleave(per_user)
    dst = torch.stack([torch.randperm(n_items, generator=g)[:per_user] for _ in range(n_users)]).reshape(-1)
    return src, dst, n_users, n_items


@pytest.mark.parametrize("cls", [UniformSampler, PopularitySampler])
def test_banned_destinations_are_never_drawn(cls):
    """ban(ids): the draw (and the redraws of rejected positives) never returns a banned id, every other id still
    comes; a later ban replaces the earlier one."""
    src, dst, nu, ni = _dense_positives()
    banned = torch.tensor([0, 5, 11])  # first, interior and last id (the last owns the cdf's tail)
    s = cls(num_negatives=8, exclude_positives=True, max_tries=30).bind((src, dst), nu, ni).ban(banned)
    g = torch.Generator().manual_seed(0)
    neg, mask = s.sample(torch.randint(nu, (3000,), generator=g), g)
    assert not torch.isin(neg, banned).any()
    assert set(neg.unique().tolist()) == set(range(ni)) - set(banned.tolist())
    # without the ban the same sampler does draw them (the ban is what removes them)
    neg0, _ = s.ban(torch.zeros(0, dtype=torch.long)).sample(torch.randint(nu, (3000,), generator=g), g)
    assert torch.isin(neg0, banned).any()


def test_banned_popularity_keeps_the_relative_weights_of_the_rest():
    dst = torch.cat([torch.zeros(900, dtype=torch.long), torch.ones(99, dtype=torch.long), torch.tensor([2])])
    s = PopularitySampler(alpha=1.0, exclude_positives=False).bind((torch.arange(1000), dst), 1000, 3)
    neg, _ = s.ban(torch.tensor([0])).sample(torch.zeros(20000, dtype=torch.long), torch.Generator().manual_seed(0))
    freq = torch.bincount(neg.reshape(-1), minlength=3).double() / neg.numel()
    assert torch.allclose(freq, torch.tensor([0.0, 100 / 102, 2 / 102], dtype=torch.float64), atol=0.01)


def test_shared_sampler_never_draws_banned_destinations():
    from hetrec.objectives.samplers import SharedSampler

    src, dst, nu, ni = _dense_positives()
    s = SharedSampler(num_negatives=500).bind((src, dst), nu, ni).ban(torch.tensor([3, 4]))
    h = torch.randn(ni, 2)
    negs = s.negatives(h, src[:16], dst[:16], generator=torch.Generator().manual_seed(0))
    assert negs.shared and not torch.isin(negs.rows, torch.tensor([3, 4])).any()
    assert len(negs.rows.unique()) == ni - 2


def test_all_and_in_batch_samplers_mask_banned_destinations():
    from hetrec.objectives.samplers import AllSampler

    src = torch.tensor([0, 0, 1, 2])
    dst = torch.tensor([5, 6, 5, 7])
    s = AllSampler(exclude_positives=False).bind((src, dst), 3, 8).ban(torch.tensor([0, 7]))
    m = s.mask(torch.tensor([0, 1]), torch.tensor([5, 6]))
    assert not m[:, 0].any() and not m[:, 7].any()  # out of every row's softmax
    assert m[0, 1:7].sum() == 5 and not m[0, 5]  # the rest as before: only the positive itself masked
    ib = InBatchSampler(exclude_positives=False).bind((src, dst), 3, 8).ban(torch.tensor([7]))
    mb = ib.mask(src, dst)
    assert not mb[:, 3].any() and mb[0, 1]


def test_ban_errors():
    src, dst, nu, ni = _dense_positives()
    with pytest.raises(RuntimeError, match="bind"):
        UniformSampler().ban(torch.tensor([1]))
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        UniformSampler().bind((src, dst), nu, ni).ban(torch.tensor([12]))
    with pytest.raises(ValueError, match="every one of the 12"):
        UniformSampler().bind((src, dst), nu, ni).ban(torch.arange(ni))
