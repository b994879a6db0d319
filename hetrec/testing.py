"""Test helpers for encoder authors (public): a small realistic shop graph, the shared encoder contract test and a
check that a plugin's config registers with Hydra.

A plugin's whole contract test is then::

    from hetrec.testing import assert_encoder, assert_plugin_config, toy_shop_graph

    def test_my_encoder():
        g, x = toy_shop_graph()
        dims = {nt: t.shape[1] for nt, t in x.items()}
        for seed in range(3):  # a factory: assert_encoder seeds the parameter initialisation with `seed`
            assert_encoder(lambda: MyEncoder(g.canonical_etypes, dims, out_dim=8), g, x, out_dim=8, seed=seed)

    def test_my_config():
        assert_plugin_config("my_encoder")  # after pip install -e .
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import math
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from hetrec._dgl import dgl

__all__ = [
    "toy_shop_graph", "assert_encoder", "assert_plugin_config", "SHOP_ITEMS", "SHOP_USERS", "SHOP_CATEGORIES",
]

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

# toy_shop_graph(dense=True) adds these: every item then has >= 2 clickers, >= 2 buyers and 2 categories, every user
# >= 2 clicks and >= 2 purchases (so each destination of those relations has several distinct in-neighbours)
_DENSE_CLICKS = [(3, 7), (5, 7), (5, 1)]
_DENSE_PURCHASES = [(1, 2), (3, 3), (4, 3), (3, 4), (1, 5), (0, 6), (5, 7), (1, 7), (5, 6)]
_SECOND_CATEGORY = [1, 1, 0, 2, 0, 1, 0, 2]  # item i is also listed under category _SECOND_CATEGORY[i]


def _co_bought(purchases: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Ordered item pairs bought by the same user, with the number of such users (i < j; the reverse relation
    carries the other direction)."""
    baskets: dict[int, set[int]] = {}
    for u, i in purchases:
        baskets.setdefault(u, set()).add(i)
    counts: dict[tuple[int, int], int] = {}
    for items in baskets.values():
        s = sorted(items)
        for a in range(len(s)):
            for b in range(a + 1, len(s)):
                counts[(s[a], s[b])] = counts.get((s[a], s[b]), 0) + 1
    return [(a, b, c) for (a, b), c in sorted(counts.items())]


def toy_shop_graph(reverse: bool = True, dense: bool = False) -> tuple[Any, dict[str, torch.Tensor]]:
    """A small, hand-made coffee shop as a typed heterograph, with features derived from node attributes.

    6 users, 8 items, 3 categories; relations ``("user", "clicks", "item")``, ``("user", "purchases", "item")``,
    ``("item", "co_bought", "item")`` (items bought by the same user, edata ``count``), ``("item", "in", "category")``
    and, with ``reverse=True``, their reverses ``rev_clicks``, ``rev_purchases``, ``rev_co_bought``, ``rev_in``
    (reverse edge ``k`` = forward edge ``k`` reversed). Every relation has edata ``weight``. One item is never
    clicked (a node with no in-edges from users); without reverses, users receive no messages at all (a node type
    with no in-edges). Every item is in one category, so on ``rev_in`` each item has exactly one in-neighbour (an
    attention softmax over it is constant).

    With ``dense=True`` the shop has more clicks and purchases and every item is also listed under a second
    category: every item then has at least two distinct in-neighbours on ``rev_in``, ``clicks`` and ``purchases``,
    and every user on ``rev_clicks`` and ``rev_purchases`` (the stock graph's sparse corners are gone).

    Features (float32), each type its own size:
    user ``[age / 100, loyalty member, log1p(days since sign-up) / 10]`` (3);
    item ``[log1p(price) / 5, category membership (one-hot; two-hot when dense)]`` (4);
    category ``[share of items listed under it, mean log1p(price) / 5 of those]`` (2).

    Args:
        reverse: add the reverse relations. Default ``True``.
        dense: the denser shop described above. Default ``False``.

    Returns:
        ``(g, x)``: the ``dgl.heterograph`` and ``{ntype: features}``.
    """
    n_items, n_users, n_cats = len(SHOP_ITEMS), len(SHOP_USERS), len(SHOP_CATEGORIES)
    clicks = _CLICKS + (_DENSE_CLICKS if dense else [])
    purchases = _PURCHASES + (_DENSE_PURCHASES if dense else [])
    member = [(i, c) for i, (_, _, c) in enumerate(SHOP_ITEMS)]
    if dense:
        member += list(enumerate(_SECOND_CATEGORY))
    co = _co_bought(purchases)
    rel: dict[tuple[str, str, str], tuple[list[int], list[int], list[float]]] = {
        ("user", "clicks", "item"): ([u for u, _ in clicks], [i for _, i in clicks], [1.0] * len(clicks)),
        ("user", "purchases", "item"): ([u for u, _ in purchases], [i for _, i in purchases], [1.0] * len(purchases)),
        ("item", "co_bought", "item"): ([a for a, _, _ in co], [b for _, b, _ in co], [float(c) for _, _, c in co]),
        ("item", "in", "category"): ([i for i, _ in member], [c for _, c in member], [1.0] * len(member)),
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
        [[age / 100.0, float(m), math.log1p(days) / 10.0] for age, m, days in SHOP_USERS],
        dtype=torch.float32,
    )
    log_price = torch.tensor([math.log1p(p) for _, p, _ in SHOP_ITEMS], dtype=torch.float32)
    item_idx = torch.tensor([i for i, _ in member])
    cat_idx = torch.tensor([c for _, c in member])
    hot = torch.zeros(n_items, n_cats).index_put_((item_idx, cat_idx), torch.tensor(1.0))
    items = torch.cat([(log_price / 5.0).unsqueeze(1), hot], dim=1)
    size = hot.sum(0)
    cats = torch.stack([size / n_items, (hot.T @ log_price) / size / 5.0], dim=1)
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


