"""Test helpers for encoder authors (public): a small realistic shop graph and the shared encoder contract test.

A plugin's whole contract test is then::

    from hetrec.testing import assert_encoder, toy_shop_graph

    def test_my_encoder():
        g, x = toy_shop_graph()
        enc = MyEncoder(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, out_dim=8)
        assert_encoder(enc, g, x, out_dim=8)
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Mapping
from typing import Any

import torch

from hetrec._dgl import dgl

__all__ = ["toy_shop_graph", "assert_encoder", "SHOP_ITEMS", "SHOP_USERS", "SHOP_CATEGORIES"]

SHOP_CATEGORIES: list[str] = ["coffee & tea", "brewing gear", "drinkware"]
"""Category names, index = category node id."""

SHOP_ITEMS: list[tuple[str, float, int]] = [
    ("espresso beans 1kg", 24.50, 0),
    ("paper filters x100", 3.20, 0),
    ("moka pot 6 cups", 35.00, 1),
    ("milk frother", 49.00, 1),
    ("ceramic mug", 9.00, 2),
    ("travel mug", 19.00, 2),
    ("burr grinder", 89.00, 1),
    ("green tea sampler", 15.00, 0),  # never clicked nor bought: no in-edges from users
]
"""``(title, price in EUR, category id)``, index = item node id."""

SHOP_USERS: list[tuple[int, bool, int]] = [
    (34, True, 820),
    (27, False, 45),
    (51, True, 1460),
    (19, False, 12),
    (42, True, 300),
    (63, False, 2),  # browses only, never buys
]
"""``(age, loyalty member, days since sign-up)``, index = user node id."""

_CLICKS = [(0, 0), (0, 1), (0, 2), (0, 6), (1, 4), (1, 5), (1, 0), (2, 2), (2, 3), (2, 6), (2, 0),
           (3, 5), (3, 4), (4, 1), (4, 0), (4, 3), (5, 6), (5, 2)]
_PURCHASES = [(0, 0), (0, 1), (1, 4), (2, 2), (2, 6), (2, 0), (3, 5), (4, 0), (4, 1)]


def _co_bought() -> list[tuple[int, int, int]]:
    """Ordered item pairs bought by the same user, with the number of such users (i < j; the reverse relation
    carries the other direction)."""
    baskets: dict[int, set[int]] = {}
    for u, i in _PURCHASES:
        baskets.setdefault(u, set()).add(i)
    counts: dict[tuple[int, int], int] = {}
    for items in baskets.values():
        s = sorted(items)
        for a in range(len(s)):
            for b in range(a + 1, len(s)):
                counts[(s[a], s[b])] = counts.get((s[a], s[b]), 0) + 1
    return [(a, b, c) for (a, b), c in sorted(counts.items())]


def toy_shop_graph(reverse: bool = True) -> tuple[Any, dict[str, torch.Tensor]]:
    """A small, hand-made coffee shop as a typed heterograph, with features derived from node attributes.

    6 users, 8 items, 3 categories; relations ``("user", "clicks", "item")``, ``("user", "purchases", "item")``,
    ``("item", "co_bought", "item")`` (items bought by the same user, edata ``count``), ``("item", "in", "category")``
    and, with ``reverse=True``, their reverses ``rev_clicks``, ``rev_purchases``, ``rev_co_bought``, ``rev_in``
    (reverse edge ``k`` = forward edge ``k`` reversed). Every relation has edata ``weight``. One item is never
    clicked (a node with no in-edges from users); without reverses, users receive no messages at all (a node type
    with no in-edges).

    Features (float32), each type its own size:
    user ``[age / 100, loyalty member, log1p(days since sign-up) / 10]`` (3);
    item ``[log1p(price) / 5, one-hot category]`` (4);
    category ``[share of items, mean log1p(price) / 5]`` (2).

    Args:
        reverse: add the reverse relations. Default ``True``.

    Returns:
        ``(g, x)``: the ``dgl.heterograph`` and ``{ntype: features}``.
    """
    n_items, n_users, n_cats = len(SHOP_ITEMS), len(SHOP_USERS), len(SHOP_CATEGORIES)
    co = _co_bought()
    rel: dict[tuple[str, str, str], tuple[list[int], list[int], list[float]]] = {
        ("user", "clicks", "item"): ([u for u, _ in _CLICKS], [i for _, i in _CLICKS], [1.0] * len(_CLICKS)),
        ("user", "purchases", "item"): ([u for u, _ in _PURCHASES], [i for _, i in _PURCHASES], [1.0] * len(_PURCHASES)),
        ("item", "co_bought", "item"): ([a for a, _, _ in co], [b for _, b, _ in co], [float(c) for _, _, c in co]),
        ("item", "in", "category"): (list(range(n_items)), [c for _, _, c in SHOP_ITEMS], [1.0] * n_items),
    }
    if reverse:
        for (s, r, d), (src, dst, w) in list(rel.items()):
            rel[(d, f"rev_{r}", s)] = (dst, src, w)
    g = dgl.heterograph(
        {et: (torch.tensor(s, dtype=torch.int64), torch.tensor(d, dtype=torch.int64)) for et, (s, d, _) in rel.items()},
        num_nodes_dict={"user": n_users, "item": n_items, "category": n_cats},
    )
    for et, (_, _, w) in rel.items():
        g.edges[et].data["weight"] = torch.tensor(w, dtype=torch.float32)
    g.edges[("item", "co_bought", "item")].data["count"] = torch.tensor([c for _, _, c in co], dtype=torch.float32)

    users = torch.tensor(
        [[age / 100.0, float(member), math.log1p(days) / 10.0] for age, member, days in SHOP_USERS],
        dtype=torch.float32,
    )
    log_price = torch.tensor([math.log1p(p) for _, p, _ in SHOP_ITEMS], dtype=torch.float32)
    cat = torch.tensor([c for _, _, c in SHOP_ITEMS])
    items = torch.cat([(log_price / 5.0).unsqueeze(1), torch.nn.functional.one_hot(cat, n_cats).float()], dim=1)
    share = torch.bincount(cat, minlength=n_cats).float() / n_items
    mean_price = torch.zeros(n_cats).index_add_(0, cat, log_price) / torch.bincount(cat, minlength=n_cats).float()
    cats = torch.stack([share, mean_price / 5.0], dim=1)
    return g, {"user": users, "item": items, "category": cats}


def _outputs(enc: Any, graph_or_blocks: Any, x: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = enc(graph_or_blocks, x)
    if not isinstance(out, Mapping):
        raise AssertionError(f"{type(enc).__name__}.forward must return dict[ntype, Tensor], got {type(out).__name__}")
    return dict(out)


def _compare(name: str, what: str, got: dict, want: dict, atol: float) -> None:
    for nt, w in want.items():
        if nt not in got:
            raise AssertionError(f"{name}: {what}: node type '{nt}' missing (got {sorted(got)})")
        g_ = got[nt]
        if g_.shape != w.shape:
            raise AssertionError(f"{name}: {what}: '{nt}' has shape {tuple(g_.shape)}, expected {tuple(w.shape)}")
        if not torch.allclose(g_, w, atol=atol, rtol=1e-4):
            diff = (g_ - w).abs().max().item()
            raise AssertionError(f"{name}: {what}: '{nt}' differs by up to {diff:.3g} (atol {atol})")


def assert_encoder(
    enc: Any,
    g: Any,
    x: Mapping[str, torch.Tensor],
    out_dim: int | None = None,
    *,
    atol: float = 1e-5,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Check that an encoder honours the hetrec encoder contract; raise ``AssertionError`` naming what failed.

    Checks: ``enc.out_dim``/``enc.num_layers`` exist; the full-graph output has every node type, shape
    ``[num_nodes, out_dim]`` and finite values; a loss on the output sends a finite, non-zero gradient to every
    parameter and to the inputs ``x`` (so an input layer before the encoder learns); in eval mode, the output on blocks sampled with full fan-out
    (``dgl.dataloading.MultiLayerFullNeighborSampler``) for every node equals the full-graph output, and so does
    the output for a subset of seed nodes when ``enc.sampled_equals_full`` (default ``True``); a wrong number of
    blocks raises ``ValueError``; a pickle round trip gives the same output. The encoder is left in eval mode.

    Args:
        enc: the encoder (``forward(graph_or_blocks, x) -> {ntype: Tensor}``).
        g: a full heterograph, e.g. from :func:`toy_shop_graph`.
        x: input features per node type.
        out_dim: expected embedding size. Default: ``enc.out_dim``.
        atol: tolerance of the full graph vs blocks comparison. Default 1e-5.
        seed: seed of the random loss weights and seed subset. Default 0.

    Returns:
        The eval-mode full-graph output.
    """
    name = type(enc).__name__
    for attr in ("out_dim", "num_layers"):
        if not hasattr(enc, attr):
            raise AssertionError(f"{name} has no attribute '{attr}' (the encoder contract requires it)")
    out_dim = int(enc.out_dim if out_dim is None else out_dim)
    if int(enc.out_dim) != out_dim:
        raise AssertionError(f"{name}.out_dim is {enc.out_dim}, expected {out_dim}")
    gen = torch.Generator().manual_seed(seed)

    # 1. shapes, every node type, finite values; 2. gradients reach every parameter
    enc.train()
    enc.zero_grad(set_to_none=True)
    x_leaf = {nt: t.detach().clone().requires_grad_(t.is_floating_point()) for nt, t in x.items()}
    out = _outputs(enc, g, x_leaf)
    for nt in g.ntypes:
        if nt not in out:
            raise AssertionError(f"{name}: output has no '{nt}' embeddings (got {sorted(out)}); every node type needs one")
        t = out[nt]
        if tuple(t.shape) != (g.num_nodes(nt), out_dim):
            raise AssertionError(f"{name}: output['{nt}'] has shape {tuple(t.shape)}, expected [{g.num_nodes(nt)}, {out_dim}]")
        if not torch.isfinite(t).all():
            raise AssertionError(f"{name}: output['{nt}'] has non-finite values")
    loss = sum((out[nt] * torch.randn(out[nt].shape, generator=gen)).sum() for nt in sorted(out))
    loss.backward()
    for pname, p in enc.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            raise AssertionError(f"{name}: parameter '{pname}' gets no gradient (unused in forward?)")
        if not torch.isfinite(p.grad).all():
            raise AssertionError(f"{name}: parameter '{pname}' has a non-finite gradient")
        if not torch.count_nonzero(p.grad):
            raise AssertionError(f"{name}: parameter '{pname}' has an all-zero gradient")
    in_grads = [t.grad for t in x_leaf.values() if t.grad is not None]
    if not in_grads or not any(torch.count_nonzero(gr) for gr in in_grads):
        raise AssertionError(f"{name}: no gradient reaches the inputs x (the input layer could not learn)")
    if any(not torch.isfinite(gr).all() for gr in in_grads):
        raise AssertionError(f"{name}: non-finite gradient on the inputs x")
    enc.zero_grad(set_to_none=True)

    # 3. full graph == blocks with full fan-out
    enc.eval()
    with torch.no_grad():
        full = _outputs(enc, g, x)
        again = _outputs(enc, g, x)
        _compare(name, "eval-mode output is not deterministic", again, full, 0.0)
        sampler = dgl.dataloading.MultiLayerFullNeighborSampler(enc.num_layers)
        seed_sets = [{nt: torch.arange(g.num_nodes(nt)) for nt in g.ntypes}]
        if getattr(enc, "sampled_equals_full", True):
            # DGL 2.1's samplers can lose seed nodes of a type that no relation points to (they are missing from
            # the blocks' source nodes), so such types are not seeded here; with every node seeded they survive.
            receiving = {d for _, _, d in g.canonical_etypes}
            subset = {
                nt: torch.randperm(g.num_nodes(nt), generator=gen)[: max(1, g.num_nodes(nt) // 2)]
                for nt in g.ntypes
                if nt in receiving
            }
            seed_sets.append(subset)
        for k, seeds in enumerate(seed_sets):
            input_nodes, output_nodes, blocks = sampler.sample(g, seeds)
            x_in = {nt: x[nt][input_nodes[nt]] for nt in input_nodes if nt in x}
            got = _outputs(enc, blocks, x_in)
            want = {nt: full[nt][output_nodes[nt]] for nt in output_nodes}
            what = "blocks with full fan-out for " + ("every node" if k == 0 else "half of the nodes") + " != full graph"
            _compare(name, what, got, want, atol)
        # 4. a wrong number of blocks is an error, not a silent misuse
        try:
            enc(list(blocks) + [blocks[-1]], x_in)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{name}: {enc.num_layers + 1} blocks for num_layers={enc.num_layers} did not raise ValueError")

    # 5. pickling round trip
    buf = io.BytesIO()
    pickle.dump(enc, buf)
    clone = pickle.loads(buf.getvalue())
    clone.eval()
    with torch.no_grad():
        _compare(name, "unpickled copy gives another output", _outputs(clone, g, x), full, 0.0)
    return full
