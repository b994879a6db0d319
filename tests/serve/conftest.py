"""Fixtures of the serving tests: the tiny trained artifact of artifacts.py (its planted structure is described there),
with and without its model, and the ServingModel over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hetrec.train.artifact import Artifact

from artifacts import build_artifact


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder whose artifact/ holds a trained model (encoder cold-start path available)."""
    return build_artifact(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="session")
def tiny_run_nomodel(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same artifact without model.pt (cold start must use the ridge fallback)."""
    art = Artifact.load(tiny_run / "artifact")
    art.model_state = None
    run = tmp_path_factory.mktemp("serve_nomodel") / "run"
    art.save(run / "artifact")
    return run


@pytest.fixture(scope="session")
def model(tiny_run: Path):
    from hetrec.serve import ServingModel

    return ServingModel.load(tiny_run)