def _trainable(enc: Any) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in enc.named_parameters() if p.requires_grad]


def _gradients(enc: Any, g: Any, x: Mapping[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor | None]:
    """Every trainable parameter's gradient of a random linear loss on the full-graph output."""
    enc.zero_grad(set_to_none=True)
    out = _outputs(enc, g, x)
    loss = sum((out[nt] * torch.randn(out[nt].shape, generator=gen).to(out[nt].device)).sum() for nt in sorted(out))
    loss.backward()
    grads = {n: None if p.grad is None else p.grad.detach().clone() for n, p in _trainable(enc)}
    enc.zero_grad(set_to_none=True)
    return grads


def _probe_graph(g: Any, x: Mapping[str, torch.Tensor], gen: torch.Generator, k: int = 3) -> tuple[Any, dict]:
    """A random graph with ``g``'s node types, node counts, relations and data fields in which every destination
    node has ``min(k, number of source nodes)`` distinct in-neighbours on every relation, and random inputs of
    ``x``'s shapes: a graph on which any parameter that matters to the encoder can get a gradient."""
    edges = {}
    for s, r, d in g.canonical_etypes:
        ns, nd = g.num_nodes(s), g.num_nodes(d)
        kk = min(k, ns)
        if ns * nd <= 1_000_000:
            src = torch.rand(nd, ns, generator=gen).argsort(1)[:, :kk].reshape(-1)
        else:  # large graphs: distinct with high probability
            src = torch.randint(ns, (nd * kk,), generator=gen)
        edges[(s, r, d)] = (src.to(g.idtype), torch.arange(nd).repeat_interleave(kk).to(g.idtype))
    p = dgl.heterograph(edges, num_nodes_dict={nt: g.num_nodes(nt) for nt in g.ntypes}, idtype=g.idtype).to(g.device)
    for et in g.canonical_etypes:
        m = p.num_edges(et)
        for key, val in g.edges[et].data.items():
            if key == dgl.EID:
                continue
            rows = torch.randint(val.shape[0], (m,), generator=gen).to(val.device) if val.shape[0] else None
            p.edges[et].data[key] = val[rows] if rows is not None else val.new_ones((m, *val.shape[1:]))
    for nt in g.ntypes:
        for key, val in g.nodes[nt].data.items():
            if key != dgl.NID:
                p.nodes[nt].data[key] = val
    xp = {nt: torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device) if t.is_floating_point() else t
          for nt, t in x.items()}
    return p, xp


