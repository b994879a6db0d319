"""Every conf/dataset/*.yaml composes with Hydra and instantiates its class; the synthetic default loads."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from hetrec.data import ShopData

CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"
NAMES = sorted(p.stem for p in CONF.glob("*.yaml"))
TARGETS = {"synthetic": "clicks", "ml100k": "rates", "lightgcn": "clicks", "baskets": "purchases"}


def test_the_expected_options_exist():
    assert {"synthetic", "ml100k", "lightgcn", "baskets", "tables", "diginetica"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_config_matches_its_class(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HETREC_DATA", str(tmp_path))
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(name)
    assert cfg.root == str(tmp_path)  # root defaults to $HETREC_DATA
    assert cfg.target == TARGETS.get(name, cfg.target) and cfg.target
    module, cls_name = cfg._target_.rsplit(".", 1)
    assert module == "hetrec.data.datasets"
    cls = getattr(importlib.import_module(module), cls_name)
    params = inspect.signature(cls).parameters
    unknown = [k for k in cfg if k != "_target_" and k not in params]
    assert not unknown, f"{name}.yaml keys not accepted by {cls_name}: {unknown}"
    ds = instantiate(cfg)
    assert ds.target == cfg.target and len(ds.fingerprint()) == 32


def test_synthetic_default_through_hydra():
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("synthetic", overrides=["num_users=50", "num_items=40", "num_interactions=2000", "num_pairs=5"])
    shop = instantiate(cfg).load()
    assert isinstance(shop, ShopData) and len(shop.interactions) == 2000
    assert shop.planted["complementary_pairs"].shape == (5, 2)
