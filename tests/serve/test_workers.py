"""`hetrec serve --workers 2`: the index cache is filled once before the workers start, the workers map it, and they
answer as the in-process model does; a damaged artifact stops the command with exit status 2 and its message.
Real processes (each imports torch): slow."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_share_the_cache_and_answer_as_the_model(tiny_run, model):
    port = _port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hetrec.cli", "serve", "--run", str(tiny_run), "--port", str(port),
                             "--workers", "2", "--table-k", "7"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "no /ready within 300 s"
            time.sleep(0.2)
        cache = tiny_run / "artifact" / "index_cache"
        assert len(list(cache.glob("table_ids_*.npy"))) >= 1 and not list(cache.glob(".*.tmp"))
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(60):  # enough requests to reach both workers
                u = model.users.raw_ids[i % len(model.users)]
                got = c.get("/recommend", params={"user": u, "k": 1 + i % 9}).json()
                assert got == model.recommend(user=u, k=1 + i % 9)
            assert c.get("/health").json()["table"] == {"users": len(model.users), "k": 7}
    finally:
        proc.terminate()
        proc.wait(30)


def test_workers_with_a_damaged_artifact_exit_2_with_the_message(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    emb = run / "artifact" / "embeddings.pt"
    emb.write_bytes(emb.read_bytes()[:100])
    res = subprocess.run([sys.executable, "-m", "hetrec.cli", "serve", "--run", str(run), "--port", str(_port()),
                          "--workers", "2"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2
    assert "embeddings.pt" in res.stderr and "Traceback" not in res.stderr