def _zero_grad_message(name: str, pname: str, grad_none: bool, g: Any, probes: int) -> str:
    lone = [et for et in g.canonical_etypes if g.num_edges(et) and int(g.in_degrees(etype=et).max()) <= 1]
    single_src = [et for et in g.canonical_etypes if g.num_nodes(et[0]) <= 1]
    what = "no gradient (unused in forward?)" if grad_none else "an all-zero gradient"
    msg = (
        f"{name}: parameter '{pname}' has {what} on the given graph"
        + (f" and on {probes} denser random graphs with the same relations (every destination with up to 3 "
           f"distinct in-neighbours per relation)" if probes else "")
        + ". A softmax over a single neighbour is constant: attention logits over a destination with one in-edge on "
        "a relation get exactly zero gradient (DGL's GATConv: attn_l, attn_r and the fc_dst feeding attn_r), and "
        "attn_r also whenever all of a destination's logits sit on one side of the LeakyReLU"
    )
    if lone:
        msg += f"; on the given graph every destination of {lone} has at most one in-edge"
    if single_src:
        msg += f"; {single_src} have a single source node, so no graph gives them two distinct neighbours"
    return msg + (
        ". If the parameter is meant to have no gradient on such graphs, exempt it: assert_encoder(..., "
        f"zero_grad_ok=['{pname}']) (names or fnmatch patterns, e.g. '*.attn_r')"
    )


@contextlib.contextmanager
def _one_thread() -> Any:
    """torch and DGL kernels on one thread: on graphs this small, idle OpenMP threads only spin (a GAT check took
    ~2.8 s of CPU with every core busy elsewhere, ~0.3 s on one thread)."""
    torch_threads, dgl_threads = torch.get_num_threads(), dgl.utils.get_num_threads()
    torch.set_num_threads(1)
    dgl.utils.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        dgl.utils.set_num_threads(dgl_threads)


def assert_encoder(
    enc: Any,
    g: Any,
    x: Mapping[str, torch.Tensor],
    out_dim: int | None = None,
    *,
    atol: float = 1e-5,
    seed: int = 0,
    zero_grad_ok: Sequence[str] = (),
    probes: int = 3,
) -> dict[str, torch.Tensor]:
    """Check that an encoder honours the hetrec encoder contract; raise ``AssertionError`` naming what failed.

    Checks: ``enc.out_dim``/``enc.num_layers`` exist; the full-graph output has every node type, shape
    ``[num_nodes, out_dim]`` and finite values; a loss on the output sends a finite gradient to every parameter and
    a non-zero one to the inputs ``x`` (so an input layer before the encoder learns); every parameter that can get
    a gradient gets a non-zero one (below); in eval mode, the output on blocks sampled with full fan-out
    (``dgl.dataloading.MultiLayerFullNeighborSampler``) for every node equals the full-graph output, and so does
    the output for a subset of seed nodes when ``enc.sampled_equals_full`` (default ``True``); a wrong number of
    blocks raises ``ValueError``; a pickle round trip gives the same output. The encoder is left in eval mode.

    Zero gradients. A parameter is judged on a graph where it could get a gradient: one whose gradient on ``g`` is
    all zero (or ``None``) is checked again on ``probes`` random graphs with ``g``'s node types, relations and data
    fields in which every destination has up to 3 distinct in-neighbours per relation, with random inputs; it fails
    only if its gradient is zero there too. This is why a correct attention encoder passes on the stock
    :func:`toy_shop_graph`: there every item has one category, and an attention softmax over one in-neighbour is
    constant, so its logits' parameters (DGL ``GATConv``'s ``attn_l``/``attn_r``) have exactly zero gradient on
    ``rev_in``; ``attn_r`` is also zero whenever all of a destination's logits sit on one side of the LeakyReLU.
    A parameter that is legitimately without gradient even there is exempted by ``zero_grad_ok``.

    Args:
        enc: the encoder (``forward(graph_or_blocks, x) -> {ntype: Tensor}``), or a function of no arguments that
            builds it: then its parameters are initialised under ``torch.manual_seed(seed)`` (the global RNG is
            restored afterwards), so pass or fail is reproducible.
        g: a full heterograph, e.g. from :func:`toy_shop_graph`.
        x: input features per node type.
        out_dim: expected embedding size. Default: ``enc.out_dim``.
        atol: tolerance of the full graph vs blocks comparison. Default 1e-5.
        seed: seed of the parameter initialisation (when ``enc`` is a function), the random loss weights, the
            probe graphs and the seed subset. Default 0.
        zero_grad_ok: parameter names or ``fnmatch`` patterns (``"*.attn_r"``) allowed an all-zero or no
            gradient; each must match a parameter. Default none.
        probes: random graphs a zero gradient is re-checked on (0: judge on ``g`` alone). Default 3.

    Returns:
        The eval-mode full-graph output.
    """
    with _one_thread():
        return _assert_encoder(enc, g, x, out_dim, atol, seed, zero_grad_ok, probes)


