"""Recency of popularity: the learned item bias, recalibrated towards the latest training period on validation.

A shop log split by time (``graph.split.strategy=global_time``) asks the model for the next weeks, and what sells
next is closer to what sold lately than to what sold over the whole log (new products, seasons, campaigns). The item
bias ``b_i`` of ``objective.item_bias`` learns the popularity of the whole training period; the rest of the score
(``<u, i>``) is personal. ``train.recency=auto`` therefore tries, after training, a shift of the bias

    b_i + s * (log(1 + c_h(i)) - log(1 + c(i)))

with ``c(i)`` the item's training pairs and ``c_h(i)`` the same pairs weighted by ``2^(-age / h)`` (``age`` = time
before the latest training interaction, each pair at its last occurrence) and rescaled to the same total, for
half-lives ``h`` of 1/16 ... 1 of the training period and strengths ``s`` of 0.5 and 1. The candidate with the best
validation monitor metric is kept only when it beats the unchanged bias, like the epoch is chosen: no constant is
tuned to a dataset. On a time split this is the popularity drift the next period shows (benchmarks/results/recency.md);
on a random split the validation pairs are spread over time like the training pairs, and what is chosen there, if
anything, moves validation within its noise. The chosen shift is added to the model's bias, so the artifact,
``hetrec serve`` and every later figure use it; with ``train.refit`` the same half-life fraction and strength are
recomputed on the refit graph. Runs without real timestamps, without an item bias or without validation pairs
are left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

from hetrec.errors import ConfigError

__all__ = ["RecencyCalibration", "recency_counts", "HALF_LIVES", "STRENGTHS"]

log = logging.getLogger(__name__)

HALF_LIVES: tuple[float, ...] = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)  # fractions of the training period
STRENGTHS: tuple[float, ...] = (0.5, 1.0)
MODES = ("auto", "off")


def recency_counts(graph, target: tuple[str, str, str], half_life: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(c, c_h)``: per item, its training pairs and their recency-weighted sum (half-life ``half_life`` times the
    training period, rescaled to the same total), from the target relation's ``last_time``; ``None`` without times
    or when every training pair has the same time.

    Shapes:
        -> two float64 arrays [num_items]
    """
    if "last_time" not in graph.edges[target].data:
        return None
    t = graph.edges[target].data["last_time"].numpy().astype(np.float64)
    _, dst = graph.edges(etype=target)
    dst = dst.numpy()
    span = float(t.max() - t.min()) if len(t) else 0.0
    if span <= 0:
        return None
    n = graph.num_nodes(target[2])
    c = np.bincount(dst, minlength=n).astype(np.float64)
    w = np.exp2(-(t.max() - t) / (float(half_life) * span))
    ch = np.bincount(dst, weights=w, minlength=n)
    ch *= c.sum() / ch.sum()
    return c, ch


def _shift(graph, target, half_life: float, strength: float) -> torch.Tensor | None:
    counts = recency_counts(graph, target, half_life)
    if counts is None:
        return None
    c, ch = counts
    return torch.from_numpy((float(strength) * (np.log1p(ch) - np.log1p(c))).astype(np.float32))


class RecencyCalibration:
    """``train.recency``: choose a recency shift of the item bias on validation (:meth:`select`), apply it
    (:meth:`apply`, also to a refit model). ``report`` goes to metrics.json as ``"recency"``."""

    def __init__(self, mode: str = "auto", half_lives: Sequence[float] = HALF_LIVES,
                 strengths: Sequence[float] = STRENGTHS):
        if mode not in MODES:
            raise ConfigError(f"train.recency={mode!r}: use one of {', '.join(MODES)} (e.g. train.recency=auto)")
        self.mode = mode
        self.half_lives, self.strengths = tuple(half_lives), tuple(strengths)
        self.chosen: tuple[float, float] | None = None  # (half-life fraction, strength)
        self.valid_metrics: dict | None = None  # the validation metrics of the chosen shift
        self.report: dict = {"mode": mode}

    def _usable(self, data, model) -> str | None:
        if self.mode == "off":
            return "off"
        if model.objective.item_bias is None:
            return "no item bias (objective.item_bias=false)"
        if recency_counts(data.graph, data.target, 1.0) is None:
            return "no real timestamps on the training pairs"
        return None

    def select(self, data, model, emb: dict[str, torch.Tensor], evaluate: Callable[[dict], dict],
               monitor: str) -> dict[str, torch.Tensor]:
        """Try every (half-life, strength) on validation with ``evaluate(emb) -> metrics``; keep the best when it
        beats the unchanged bias. Returns the embeddings to use (shifted or ``emb`` itself)."""
        why = self._usable(data, model)
        if why is not None:
            self.report["skipped"] = why
            return emb
        base = float(evaluate(emb)[monitor])
        tried = {"none": base}
        best, best_val = None, base
        for h in self.half_lives:
            for s in self.strengths:
                metrics = evaluate(_shifted(data, emb, _shift(data.graph, data.target, h, s)))
                val = float(metrics[monitor])
                tried[f"half_life={h:g},strength={s:g}"] = val
                if val > best_val:
                    best, best_val, self.valid_metrics = (h, s), val, metrics
        self.report.update(metric=monitor, valid=tried)
        if best is None:
            self.report["chosen"] = None
            return emb
        self.chosen = best
        self.report["chosen"] = {"half_life": best[0], "strength": best[1]}
        log.info("train.recency: item bias recalibrated (half-life %g of the training period, strength %g): "
                 "validation %s %.4f -> %.4f", best[0], best[1], monitor, base, best_val)
        return self.apply(data, model, emb)

    def apply(self, data, model, emb: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Add the chosen shift (recomputed on ``data``'s graph) to ``model``'s item bias and to ``emb``; a no-op
        when nothing was chosen."""
        if self.chosen is None:
            return emb
        shift = _shift(data.graph, data.target, *self.chosen)
        if shift is None:
            return emb
        with torch.no_grad():
            bias = model.objective.item_bias
            bias.add_(shift.to(bias.device))
        return _shifted(data, emb, shift)


def _shifted(data, emb: dict[str, torch.Tensor], shift: torch.Tensor) -> dict[str, torch.Tensor]:
    """``emb`` with ``shift`` added to the items' bias column (a copy; ``emb`` is left as it is)."""
    it = data.target[2]
    out = dict(emb)
    out[it] = emb[it].clone()
    out[it][:, -1] += shift
    return out
