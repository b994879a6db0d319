"""What keeps a trainer of ``train.mode=distributed`` small: id embeddings on DGL's servers (``DistEmbedding`` + DGL's
sparse Adam, :mod:`hetrec.dist.embedding`) and, on ranks > 0, a view of the data built from the partition instead of
the whole ``graph_data/`` (:mod:`hetrec.dist.view`). Checked in DGL's standalone mode (one part, no servers), in a
fresh process (tests/dist/standalone_run.py): DGL initialises its distributed module once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("standalone")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "dist" / "standalone_run.py"), str(tmp)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_id_embeddings_on_the_servers_read_and_write_in_original_ids(facts):
    e = facts["embedding"]
    assert e["no_dense_embedding"]  # no replica left for DDP
    assert e["keys_kept"] and e["state_equal_init"]  # the state dict still carries the full tables, initial rows
    assert e["stored_permuted"]  # the servers hold row i of node i at its shuffled id
    assert e["forward_rows"]  # a lookup by original id reads that node's row
    assert e["moved_rows"] == [0, 3, 7] and e["user_unchanged"]  # sparse: only the rows of the step move
    assert e["adam_steps"] == [1.0, 1.0, 1.0]  # DGL's SparseAdam counted one step for each of them
    assert e["loaded_back"] and e["state_reset"] == 0.0  # load_state_dict / load_sparse_state push to the servers
    assert e["reader_state_keys"] == []  # ranks > 0 leave the tables out of their state (rank 0 writes them)


def test_the_view_of_ranks_above_0_builds_the_same_model_and_objective(facts):
    assert facts["same_parameters"] and facts["same_init"]  # DDP checks shapes; the same seed, the same start
    assert facts["same_positives"] == [True, True]  # target and co_bought (aux) positives of the samplers
    assert facts["same_feature_shapes"] and facts["view_feature_bytes"] < 4096  # placeholders, no rows
    assert facts["view_edges"] > 0  # the aux relation's edges, read from the servers; the rest is empty
    assert facts["edge_maps_read"] == 0  # a trainer reads the node id maps only


def test_dist_trainer_trains_checkpoints_and_resumes_the_server_side_embeddings(facts):
    assert facts["sparse"] and facts["ckpt_has_rows"] == [150, 64]  # full rows + sparse Adam state in the checkpoint
    assert facts["rows_trained"] and facts["epoch1"] == 1
    assert facts["local_batch"] == 1024  # one trainer: the global batch
    assert facts["resumed_from"] == 1 and facts["epochs"] == 2
    assert facts["emb_rows"] == 150 and 0.0 < facts["recall20"] <= 1.0