def _assert_encoder(
    enc: Any, g: Any, x: Mapping[str, torch.Tensor], out_dim: int | None, atol: float, seed: int,
    zero_grad_ok: Sequence[str], probes: int,
) -> dict[str, torch.Tensor]:
    if not isinstance(enc, torch.nn.Module) and callable(enc):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            enc = enc()
    name = type(enc).__name__
    for attr in ("out_dim", "num_layers"):
        if not hasattr(enc, attr):
            raise AssertionError(f"{name} has no attribute '{attr}' (the encoder contract requires it)")
    out_dim = int(enc.out_dim if out_dim is None else out_dim)
    if int(enc.out_dim) != out_dim:
        raise AssertionError(f"{name}.out_dim is {enc.out_dim}, expected {out_dim}")
    params = [n for n, _ in _trainable(enc)]
    patterns = [zero_grad_ok] if isinstance(zero_grad_ok, str) else list(zero_grad_ok)
    unmatched = [pat for pat in patterns if not any(fnmatch.fnmatchcase(n, pat) for n in params)]
    if unmatched:
        raise AssertionError(f"{name}: zero_grad_ok {unmatched} match no parameter (parameters: {params})")
    exempt = {n for n in params if any(fnmatch.fnmatchcase(n, pat) for pat in patterns)}
    gen = torch.Generator().manual_seed(seed)

    # 1. shapes, every node type, finite values; 2. gradients reach the inputs and every parameter that can get one
    enc.train()
    enc.zero_grad(set_to_none=True)
    x_leaf = {nt: t.detach().clone().requires_grad_(t.is_floating_point()) for nt, t in x.items()}
    out = _outputs(enc, g, x_leaf)
    for nt in g.ntypes:
        if nt not in out:
            raise AssertionError(
                f"{name}: output has no '{nt}' embeddings (got {sorted(out)}); every node type needs one"
            )
        t = out[nt]
        if tuple(t.shape) != (g.num_nodes(nt), out_dim):
            raise AssertionError(
                f"{name}: output['{nt}'] has shape {tuple(t.shape)}, expected [{g.num_nodes(nt)}, {out_dim}]"
            )
        if not torch.isfinite(t).all():
            raise AssertionError(f"{name}: output['{nt}'] has non-finite values")
    loss = sum((out[nt] * torch.randn(out[nt].shape, generator=gen).to(out[nt].device)).sum() for nt in sorted(out))
    loss.backward()
    grads = {n: None if p.grad is None else p.grad.detach().clone() for n, p in _trainable(enc)}
    in_grads = [t.grad for t in x_leaf.values() if t.grad is not None]
    if not in_grads or not any(torch.count_nonzero(gr) for gr in in_grads):
        raise AssertionError(f"{name}: no gradient reaches the inputs x (the input layer could not learn)")
    if any(not torch.isfinite(gr).all() for gr in in_grads):
        raise AssertionError(f"{name}: non-finite gradient on the inputs x")
    enc.zero_grad(set_to_none=True)
    for k in range(probes + 1):
        if k:  # parameters still without a non-zero gradient: judged on a denser random graph
            pg, px = _probe_graph(g, x, gen)
            grads = _gradients(enc, pg, px, gen)
        for pname, gr in grads.items():
            if gr is not None and not torch.isfinite(gr).all():
                where = "the given graph" if k == 0 else "a denser random graph"
                raise AssertionError(f"{name}: parameter '{pname}' has a non-finite gradient on {where}")
        if k == 0:
            zero = {
                n: gr is None
                for n, gr in grads.items()
                if n not in exempt and (gr is None or not torch.count_nonzero(gr))
            }
        else:
            zero = {n: none for n, none in zero.items() if grads[n] is None or not torch.count_nonzero(grads[n])}
        if not zero:
            break
    if zero:
        pname = next(iter(zero))
        more = f" (and {len(zero) - 1} more: {list(zero)[1:6]})" if len(zero) > 1 else ""
        raise AssertionError(_zero_grad_message(name, pname, zero[pname], g, probes) + more)

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
            which = "every node" if k == 0 else "half of the nodes"
            what = f"blocks with full fan-out for {which} != full graph"
            _compare(name, what, got, want, atol)
        # 4. a wrong number of blocks is an error, not a silent misuse
        try:
            enc(list(blocks) + [blocks[-1]], x_in)
        except ValueError:
            pass
        else:
            raise AssertionError(
                f"{name}: {enc.num_layers + 1} blocks for num_layers={enc.num_layers} did not raise ValueError"
            )

    # 5. pickling round trip
    buf = io.BytesIO()
    pickle.dump(enc, buf)
    clone = pickle.loads(buf.getvalue())
    clone.eval()
    with torch.no_grad():
        _compare(name, "unpickled copy gives another output", _outputs(clone, g, x), full, 0.0)
    return full


