"""The ``graph.*`` options of `GraphBuilder`: their defaults (read from the shipped ``conf/graph/default.yaml``, the one
source the Python API and ``hetrec-train`` share), the merge of a given section over them, and the range checks."""

from __future__ import annotations

import copy
import importlib.resources
from collections.abc import Mapping
from typing import Any

from hetrec.data.datasets.base import plain_config
from hetrec.errors import ConfigError
from hetrec.graph.features import TEXT_METHODS
from hetrec.graph.schema import check_event_name
from hetrec.graph.splits import check_split_options

__all__ = ["CO_BOUGHT_WEIGHTS", "DEFAULTS", "EDGE_WEIGHTS", "check_options", "section"]

EDGE_WEIGHTS = ("sum", "count", "mean", "max")
CO_BOUGHT_WEIGHTS = ("confidence", "lift", "support", "count")


def _yaml_defaults() -> dict[str, Any]:
    """The graph section's defaults, read from the shipped ``conf/graph/default.yaml`` (package ``hetrec.conf``) so
    that the Python API and ``hetrec-train`` share one source. Values that the app interpolates from other config
    groups (``target: ${dataset.target}``, ``split.seed: ${seed}``) default to ``None`` / ``0`` here."""
    from omegaconf import OmegaConf

    text = importlib.resources.files("hetrec.conf").joinpath("graph", "default.yaml").read_text()
    cfg = OmegaConf.create(text)
    placeholders = {"target": None, "seed": 0}

    def plain(node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in node:
            if key == "_target_":
                continue
            if OmegaConf.is_interpolation(node, key):
                if key not in placeholders:
                    raise RuntimeError(f"conf/graph/default.yaml: no Python default for interpolated key {key!r}")
                out[key] = placeholders[key]
            elif OmegaConf.is_dict(node[key]):
                out[key] = plain(node[key])
            else:
                out[key] = OmegaConf.to_container(node, resolve=False)[key]
        return out

    return plain(cfg)


DEFAULTS: dict[str, Any] = _yaml_defaults()
"""Defaults of every ``graph.*`` option (from conf/graph/default.yaml)."""


def section(name: str, given: Any) -> dict[str, Any]:
    """Merge a config section over its defaults; unknown keys are an error naming the valid ones."""
    base = copy.deepcopy(DEFAULTS[name])
    if given is None:
        return base
    if isinstance(given, bool) and "enabled" in base:  # `graph.categories=false` shorthand
        base["enabled"] = given
        return base
    given = plain_config(given)
    if not isinstance(given, Mapping):
        raise ConfigError(f"graph.{name} must be a mapping of options ({', '.join(base)}), got {given!r}")
    unknown = sorted(set(given) - set(base))
    if unknown:
        raise ConfigError(
            f"unknown option graph.{name}.{unknown[0]}; graph.{name} takes {', '.join(base)}"
        )
    base.update(given)
    return base


def check_options(split: Mapping[str, Any], co_bought: Mapping[str, Any], features: Mapping[str, Any],
                  target: str | None, edge_weight: str, missing_items: str) -> None:
    """Raise `ConfigError` naming the ``graph.*`` option whose value is out of range, with the values it takes."""
    s = split
    check_split_options(str(s["strategy"]), s["valid_ratio"], s["test_ratio"], s["cold_share"], s["cold_valid_share"])
    if target is not None:
        check_event_name(target)
    if edge_weight not in EDGE_WEIGHTS:
        raise ConfigError(f"graph.edge_weight={edge_weight!r}; use one of {', '.join(EDGE_WEIGHTS)}")
    if missing_items not in ("error", "drop"):
        raise ConfigError(f"graph.missing_items={missing_items!r}; use graph.missing_items=error or drop")
    c = co_bought
    if c["weight"] not in CO_BOUGHT_WEIGHTS:
        raise ConfigError(
            f"graph.co_bought.weight={c['weight']!r}; use one of {', '.join(CO_BOUGHT_WEIGHTS)}"
        )
    if int(c["min_count"]) < 1:
        raise ConfigError(
            f"graph.co_bought.min_count={c['min_count']} must be >= 1; e.g. graph.co_bought.min_count=2"
        )
    if not 0.0 <= float(c["min_support"]) <= 1.0:
        raise ConfigError(f"graph.co_bought.min_support={c['min_support']} must lie in [0, 1]")
    if float(c["min_lift"]) < 0.0:
        raise ConfigError(
            f"graph.co_bought.min_lift={c['min_lift']} must be >= 0; e.g. graph.co_bought.min_lift=1.0"
        )
    if c["top_k"] is not None and int(c["top_k"]) < 1:
        raise ConfigError(f"graph.co_bought.top_k={c['top_k']} must be >= 1 or null (keep all)")
    if c["max_basket_size"] is not None and int(c["max_basket_size"]) < 2:
        raise ConfigError(f"graph.co_bought.max_basket_size={c['max_basket_size']} must be >= 2 or null")
    f = features
    if f["text"] not in TEXT_METHODS:
        raise ConfigError(f"graph.features.text={f['text']!r}; use graph.features.text=hash or tfidf_svd")
    if int(f["text_dim"]) < 1:
        raise ConfigError(f"graph.features.text_dim={f['text_dim']} must be >= 1; e.g. graph.features.text_dim=64")
