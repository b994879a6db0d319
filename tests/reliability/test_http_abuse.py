"""HTTP abuse against a real uvicorn server (in a thread of this process, on 127.0.0.1): wrong types, huge k, unknown
and very long ids, oversized bodies, and concurrent load. Every bad request gets a 4xx with a short message naming
the culprit, nothing is echoed back whole, and the server keeps answering; concurrent answers equal sequential ones."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from hetrec.serve.api import create_app
from hetrec.serve.front import Limits


def _tiny_artifact_builder():
    spec = importlib.util.spec_from_file_location(
        "_serve_artifacts_abuse", Path(__file__).resolve().parents[1] / "serve" / "artifacts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.build_artifact


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    run = _tiny_artifact_builder()(tmp_path_factory.mktemp("abuse_run"), steps=20)
    app = create_app(run, limits=Limits(max_body=64 * 1024, max_history=50))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    srv.should_exit = True
    thread.join(10)


CASES = [  # (method, path, params or body, status, a word the message must hold)
    ("get", "/recommend", {"user": "u00", "k": "ten"}, 422, "ten"),
    ("get", "/recommend", {"user": "u00", "k": "1e9"}, 422, "k"),
    ("get", "/recommend", {"user": "u00", "k": str(10**30)}, 422, "k"),
    ("get", "/recommend", {"user": "u00", "k": "1001"}, 422, "1000"),
    ("get", "/recommend", {"user": "u00", "k": "-5"}, 422, "k"),
    ("get", "/recommend", {"user": "u00", "exclude_seen": "perhaps"}, 422, "exclude_seen"),
    ("get", "/recommend", {"user": "u00", "history": "i01"}, 422, "exactly one"),
    ("get", "/recommend", {"history": ",".join(["i01"] * 51)}, 422, "50"),
    ("get", "/recommend", {"history": "i01,nope"}, 404, "nope"),
    ("get", "/recommend", {"user": "u00", "category": "Nowhere"}, 404, "Nowhere"),
    ("get", "/recommend", {"user": "u" * 4000}, 422, "512"),
    ("get", "/recommend", {"user": "\x00\xff<script>"}, 200, None),  # an unknown user: popular items
    ("get", "/similar", {"item": "i" * 4000}, 404, "4000 characters"),
    ("get", "/similar", {"item": "i00", "k": "1000000"}, 422, "k"),
    ("get", "/similar", {"item": ["i00", "i01"]}, 200, None),  # repeated: the last one counts
    ("get", "/associations", {"item": "i00", "alpha": "nan"}, 422, "alpha"),
    ("get", "/associations", {"item": "i00", "alpha": "0.5", "k": "abc"}, 422, "abc"),
    ("get", "/profile", {"user": "ghost", "top": "0"}, 422, "top"),
    ("post", "/cold_start", b'{"attributes": {"price": "cheap"}}', 422, "price"),
    ("post", "/cold_start", b'{"attributes": {"price": 1e30, "category": "Tools"}}', 422, "price"),
    ("post", "/cold_start", b'{"attributes": {"price": NaN, "category": "Tools"}}', 422, "price"),
    ("post", "/cold_start", b'{"attributes": {"price": -Infinity, "category": "Tools"}}', 422, "price"),
    ("post", "/cold_start", b'{"attributes": "Tools"}', 422, "attributes"),
    ("post", "/cold_start", b'{"attributes": {"category": "Tools"}, "k": "many"}', 422, "many"),
    ("post", "/cold_start", b'{"attributes": {"category": "Tools"}, "k": 100000}', 422, "k"),
    ("post", "/cold_start", b"[1, 2, 3]", 422, "body"),
    ("post", "/cold_start", b"\xff\xfe\x00garbage", 422, "body"),
    ("post", "/cold_start", b'{"attributes": {"category": "' + b"x" * 200_000 + b'"}}', 413, "65536"),
    ("post", "/recommend", b"{}", 405, None),
    ("get", "/../../etc/passwd", None, 404, None),
]


@pytest.mark.parametrize("method, path, arg, status, word", CASES, ids=[f"{c[0]}{c[1]}-{i}" for i, c in
                                                                         enumerate(CASES)])
def test_bad_request_gets_a_short_4xx_naming_the_culprit(server, method, path, arg, status, word):
    with httpx.Client(base_url=server, timeout=30) as c:
        if method == "get":
            r = c.get(path, params=arg)
        else:
            r = c.post(path, content=arg, headers={"content-type": "application/json"})
        assert r.status_code == status, r.text[:500]
        assert len(r.content) < 20_000  # nothing echoed back whole
        if word is not None:
            assert word in r.json()["detail"], r.text[:500]
        assert c.get("/health").json()["status"] == "ok"


def test_a_50_mb_body_is_refused_unread_and_not_echoed(server):
    body = b'{"attributes": {"category": "' + b"A" * (50 * 1024 * 1024) + b'"}}'
    with httpx.Client(base_url=server, timeout=60) as c:
        try:
            r = c.post("/cold_start", content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError:  # the server may close the connection before the client has sent everything
            r = None
        if r is not None:
            assert r.status_code == 413 and "65536" in r.json()["detail"] and len(r.content) < 1000
        assert c.get("/ready").status_code == 200  # still serving


def test_concurrent_load_answers_as_sequential(server):
    users = [f"u{i:02d}" for i in range(45)] + ["stranger"]
    reqs = [("/recommend", {"user": users[i % len(users)], "k": str(1 + i % 12)}) for i in range(120)]
    reqs += [("/recommend", {"history": f"i{i % 30:02d},i{(i * 7) % 30:02d}", "k": "5"}) for i in range(30)]
    reqs += [("/similar", {"item": f"i{i % 30:02d}", "k": "4"}) for i in range(30)]
    reqs += [("/associations", {"item": f"i{i % 30:02d}", "k": "3"}) for i in range(20)]
    assert len(reqs) == 200
    with httpx.Client(base_url=server, timeout=60) as c:
        sequential = [c.get(p, params=q) for p, q in reqs]
    assert all(r.status_code == 200 for r in sequential)

    local = threading.local()

    def get(pq):
        if not hasattr(local, "client"):  # one connection per thread: 8 in flight at once
            local.client = httpx.Client(base_url=server, timeout=60)
        return local.client.get(pq[0], params=pq[1])

    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(get, reqs))
    assert [r.status_code for r in concurrent] == [200] * 200
    assert [r.json() for r in concurrent] == [r.json() for r in sequential]