def assert_plugin_config(name: str, overrides: Sequence[str] = (), *, dim: int = 16) -> Any:
    """Check that the installed encoder ``name`` registers with hetrec and its config composes with Hydra; raise
    ``AssertionError`` naming what failed and how to fix it. Run it after installing the plugin (``pip install -e``).

    Checks: an entry point ``name`` in the ``hetrec.encoders`` group, claimed by one package only; its packaged
    YAML (``<package>/conf/encoder/<name>.yaml``, optional) is a valid mapping without data keys (``etypes``,
    ``in_dims``); the class imports; Hydra composes ``encoder=<name>`` plus ``overrides`` from hetrec's config store,
    as ``hetrec-train encoder=<name>`` does; instantiating the result on :func:`toy_shop_graph` with inputs of size
    ``dim`` for every node type (what hetrec's input layer hands over) gives an instance of the entry point's class
    with ``out_dim`` and ``num_layers`` whose output has ``[num_nodes, out_dim]`` for every node type.

    Args:
        name: the encoder's name (the entry point's name).
        overrides: extra Hydra overrides, e.g. ``["encoder.num_layers=3"]``.
        dim: input size per node type. Default 16.

    Returns:
        The composed encoder config (an OmegaConf ``DictConfig``).
    """
    from hydra import compose, initialize
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    from hetrec import registry

    try:
        info = registry.encoder_info(name)
        registry.encoder_config(name)
        cls = registry.get_encoder_class(name)
        registry.register_configs()
    except registry.PluginError as e:
        raise AssertionError(f"encoder '{name}': {e}") from e
    where = info.config or "no YAML (the class defaults)"
    if GlobalHydra.instance().is_initialized():
        raise AssertionError("assert_plugin_config composes its own config: call it outside a Hydra app/initialize")
    try:
        with initialize(config_path=None, version_base="1.3"):
            cfg = compose(overrides=[f"+encoder={name}", *overrides]).encoder
    except Exception as e:
        raise AssertionError(
            f"encoder '{name}' ({info.package}, config {where}) does not compose with Hydra: {type(e).__name__}: {e}"
        ) from e
    g, _ = toy_shop_graph()
    gen = torch.Generator().manual_seed(0)
    x = {nt: torch.randn(g.num_nodes(nt), dim, generator=gen) for nt in g.ntypes}
    try:
        enc = instantiate(cfg, etypes=g.canonical_etypes, in_dims={nt: dim for nt in g.ntypes})
    except Exception as e:
        raise AssertionError(
            f"encoder '{name}': instantiating its composed config (from {where}) with etypes and in_dims failed: "
            f"{type(e).__name__}: {e}"
            + (f"; every YAML key must be an argument of {info.target}" if "unexpected keyword" in str(e) else "")
        ) from e
    if not isinstance(enc, cls):
        raise AssertionError(
            f"encoder '{name}': its config builds a {type(enc).__module__}.{type(enc).__name__}, not the entry "
            f"point's {info.target}; fix _target_ in {where}"
        )
    for attr in ("out_dim", "num_layers"):
        if not hasattr(enc, attr):
            raise AssertionError(f"encoder '{name}': {type(enc).__name__} has no attribute '{attr}'")
    enc.eval()
    with torch.no_grad(), _one_thread():
        out = _outputs(enc, g, x)
    for nt in g.ntypes:
        shape = tuple(out[nt].shape) if nt in out else None
        if shape != (g.num_nodes(nt), int(enc.out_dim)):
            raise AssertionError(
                f"encoder '{name}': output['{nt}'] has shape {shape}, expected [{g.num_nodes(nt)}, {enc.out_dim}]"
            )
    return cfg
