"""The serving fast paths answer exactly as the slow ones: the precomputed top-K table vs the live search, the ASGI
fast path of GET /recommend vs FastAPI's route, the vectorised reasons vs a plain reference; plus the request limits,
/ready and the cold-start number checks."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hetrec.serve.api import create_app
from hetrec.serve.evidence import rnd
from hetrec.serve.explain import explain_recs, item_row
from hetrec.serve.front import Limits
from hetrec.serve.model import ServingModel
from hetrec.train.artifact import Artifact


def reference_explain_recs(model, ids, scores, hist):
    """The reasons as first written (one item at a time, scipy row slicing): the vectorised version must match."""
    ev_store = model.evidence
    rows = []
    sims = (model.item_unit[ids][:, None, :] * model.item_unit[hist][None, :, :]).sum(-1) if len(hist) else None
    co_hist = None
    if ev_store.co and len(hist) and len(ids):
        sub = ev_store.co_sym[hist].tocoo()
        order = np.argsort(ids, kind="stable")
        sid = ids[order]
        p = np.minimum(np.searchsorted(sid, sub.col), len(sid) - 1)
        hit = sid[p] == sub.col
        co_hist = np.zeros((len(hist), len(ids)))
        co_hist[sub.row[hit], order[p[hit]]] = sub.data[hit]
    for r, (i, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
        row = item_row(model, i, r, s)
        parts, ev = [], {}
        if sims is not None:
            j = int(np.argmax(sims[r - 1]))
            h = int(hist[j])
            ev["closest_history_item"] = str(model.items.raw_ids[h])
            ev["similarity"] = rnd(sims[r - 1, j])
            parts.append(f"because you {model.verb} {model._label(h)} (similar, {sims[r - 1, j]:.2f})")
            if co_hist is not None and co_hist[:, r - 1].max() > 0:
                best = int(hist[int(np.argmax(co_hist[:, r - 1]))])
                pe = ev_store.pair(best, i)
                if pe is not None:
                    ev["co_bought"] = {"with": str(model.items.raw_ids[best]), **pe}
                    parts.append(f"often bought together with {model._label(best)}: {pe['count']} co-purchases, "
                                 f"lift {pe['lift']:.1f}")
        else:
            parts.append("matches your taste profile (user embedding)")
        row["reason"] = "; ".join(parts)
        row["evidence"] = ev
        rows.append(row)
    return rows


def test_vectorised_reasons_equal_the_reference(model):
    rng = np.random.default_rng(0)
    seen_co = 0
    for u in range(len(model.users)):
        hist = model.evidence.history(u)
        for h in (hist, rng.choice(len(model.items), 4), np.array([3, 3, 7]), np.zeros(0, np.int64)):
            ids, scores = model.search("recommend", model.user_query[u], 8, exclude=h)
            got = explain_recs(model, ids, scores, h)
            assert got == reference_explain_recs(model, ids, scores, h)
            seen_co += sum("co_bought" in r["evidence"] for r in got)
    assert seen_co > 0  # the co-purchase branch was exercised
    ids, scores = model.search("recommend", model.user_query[0], 5)
    bare = explain_recs(model, ids, scores, model.evidence.history(0), explain=False)
    assert [r["item"] for r in bare] == [model.items.raw_ids[i] for i in ids] and "reason" not in bare[0]


def test_reason_links_of_the_first_rows_do_not_depend_on_the_rows_after():
    """The table computes the links of K rows, an answer those of k <= K rows: the first k must be equal to the last
    bit (a BLAS matrix product rounds differently with the number of rows; the links sum each pair alike)."""
    from types import SimpleNamespace

    from hetrec.serve.explain import reason_links

    rng = np.random.default_rng(0)
    vec = rng.standard_normal((500, 64)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    m = SimpleNamespace(item_unit=vec, evidence=SimpleNamespace(co={}))
    ids, hist = rng.choice(500, 50, replace=False), rng.choice(500, 30, replace=False)
    full = reason_links(m, ids, hist)
    for n in (1, 3, 7, 20, 49):
        part = reason_links(m, ids[:n], hist)
        for a, b in zip(part, full):
            assert np.array_equal(a, b[:n]), n


@pytest.mark.parametrize("index, opts", [("exact", {}), ("ivf", {"nlist": 3, "nprobe": 2}),
                                         ("hnsw", {"m": 4, "ef_search": 4})])
def test_top_k_table_equals_the_live_path(tiny_run: Path, tmp_path, index, opts):
    art = Artifact.load(tiny_run / "artifact")
    live = ServingModel(art, index=index, index_options=opts, table_k=6)
    tabled = ServingModel(art, index=index, index_options=opts, table_k=6, cache_dir=tmp_path).warm_up()
    assert live.table is None and tabled.table is not None and tabled.table.k == 6
    again = ServingModel(art, index=index, index_options=opts, table_k=6, cache_dir=tmp_path).warm_up()
    assert np.array_equal(again.table.ids, tabled.table.ids)  # read back from the cache folder
    assert list(tmp_path.glob("table_ids_*.npy")) and not list(tmp_path.glob(".*.tmp"))
    for u in live.users.raw_ids:
        for k in (0, 1, 3, 6, 7, 29):
            assert tabled.recommend(user=u, k=k) == live.recommend(user=u, k=k), (u, k)
        for kw in ({"category": "Food"}, {"allowed_items": ["i01", "i20", "i21"]}, {"exclude_seen": False}):
            assert tabled.recommend(user=u, k=4, **kw) == live.recommend(user=u, k=4, **kw)
    if index == "exact":  # the exact top-k is the exact top-K's prefix: same items as a k-sized search
        for u in range(len(live.users)):
            ids, _ = live.search("recommend", live.user_query[u], 3, exclude=live.evidence.history(u))
            assert [r["item"] for r in tabled.recommend(user=live.users.raw_ids[u], k=3)["items"]] == \
                [live.items.raw_ids[i] for i in ids]


QUERIES = [  # (query string, a word the error message must hold; None: 200)
    ("user=u00&k=3", None), ("user=u07", None), ("user=u01&k=0", None), ("user=u01&k=1000", None),
    ("user=u02&k=12&explain=false", None), ("user=u03&k=4&exclude_seen=no", None),
    ("user=u03&k=4&exclude_seen=0", None), ("user=stranger&k=2", None), ("history=i10,i11&k=2", None),
    ("history=i10,%20i11,,&k=2&category=Food", None), ("history=&k=2", None),
    ("user=u00&k=5&in_stock=i21,i22,zz", None), ("user=u00&k=+4", None), ("user=u00&k=%2010%20", None),
    ("user=u00&k=1_0", None), ("user=u00&k=4.0", None), ("user=u00&user=u01&k=2", None),
    ("user=u00&category=Food%3EBakery&k=3", None), ("user=u00&foo=bar&k=2", None),
    ("user=u00&k=-1", "k"), ("user=u00&k=1001", "k"), ("user=u00&k=ten", "ten"), ("user=u00&k=", "k"),
    ("user=u00&k=4.5", "k"), ("user=u00&history=i01", "exactly one"), ("", "exactly one"), ("k=3", "exactly one"),
    ("history=i99&k=2", "i99"), ("user=u00&category=Toys", "Toys"), ("user=u00&explain=maybe", "explain"),
    ("user=u00&exclude_seen=", "exclude_seen"), ("history=" + ",".join(["i01"] * 6), "history"),
    ("user=" + "x" * 600, "512"), ("history=i01," + "y" * 600, "512"),
]


@pytest.fixture(scope="module")
def clients(model):
    limits = Limits(max_history=5)
    fast = TestClient(create_app(model=model, limits=limits), raise_server_exceptions=False)
    slow = TestClient(create_app(model=model, limits=limits, fast_path=False), raise_server_exceptions=False)
    return fast, slow


@pytest.mark.parametrize("query, culprit", QUERIES)
def test_fast_path_answers_as_the_fastapi_route(clients, query, culprit):
    fast, slow = clients
    a, b = fast.get(f"/recommend?{query}"), slow.get(f"/recommend?{query}")
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers["content-type"] == b.headers["content-type"] == "application/json"
    if culprit is None:
        assert a.status_code == 200 and a.content == b.content
    else:
        assert 400 <= a.status_code < 500 and len(a.text) < 2000
        assert culprit in a.json()["detail"] and culprit in b.json()["detail"], (a.text, b.text)


def test_limits_answer_4xx_naming_the_limit(clients, model):
    fast, _ = clients
    r = fast.get("/recommend", params={"history": ",".join(f"i{i:02d}" for i in range(8)), "k": 2})
    assert r.status_code == 422 and "8 items" in r.json()["detail"] and "limit of 5" in r.json()["detail"]
    r = fast.get("/recommend", params={"user": "u" * 5000})
    assert r.status_code == 422 and "512" in r.json()["detail"] and len(r.text) < 1000
    r = fast.get("/similar", params={"item": "z" * 5000})
    assert r.status_code == 404 and len(r.text) < 3000  # the unknown id is cut, not echoed whole
    small = TestClient(create_app(model=model, limits=Limits(max_body=1000)), raise_server_exceptions=False)
    body = b'{"attributes": {"category": "' + b"x" * 5000 + b'"}}'
    r = small.post("/cold_start", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and f"{len(body)} bytes" in r.json()["detail"] and "1000" in r.json()["detail"]
    assert "xxxx" not in r.text

    def chunks():  # no content-length: counted while read
        for _ in range(10):
            yield b"x" * 500

    r = small.post("/cold_start", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "1000 bytes" in r.json()["detail"]
    r = small.post("/cold_start", json={"attributes": {"category": "Tools"}, "k": 2})
    assert r.status_code == 200
    r = fast.post("/cold_start", content=b'{"attributes": [' + b"1," * 5000 + b"1]}",
                  headers={"content-type": "application/json"})
    assert r.status_code == 422 and len(r.text) < 2000  # a bad body is not echoed back whole
    with pytest.raises(ValueError, match="max_body"):
        Limits(max_body=0)


@pytest.mark.parametrize("value, word", [(1e30, "range"), (float("nan"), "finite"), (float("inf"), "finite"),
                                         (-1e12, "range")])
def test_cold_start_refuses_absurd_numbers(clients, value, word):
    fast, _ = clients
    body = '{"attributes": {"category": "Tools", "price": %s}, "k": 3}' % (
        "NaN" if value != value else "Infinity" if value == float("inf") else repr(value))
    r = fast.post("/cold_start", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422 and "price" in r.json()["detail"] and word in r.json()["detail"], r.text
    r = fast.post("/cold_start", json={"attributes": {"category": "Tools", "price": 30.0}, "k": 3})
    assert r.status_code == 200 and any(x["score"] != 0 for x in r.json()["similar"])


def test_ready_and_health(tiny_run, tmp_path):
    with TestClient(create_app(tiny_run, background=True)) as c:
        for _ in range(600):
            if c.get("/ready").status_code == 200:
                break
            code = c.get("/recommend", params={"user": "u00"}).status_code
            # 503 while loading; 200 only if the load finished between the two requests
            assert code == 503 or (code == 200 and c.get("/ready").status_code == 200), code
            time.sleep(0.05)
        assert c.get("/ready").json() == {"ready": True}
        h = c.get("/health").json()
        assert h["status"] == "ok" and h["ready"] and h["table"] == {"users": 45, "k": 50}
        assert h["limits"]["max_k"] == 1000 and c.get("/recommend", params={"user": "u00"}).status_code == 200
    broken = tmp_path / "run" / "artifact"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    with TestClient(create_app(tmp_path / "run", background=True)) as c:
        for _ in range(600):
            if c.get("/health").json()["status"] != "loading":
                break
            time.sleep(0.05)
        h = c.get("/health")
        assert h.status_code == 200 and h.json()["status"] == "failed" and "manifest.json" in h.json()["error"]
        r = c.get("/ready")
        assert r.status_code == 503 and "failed to load" in r.json()["detail"] and "manifest.json" in r.json()["detail"]
        assert c.get("/recommend", params={"user": "u00"}).status_code == 503
        assert c.get("/similar", params={"item": "i00"}).status_code == 503
