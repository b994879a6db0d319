"""Run-folder guards: resume refuses another config (naming the keys), a failed rerun keeps a finished run's results,
one writer per folder, and checkpoints that are checked and cannot run code."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hetrec.io import DamagedFileError, RunFolderBusy, run_lock, sha256_file
from hetrec.train import app
from hetrec.train.checkpoint import load_checkpoint, save_checkpoint
from hetrec.train.run_folder import RunConfigMismatch, check_run_folder, record_failure

TINY = ["dataset.num_users=120", "dataset.num_items=60", "dataset.num_interactions=4000", "dataset.num_pairs=10",
        "train.max_epochs=2", "train.progress=false", "node_input.dim=16", "encoder.hidden_dim=16",
        "encoder.out_dim=16"]


def _cfg(tmp_path, overrides):
    from hydra import compose, initialize_config_dir

    from hetrec.registry import register_configs

    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *overrides])


def test_resume_with_another_config_is_refused_naming_the_keys(tmp_path):
    run = tmp_path / "run"
    cfg = _cfg(tmp_path, TINY)
    check_run_folder(cfg, run)
    app.train(cfg, run)
    check_run_folder(_cfg(tmp_path, TINY + ["train.num_threads=1"]), run)  # free keys may change
    changed = _cfg(tmp_path, TINY + ["graph.split.seed=7", "encoder.hidden_dim=8"])
    with pytest.raises(RunConfigMismatch) as e:
        check_run_folder(changed, run)
    msg = str(e.value)
    assert "graph.split.seed: " in msg and "-> 7" in msg and "encoder.hidden_dim" in msg and "2 key(s)" in msg
    assert "hydra.run.dir" in msg and "weight" not in msg and len(msg) < 1000  # keys, not tensor names


def test_a_failed_first_attempt_does_not_pin_the_config(tmp_path):
    run = tmp_path / "run"
    check_run_folder(_cfg(tmp_path, TINY + ["train.lr=-1"]), run)  # failed before any result
    check_run_folder(_cfg(tmp_path, TINY), run)  # the fixed command may reuse the folder
    assert json.loads((run / "run_config.json").read_text())["train.lr"] != -1


def test_failed_rerun_keeps_the_finished_metrics(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    done = {"status": "ok", "test": {"recall@20": 0.5}}
    (run / "metrics.json").write_text(json.dumps(done))
    failed = record_failure(run, ValueError("boom"), {"seed": 0})
    assert failed["status"] == "failed" and json.loads((run / "metrics.json").read_text()) == done
    assert "ValueError: boom" in (run / "error.txt").read_text()
    (run / "metrics.json").unlink()  # without a finished run the failure is recorded
    record_failure(run, ValueError("boom"), {"seed": 0})
    assert json.loads((run / "metrics.json").read_text())["status"] == "failed"


def test_one_writer_per_run_folder(tmp_path):
    with run_lock(tmp_path / "run"):
        with pytest.raises(RunFolderBusy, match=f"run folder {tmp_path / 'run'} is in use.*pid {os.getpid()}"):
            with run_lock(tmp_path / "run"):
                pass
    with run_lock(tmp_path / "run"):  # released on exit
        pass


def test_checkpoint_is_weights_only_and_checked(tmp_path):
    p = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 3, "w": torch.ones(4), "rng": {"x": (1, 2)}}, p, "h1")
    assert torch.load(p, weights_only=True)["epoch"] == 3
    assert load_checkpoint(p, config_hash="h1")["epoch"] == 3
    with pytest.raises(DamagedFileError, match="another config"):
        load_checkpoint(p, config_hash="h2")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedFileError, match=r"checkpoint\.pt: has \d+ bytes.*truncated.*delete checkpoint\.pt"):
        load_checkpoint(p)
    p.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(DamagedFileError, match="checkpoint.pt: content differs"):
        load_checkpoint(p)


def test_crafted_pickle_checkpoint_is_never_executed(tmp_path, pickle_payload):
    """Even with a manifest that vouches for it, a checkpoint whose unpickling would run code is refused."""
    p = tmp_path / "checkpoint.pt"
    payload, marker = pickle_payload
    save_checkpoint({"epoch": 1}, p)
    torch.save({"epoch": 1, "evil": payload}, p)
    rec = {"size": p.stat().st_size, "sha256": sha256_file(p)}
    m = json.loads((tmp_path / "checkpoint.json").read_text())
    (tmp_path / "checkpoint.json").write_text(json.dumps({**m, "accept": [rec]}))
    with pytest.raises(DamagedFileError, match="checkpoint.pt: cannot be read"):
        load_checkpoint(p)
    assert not marker.exists()
    p.write_bytes(pickle.dumps(payload))  # a plain pickle, no manifest entry: refused before parsing
    with pytest.raises(DamagedFileError):
        load_checkpoint(p)
    assert not marker.exists()


@pytest.mark.slow  # two hetrec-train processes (~30 s on the shared 2-core machine)
def test_cli_rerun_with_changed_config_is_refused_and_keeps_results(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    base = [sys.executable, "-m", "hetrec.train.app", *TINY, "train.num_threads=1", f"cache_dir={tmp_path / 'c'}",
            f"hydra.run.dir={run}"]
    first = subprocess.run(base, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    before = (run / "metrics.json").read_text()
    second = subprocess.run([*base, "graph.split.seed=7"], capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode != 0
    assert "graph.split.seed: 0 -> 7" in second.stderr and "node_input.embeddings" not in second.stderr
    assert (run / "metrics.json").read_text() == before  # the finished run's results are kept
    art = json.loads((run / "artifact" / "meta.json").read_text())
    assert art["command"].startswith("hetrec-train ") and f"hydra.run.dir={run}" in art["command"]


def test_truncate_log_keeps_checkpointed_epochs_and_drops_a_cut_last_line(tmp_path):
    """A run killed after logging epoch 3 (checkpoint at 2), in the middle of writing epoch 4's line."""
    import json

    from hetrec.train.checkpoint import truncate_log

    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps({"epoch": e, "loss": 1.0 / e}) + "\n" for e in (1, 2, 3)) + '{"epoch": 4, "lo')
    truncate_log(log, 2)
    assert [json.loads(ln)["epoch"] for ln in log.read_text().splitlines()] == [1, 2]
