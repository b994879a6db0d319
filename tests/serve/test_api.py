"""The HTTP API: error mapping through FastAPI's test client, and every endpoint through a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hetrec.serve.api import create_app


@pytest.fixture(scope="module")
def client(model) -> TestClient:
    return TestClient(create_app(model=model), raise_server_exceptions=False)


def test_errors_are_4xx_with_a_message(client):
    r = client.get("/similar", params={"item": "i99"})
    assert r.status_code == 404 and "i99" in r.json()["detail"] and r.json()["id"] == "i99"
    for k in (-1, 1001, "ten"):
        r = client.get("/recommend", params={"user": "u00", "k": k})
        assert r.status_code == 422, k
        assert "k" in r.json()["detail"]
    r = client.get("/recommend", params={"user": "u00", "history": "i01"})
    assert r.status_code == 422 and "exactly one" in r.json()["detail"]
    r = client.get("/recommend")
    assert r.status_code == 422
    r = client.get("/similar")  # missing item
    assert r.status_code == 422 and "item" in r.json()["detail"]
    r = client.post("/cold_start", json={"attributes": {"colour": "red"}})
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    r = client.post("/cold_start", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.get("/profile", params={"user": "ghost"})
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    r = client.get("/associations", params={"item": "i00", "alpha": 3})
    assert r.status_code == 422
    r = client.get("/similar", params={"item": "i00", "category": "Garden"})
    assert r.status_code == 404 and "Garden" in r.json()["detail"]


def test_openapi_documents_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    assert {"/health", "/recommend", "/similar", "/associations", "/cold_start", "/profile"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run: Path):
    """`hetrec serve` as a real process on 127.0.0.1; yields its base URL."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hetrec.cli", "serve", "--run", str(tiny_run), "--port", str(port), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"hetrec serve exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail("hetrec serve did not answer /health within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# a real `hetrec serve` process on 127.0.0.1 (a few seconds: the process imports torch + DGL before /health)
def test_real_server_answers_every_endpoint(server):
    with httpx.Client(base_url=server, timeout=30) as c:
        h = c.get("/health").json()
        assert h["status"] == "ok" and h["num_items"] == 30 and h["num_users"] == 45
        r = c.get("/recommend", params={"user": "u00", "k": 3}).json()
        assert len(r["items"]) == 3 and r["fallback"] is None and r["items"][0]["reason"]
        r = c.get("/recommend", params={"user": "stranger", "k": 3}).json()
        assert r["fallback"] == "popular"
        r = c.get("/recommend", params={"history": "i10,i11", "k": 2, "category": "Food"}).json()
        assert len(r["items"]) == 2 and r["method"] == "history"
        assert c.get("/recommend", params={"history": "", "k": 2}).json()["fallback"] == "popular"
        r = c.get("/recommend", params={"user": "u00", "k": 5, "in_stock": "i21,i22"}).json()
        assert {x["item"] for x in r["items"]} <= {"i21", "i22"}
        assert len(c.get("/similar", params={"item": "i11", "k": 100}).json()["items"]) == 29
        r = c.get("/associations", params={"item": "i00", "k": 2}).json()
        assert r["items"][0]["item"] == "i25" and r["items"][0]["evidence"]["path"]["type"] == "co_bought"
        r = c.post("/cold_start", json={"attributes": {"category": "Tools", "price": 22.0}, "k": 3, "k_users": 2})
        assert r.status_code == 200 and r.json()["method"] == "encoder" and len(r.json()["users"]) == 2
        assert c.get("/profile", params={"user": "u01"}).json()["top_categories"][0]["category"] == "Food>Bakery"
        # bad input never takes the server down
        assert c.get("/similar", params={"item": "i99"}).status_code == 404
        assert c.get("/recommend", params={"user": "u00", "k": -5}).status_code == 422
        assert c.get("/recommend", params={"user": "u00", "k": "\x00"}).status_code == 422
        assert c.post("/cold_start", content=b"{", headers={"content-type": "application/json"}).status_code == 422
        assert c.post("/cold_start", json={"attributes": {"price": "cheap"}}).status_code == 422
        assert c.get("/nope").status_code == 404
        assert c.get("/health").json()["status"] == "ok"
