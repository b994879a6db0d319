"""`SyntheticShop`: a deterministic, vectorized generator of a realistic shop log with planted structure."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from hetrec.data.datasets.base import Dataset, init_config
from hetrec.data.idmap import IdMap
from hetrec.data.shop import ShopData
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.data")

# department -> category -> subcategories. Sibling subcategories of one category are complements
# (smartphone + phone case, spaghetti + pasta sauce, ...): planted pairs join items of two siblings.
CATALOG: dict[str, dict[str, list[str]]] = {
    "Electronics": {"Phones": ["smartphone", "phone case", "charger"],
                    "Computers": ["laptop", "laptop sleeve", "wireless mouse"],
                    "Audio": ["headphones", "bluetooth speaker", "audio cable"]},
    "Food": {"Pasta": ["spaghetti", "pasta sauce", "parmesan"],
             "Breakfast": ["cereal", "milk", "coffee"],
             "Snacks": ["chips", "salsa dip", "soda"]},
    "Home": {"Kitchen": ["frying pan", "spatula", "chef knife"],
             "Bedroom": ["pillow", "duvet", "bed sheets"],
             "Cleaning": ["detergent", "sponge", "mop"]},
    "Fashion": {"Shoes": ["sneakers", "socks", "insoles"],
                "Tops": ["t-shirt", "shirt", "jacket"],
                "Accessories": ["belt", "wallet", "sunglasses"]},
    "Sports": {"Running": ["running shoes", "water bottle", "sports watch"],
               "Fitness": ["yoga mat", "dumbbells", "resistance band"],
               "Cycling": ["bicycle", "helmet", "bike lights"]},
    "Beauty": {"Skin care": ["moisturizer", "cleanser", "sunscreen"],
               "Hair": ["shampoo", "conditioner", "hair dryer"],
               "Makeup": ["lipstick", "mascara", "makeup brush"]},
}
_SYLLABLES_A = [
    "Nor", "Ze", "Or", "Ve", "Ka", "Lu", "Bri", "Ter", "No", "Axi", "Cor", "Del", "Fyn", "Gal", "Hux", "Ira",
]
_SYLLABLES_B = ["dic", "nix", "bit", "la", "to", "mo", "sa", "ra", "va", "on", "ex", "ly"]
_ADJECTIVES = ["classic", "pro", "eco", "mini", "max", "lite", "premium", "basic", "sport", "deluxe", "plus", "smart"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
REGIONS = ["North", "South", "East", "West", "Central"]
EVENTS = ("clicks", "carts", "purchases")


def _tree(num_departments: int, categories_per_department: int, subcategories_per_category: int):
    """Names of departments, categories ``"Dept>Cat"`` and leaves ``"Dept>Cat>Sub"`` (vocabulary, then generic)."""
    depts = list(CATALOG)[:num_departments] + [f"Department {k + 1}" for k in range(len(CATALOG), num_departments)]
    cats, leaves, leaf_cat, cat_dept = [], [], [], []
    for d, dept in enumerate(depts):
        vocab = list(CATALOG.get(dept, {}).items())
        for c in range(categories_per_department):
            cname, subs = vocab[c] if c < len(vocab) else (f"{dept} line {c + 1}", [])
            cat_dept.append(d)
            cats.append(f"{dept}>{cname}")
            for s in range(subcategories_per_category):
                sname = subs[s] if s < len(subs) else f"{cname.lower()} item {s + 1}"
                leaf_cat.append(len(cats) - 1)
                leaves.append(f"{dept}>{cname}>{sname}")
    return depts, cats, leaves, np.asarray(leaf_cat, np.int64), np.asarray(cat_dept, np.int64)


def _order_by(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """``np.lexsort((minor, major))`` (stable order by major, then minor), faster: one stable argsort of the combined
    key ``major * span + (minor - min)`` when it fits in int64; the rows come out already grouped, so timsort finds
    long runs. Falls back to ``lexsort`` when the key would overflow."""
    if len(major) == 0:
        return np.zeros(0, dtype=np.int64)
    major, minor = major.astype(np.int64, copy=False), minor.astype(np.int64, copy=False)
    m_lo, m_hi = int(major.min()), int(major.max())
    t_lo, t_hi = int(minor.min()), int(minor.max())
    span = t_hi - t_lo + 1
    if m_lo >= 0 and (m_hi + 1) * span < 2**62:
        return np.argsort(major * np.int64(span) + (minor - np.int64(t_lo)), kind="stable")
    return np.lexsort((minor, major))


def _event_column(codes: np.ndarray):
    """``np.asarray(EVENTS, dtype=object)[codes]`` as the column pandas would make of it (pandas >= 3: its ``str``
    dtype, built directly in Arrow instead of converting millions of Python strings; else the object array)."""
    names = np.asarray(EVENTS, dtype=object)
    dtype = pd.Series(names[:1]).dtype
    if getattr(dtype, "storage", None) == "pyarrow":
        try:
            import pyarrow as pa

            return pd.array(pa.array(list(EVENTS), pa.large_string()).take(pa.array(codes)), dtype=dtype)
        except (ImportError, TypeError, ValueError):  # an Arrow/pandas pairing without this path: the plain way
            pass
    return names[codes]


class SyntheticShop(Dataset):
    """Synthetic shop log with planted structure (the built-in default dataset).

    A deterministic generator (same ``seed`` and sizes -> identical data) of a shop with a three-level category tree
    (department > category > subcategory), Zipf item popularity, user segments with category preferences, a
    click -> cart -> purchase funnel inside browsing sessions, purchase baskets and planted complementary pairs
    (an item of one subcategory and one of a sibling, e.g. a smartphone and a phone case) that are bought together.
    Everything is vectorized numpy: 1,000,000 interactions take a few seconds.

    Planted structure (``ShopData.planted``), for tests and benchmarks:
        ``complementary_pairs``: int64 [P, 2] internal item ids bought together with probability ``pair_prob``.
        ``user_segment``: int64 [U]; ``segment_categories``: int64 [S, categories_per_segment] preferred categories
        (indices into ``info["categories"]``); ``item_category``: int64 [I] category index of each item.

    Args:
        num_users: users (default 2000).
        num_items: items (default 1000).
        num_interactions: rows generated, all events together (default 60000).
        num_pairs: planted complementary pairs (default 60; at most one pair per item).
        num_segments: user segments (default 5).
        categories_per_segment: preferred categories per segment (default 3).
        segment_affinity: probability that a session's category comes from the segment's preferences (default 0.8).
        in_category_prob: probability that a click stays in the session's category (default 0.85).
        num_departments, categories_per_department, subcategories_per_category: tree shape (default 6, 3, 3).
        num_brands: brands (default 40).
        zipf_exponent: item popularity ``1 / rank ** a`` (default 1.0).
        mean_session_clicks: mean clicks per session (default 3.0).
        cart_rate: probability that a click is carted (default 0.3).
        purchase_rate: probability that a carted item is bought (default 0.5).
        pair_prob: probability that buying one item of a pair adds its partner to the basket (default 0.7).
        start: first day (default ``"2025-01-01"``); days: time span (default 90).
        seed: random seed (default 0).
        root, target: see `Dataset` (default target ``clicks``).
    """

    name = "synthetic"
    target = "clicks"

    def __init__(
        self,
        num_users: int = 2000,
        num_items: int = 1000,
        num_interactions: int = 60_000,
        num_pairs: int = 60,
        num_segments: int = 5,
        categories_per_segment: int = 3,
        segment_affinity: float = 0.8,
        in_category_prob: float = 0.85,
        num_departments: int = 6,
        categories_per_department: int = 3,
        subcategories_per_category: int = 3,
        num_brands: int = 40,
        zipf_exponent: float = 1.0,
        mean_session_clicks: float = 3.0,
        cart_rate: float = 0.3,
        purchase_rate: float = 0.5,
        pair_prob: float = 0.7,
        start: str = "2025-01-01",
        days: int = 90,
        seed: int = 0,
        root: str | None = None,
        target: str | None = None,
    ) -> None:
        cfg = init_config(locals())
        super().__init__(root=root, target=target, **cfg)
        for k in ("num_users", "num_items", "num_interactions", "num_segments", "num_departments",
                  "categories_per_department", "subcategories_per_category", "num_brands", "days"):
            if int(cfg[k]) < 1:
                raise ConfigError(f"SyntheticShop({k}={cfg[k]}) must be >= 1; set dataset.{k}=1 or more")
        if num_pairs < 0 or 2 * num_pairs > num_items:
            raise ConfigError(
                f"SyntheticShop(num_pairs={num_pairs}) needs 0 <= 2*num_pairs <= num_items ({num_items}); "
                f"set dataset.num_pairs={num_items // 4}"
            )
        for k in ("segment_affinity", "in_category_prob", "cart_rate", "purchase_rate", "pair_prob"):
            if not 0.0 <= float(cfg[k]) <= 1.0:
                raise ConfigError(f"SyntheticShop({k}={cfg[k]}) must lie in [0, 1]; e.g. dataset.{k}=0.5")
        if mean_session_clicks < 1:
            raise ConfigError(f"SyntheticShop(mean_session_clicks={mean_session_clicks}) must be >= 1")
        self.cfg = cfg

    def load(self) -> ShopData:
        t0 = time.perf_counter()
        c = self.cfg
        rng = np.random.default_rng(int(c["seed"]))
        U, I, N, S = int(c["num_users"]), int(c["num_items"]), int(c["num_interactions"]), int(c["num_segments"])
        depts, cats, leaves, leaf_cat, cat_dept = _tree(
            int(c["num_departments"]), int(c["categories_per_department"]), int(c["subcategories_per_category"])
        )
        L, C = len(leaves), len(cats)

        # ---- items: leaf, popularity, brand, price, title
        item_leaf = np.concatenate([np.arange(min(I, L)), rng.integers(0, L, max(I - L, 0))])
        item_leaf = rng.permutation(item_leaf)
        item_cat = leaf_cat[item_leaf]
        pop = 1.0 / np.arange(1, I + 1, dtype=np.float64) ** float(c["zipf_exponent"])
        pop = pop[rng.permutation(I)]
        B = int(c["num_brands"])
        na, nb = len(_SYLLABLES_A), len(_SYLLABLES_B)
        brands = [_SYLLABLES_A[k % na] + _SYLLABLES_B[(k // na + 3 * k) % nb] + ("" if k < na * nb else str(k))
                  for k in range(B)]
        brand_dept = rng.integers(0, len(depts), B)
        # a brand mostly sells in its department; some items carry any brand
        item_dept = cat_dept[item_cat]
        by_dept = [np.flatnonzero(brand_dept == d) for d in range(len(depts))]
        item_brand = rng.integers(0, B, I)
        own = rng.random(I) < 0.85
        for d in range(len(depts)):
            sel = np.flatnonzero(own & (item_dept == d))
            if len(by_dept[d]) and len(sel):
                item_brand[sel] = by_dept[d][rng.integers(0, len(by_dept[d]), len(sel))]
        leaf_price = np.exp(rng.normal(np.log(20.0), 1.0, L))
        price = np.round(leaf_price[item_leaf] * np.exp(rng.normal(0.0, 0.3, I)), 2)
        adj = rng.integers(0, len(_ADJECTIVES), I)
        leaf_word = [x.rsplit(">", 1)[1] for x in leaves]
        brand_arr = np.asarray(brands, dtype=object)
        titles = [f"{brands[b]} {leaf_word[lf]} {_ADJECTIVES[a]}" for b, lf, a in zip(item_brand, item_leaf, adj)]
        item_attrs = pd.DataFrame(
            {
                "category": np.asarray(leaves, dtype=object)[item_leaf],
                "price": price.astype(np.float64),
                "brand": brand_arr[item_brand],
                "title": np.asarray(titles, dtype=object),
            }
        )

        # ---- complementary pairs: popular anchor + item of a sibling subcategory, each item in one pair at most
        pairs = self._pairs(rng, int(c["num_pairs"]), item_leaf, leaf_cat, pop)
        partner = np.full(I, -1, dtype=np.int64)
        if len(pairs):
            partner[pairs[:, 0]] = pairs[:, 1]
            partner[pairs[:, 1]] = pairs[:, 0]

        # ---- users: segments with category preferences, attributes
        seg_of_user = rng.integers(0, S, U)
        nonempty = np.bincount(item_cat, minlength=C) > 0
        k_pref = min(int(c["categories_per_segment"]), int(nonempty.sum()))
        seg_cats = np.stack([rng.choice(np.flatnonzero(nonempty), k_pref, replace=False) for _ in range(S)])
        aff = float(c["segment_affinity"])
        pref = np.where(nonempty, (1.0 - aff) / nonempty.sum(), 0.0)[None, :].repeat(S, 0)
        for s in range(S):
            pref[s, seg_cats[s]] += aff / k_pref
        pref /= pref.sum(1, keepdims=True)
        age_p = rng.dirichlet(np.full(len(AGE_BANDS), 0.7), S)
        u_age = np.empty(U, dtype=np.int64)
        for s in range(S):
            idx = np.flatnonzero(seg_of_user == s)
            u_age[idx] = rng.choice(len(AGE_BANDS), len(idx), p=age_p[s])
        user_attrs = pd.DataFrame(
            {
                "age_band": np.asarray(AGE_BANDS, dtype=object)[u_age],
                "region": np.asarray(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), U)],
                "segment": np.asarray([f"segment_{s}" for s in range(S)], dtype=object)[seg_of_user],
            }
        )
        activity = np.exp(rng.normal(0.0, 1.0, U))
        activity /= activity.sum()

        # ---- sessions -> clicks -> carts -> purchases (+ partners), enough rows, then the first N
        order = np.argsort(item_cat, kind="stable")
        cum = np.cumsum(pop[order])
        cstart = np.searchsorted(item_cat[order], np.arange(C), side="left")
        cend = np.searchsorted(item_cat[order], np.arange(C), side="right")
        lo = np.where(cstart > 0, cum[np.maximum(cstart - 1, 0)], 0.0)
        hi = np.where(cend > 0, cum[np.maximum(cend - 1, 0)], 0.0)
        cum_all = np.cumsum(pop)
        per_session = float(c["mean_session_clicks"]) * (1 + float(c["cart_rate"]) * (1 + float(c["purchase_rate"])))
        start = int(pd.Timestamp(str(c["start"])).timestamp())
        span = int(c["days"]) * 86400
        M = int(np.ceil(N / per_session * 1.15)) + 8
        while True:
            rows = self._sessions(rng, M, U, I, S, activity, seg_of_user, pref, lo, hi, cum, order, cum_all,
                                  partner, start, span)
            if len(rows[0]) >= N:
                break
            M = int(M * 1.5) + 8
        user, item, ev, ts, sess = (r[:N] for r in rows)
        # purchases of one session form a basket; number baskets 0.. in order of appearance
        is_p = ev == 2
        basket = np.full(N, -1, dtype=np.int64)
        _, basket[is_p] = np.unique(sess[is_p], return_inverse=True)
        srt = np.argsort(ts, kind="stable")
        inter = pd.DataFrame(
            {
                "user": user[srt],
                "item": item[srt],
                "event": _event_column(ev[srt]),
                "timestamp": ts[srt],
                "basket": basket[srt],
                "weight": np.ones(N, dtype=np.float32),
            }
        )
        counts = {e: int((ev == k).sum()) for k, e in enumerate(EVENTS)}
        shop = ShopData(
            name=self.name,
            interactions=inter,
            users=IdMap([f"u{k}" for k in range(U)], name="user"),
            items=IdMap([f"i{k}" for k in range(I)], name="item"),
            user_attrs=user_attrs,
            item_attrs=item_attrs,
            attr_kinds={
                "user": {"age_band": "categorical", "region": "categorical", "segment": "categorical"},
                "item": {"category": "categorical", "price": "numeric", "brand": "categorical", "title": "text"},
            },
            has_time=True,
            sources=[],
            planted={
                "complementary_pairs": pairs,
                "user_segment": seg_of_user.astype(np.int64),
                "segment_categories": seg_cats.astype(np.int64),
                "item_category": item_cat.astype(np.int64),
            },
            info={
                "events": counts,
                "num_baskets": int(basket.max() + 1) if N else 0,
                "categories": cats,
                "departments": depts,
                "seconds": round(time.perf_counter() - t0, 3),
            },
        )
        log.info("synthetic shop: %d users, %d items, %s, %.2fs", U, I, counts, shop.info["seconds"])
        return shop.check()

    @staticmethod
    def _pairs(rng: np.random.Generator, P: int, item_leaf: np.ndarray, leaf_cat: np.ndarray,
               pop: np.ndarray) -> np.ndarray:
        I = len(item_leaf)
        taken = np.zeros(I, dtype=bool)
        cat_of_item = leaf_cat[item_leaf]
        # weighted order without replacement (Gumbel top-k): popular items tend to come first
        anchors = np.argsort(-(np.log(pop) + rng.gumbel(size=I)))
        out: list[tuple[int, int]] = []
        # partners are drawn from a sibling leaf (same category, other subcategory) of the anchor
        for a in anchors:
            if len(out) >= P:
                break
            if taken[a]:
                continue
            cand = np.flatnonzero((cat_of_item == cat_of_item[a]) & (item_leaf != item_leaf[a]) & ~taken)
            if len(cand) == 0:
                continue
            b = int(cand[rng.integers(0, len(cand))])
            taken[a] = taken[b] = True
            out.append((int(a), b))
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)

    def _sessions(self, rng, M, U, I, S, activity, seg_of_user, pref, lo, hi, cum, order, cum_all, partner,
                  start, span):
        c = self.cfg
        s_user = np.searchsorted(np.cumsum(activity), rng.random(M) * activity.sum(), side="right")
        s_user = np.minimum(s_user, U - 1)
        first = min(U, M)  # every user gets one session first (kept when the log is cut to N rows)
        s_user[:first] = rng.permutation(U)[:first]
        s_seg = seg_of_user[s_user]
        cpref = np.cumsum(pref, axis=1)
        s_cat = np.empty(M, dtype=np.int64)
        for s in range(S):
            idx = np.flatnonzero(s_seg == s)
            s_cat[idx] = np.searchsorted(cpref[s], rng.random(len(idx)) * cpref[s, -1], side="right")
        s_cat = np.minimum(s_cat, len(lo) - 1)
        s_start = start + rng.integers(0, span, M)
        k = 1 + rng.poisson(float(c["mean_session_clicks"]) - 1.0, M)
        T = int(k.sum())
        c_sess = np.repeat(np.arange(M), k)
        c_pos = np.arange(T) - np.repeat(np.cumsum(k) - k, k)
        in_cat = rng.random(T) < float(c["in_category_prob"])
        u = rng.random(T)
        cat = s_cat[c_sess]
        tgt_cat = lo[cat] + u * (hi[cat] - lo[cat])
        pos_cat = np.searchsorted(cum, tgt_cat, side="right")
        pos_cat = np.minimum(pos_cat, len(order) - 1)
        item_in = order[pos_cat]
        item_any = np.minimum(np.searchsorted(cum_all, u * cum_all[-1], side="right"), I - 1)
        c_item = np.where(in_cat, item_in, item_any)
        c_ts = s_start[c_sess] + c_pos * 60 + rng.integers(0, 50, T)
        carted = rng.random(T) < float(c["cart_rate"])
        bought = carted & (rng.random(T) < float(c["purchase_rate"]))
        p_ts_sess = s_start + k * 60 + 30
        # partners of bought items join the basket (clicked, carted and bought at checkout)
        b_idx = np.flatnonzero(bought)
        has_p = partner[c_item[b_idx]] >= 0
        fire = has_p & (rng.random(len(b_idx)) < float(c["pair_prob"]))
        x_sess = c_sess[b_idx[fire]]
        x_item = partner[c_item[b_idx[fire]]]
        x_ts = p_ts_sess[x_sess] - 20
        # purchases: unique (session, item)
        p_sess = np.concatenate([c_sess[bought], x_sess])
        p_item = np.concatenate([c_item[bought], x_item])
        key = np.unique(p_sess * np.int64(I) + p_item)
        p_sess, p_item = key // I, key % I
        sess = np.concatenate([c_sess, x_sess, c_sess[carted], x_sess, p_sess])
        item = np.concatenate([c_item, x_item, c_item[carted], x_item, p_item])
        ev = np.concatenate([
            np.zeros(T + len(x_sess), np.int8), np.ones(int(carted.sum()) + len(x_sess), np.int8),
            np.full(len(p_sess), 2, np.int8),
        ])
        ts = np.concatenate([c_ts, x_ts - 10, c_ts[carted] + 20, x_ts, p_ts_sess[p_sess]])
        srt = _order_by(sess, ts)
        sess, item, ev, ts = sess[srt], item[srt], ev[srt], ts[srt]
        return s_user[sess].astype(np.int64), item.astype(np.int64), ev, ts.astype(np.int64), sess
