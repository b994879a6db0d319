"""Damaged artifacts name the damaged file and the fix; nothing in an artifact folder can run code when loaded."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from hetrec.cli import main
from hetrec.io import DamagedFileError, write_manifest
from hetrec.serve import ServingModel
from hetrec.train.artifact import ARTIFACT_FORMAT, Artifact

FILES = ["embeddings.pt", "idmaps/user.json", "idmaps/item.json", "meta.json", "train_matrix.npz", "config.yaml",
         "co_bought.npz", "model.pt", "features.pt", "item_attrs.parquet", "feature_encoders.json",
         "feature_encoders.npz"]


@pytest.fixture
def art_copy(tiny_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst / "artifact"


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:  # flip one byte in the middle: same size, other content
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :])


@pytest.mark.parametrize("how", ["truncate", "corrupt"])
@pytest.mark.parametrize("name", FILES)
def test_damaged_file_is_named_with_the_fix(art_copy, name, how):
    assert (art_copy / name).exists(), sorted(p.name for p in art_copy.rglob("*"))
    _damage(art_copy / name, how)
    with pytest.raises(DamagedFileError) as e:
        Artifact.load(art_copy)
    msg = str(e.value)
    assert str(art_copy / name) in msg and e.value.path == art_copy / name
    assert ("truncated" if how == "truncate" else "corrupted") in msg
    assert "retrain with" in msg and f"restore the folder {art_copy} from a backup" in msg


def test_cli_names_the_damaged_file(art_copy, capsys):
    _damage(art_copy / "embeddings.pt", "truncate")
    rc = main(["recommend", "--run", str(art_copy.parent), "--user", "u00"])
    err = capsys.readouterr().err
    assert rc == 2 and "embeddings.pt" in err and "retrain" in err and "Traceback" not in err


def test_missing_listed_file_and_damaged_manifest(art_copy):
    (art_copy / "train_matrix.npz").unlink()
    with pytest.raises(DamagedFileError, match=r"train_matrix\.npz: missing \(listed in manifest\.json\)"):
        Artifact.load(art_copy)
    (art_copy / "manifest.json").write_text("{not json")
    with pytest.raises(DamagedFileError, match=r"manifest\.json: unreadable"):
        Artifact.load(art_copy)
    (art_copy / "manifest.json").unlink()
    with pytest.raises(DamagedFileError, match=r"manifest\.json: missing"):
        ServingModel.load(art_copy.parent)


def test_the_fix_names_the_runs_command(art_copy):
    meta = json.loads((art_copy / "meta.json").read_text())
    meta["command"] = "hetrec-train dataset=groceries hydra.run.dir=R"
    (art_copy / "meta.json").write_text(json.dumps(meta))
    write_manifest(art_copy, "artifact", ARTIFACT_FORMAT)
    _damage(art_copy / "model.pt", "corrupt")
    with pytest.raises(DamagedFileError, match="retrain with `hetrec-train dataset=groceries hydra.run.dir=R`"):
        Artifact.load(art_copy)


def test_crafted_pickles_are_never_executed(art_copy, pickle_payload):
    """An attacker who can write the folder (and rewrite the manifest to match) still cannot run code: tensors are
    read with weights_only=True, arrays with allow_pickle=False, and old-format pickles are never opened."""
    payload, marker = pickle_payload
    (art_copy / "feature_encoders.pkl").write_bytes(pickle.dumps({"item": payload}))  # never read
    art = Artifact.load(art_copy)
    assert not marker.exists() and type(art.feature_encoders["item"]).__name__ == "NodeFeatureEncoder"
    torch.save({"node_input.x": payload}, art_copy / "model.pt")
    write_manifest(art_copy, "artifact", ARTIFACT_FORMAT)
    with pytest.raises(DamagedFileError, match=r"model\.pt: cannot be read"):
        Artifact.load(art_copy)
    assert not marker.exists()
    torch.save({"node_input.x": torch.ones(1)}, art_copy / "model.pt")
    evil = np.empty(1, dtype=object)
    evil[0] = payload
    np.savez(art_copy / "co_bought.npz", src=evil)
    write_manifest(art_copy, "artifact", ARTIFACT_FORMAT)
    with pytest.raises(DamagedFileError, match=r"co_bought\.npz: cannot be read"):
        Artifact.load(art_copy)
    assert not marker.exists()


def test_artifact_holds_no_pickle_and_refuses_encoders_that_need_one(tiny_run, tmp_path):
    names = [p.name for p in (tiny_run / "artifact").rglob("*")]
    assert "manifest.json" in names and not [n for n in names if n.endswith((".pkl", ".pickle"))]
    art = Artifact.load(tiny_run / "artifact")
    art.feature_encoders = {"item": object()}
    with pytest.raises(TypeError, match="cannot be saved as parameters"):
        art.save(tmp_path / "a")
    assert not (tmp_path / "a").exists() and not list(tmp_path.iterdir())


def test_build_model_rebuilds_the_trained_modules(tiny_run):
    art = Artifact.load(tiny_run / "artifact")
    net = art.build_model()
    assert not net.training
    state = net.state_dict()
    assert set(state) == {k for k in art.model_state if k.startswith(("node_input.", "encoder."))}
    assert all(torch.equal(state[k], art.model_state[k]) for k in state)
    art.model_state = None
    with pytest.raises(ValueError, match="no model.pt"):
        art.build_model()
