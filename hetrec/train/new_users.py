"""Users without history: the ranking they get, chosen on validation (``train.new_users``).

On a log split by time most of the next period's customers may have no training interaction at all (on DIGINETICA's
time split 98% of the test users). The model knows nothing personal about them: their row of the encoder is their
untrained id embedding plus whatever their features carry, and their list is in effect the item bias. Whether that
beats a popularity list, and which one (all-time sales, or sales weighted towards the latest weeks), is a property of
the shop, so ``train.new_users=auto`` tries, after training, for the validation users without any training
interaction only:

- ``model``: the model's own scores (what they get without this stage);
- ``popularity``: training interactions per item (MostPop);
- ``recent popularity``: the same pairs weighted by ``2^(-age / h)`` for half-lives ``h`` of 1/16 ... 1 of the
  training period (:func:`hetrec.train.recency.recency_counts`, each pair at its last occurrence),

and keeps the best by the validation monitor metric; a list other than the model's must beat it to be chosen. The
chosen list is a vector of item scores (:attr:`NewUserRanking.scores`): full-ranking evaluation gives it to every user
without training interactions (validation and test alike; :meth:`NewUserRanking.wrap`), the artifact stores it
(``new_user_scores.npy``) and ``hetrec serve`` answers users without history and unknown users with it. With
``train.refit`` the chosen candidate is recomputed on the refit graph. Runs without validation users lacking history
(random splits) are left as they are; ``recent popularity`` needs real timestamps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from hetrec.errors import ConfigError
from hetrec.train.recency import HALF_LIVES, recency_counts

__all__ = ["NewUserRanking", "new_user_mask"]

log = logging.getLogger(__name__)

MODES = ("auto", "off")
MODEL = "model"


def new_user_mask(data) -> np.ndarray:
    """``bool [num_users]``: users of the target relation without any training interaction (the evaluation's
    ``new/...`` group)."""
    return np.diff(data.interaction_matrix("train").indptr) == 0


def _candidate(data, name: str) -> np.ndarray | None:
    """Item scores of candidate ``name`` (``popularity`` or ``recent:<half-life>``) on ``data``'s training graph."""
    if name == "popularity":
        return np.asarray(data.interaction_matrix("train").getnnz(axis=0), dtype=np.float32)
    counts = recency_counts(data.graph, data.target, float(name.split(":", 1)[1]))
    return None if counts is None else counts[1].astype(np.float32)


class NewUserRanking:
    """``train.new_users``: choose the list of users without history on validation, jointly with what else is chosen
    after training (the recency shift of the item bias changes the model's scores of new users too):

    1. :meth:`prepare`: every candidate list on the validation users without training interactions;
    2. :meth:`joint`: the validation figure of a model when its new users get the best list wherever it beats the
       model's scores on them (the figure another post-training choice compares);
    3. :meth:`decide`: for the final model, keep the list if it beats the model on the new validation users.

    :meth:`apply` recomputes the chosen list on another graph of the same run (the refit), :meth:`wrap` ranks with it.
    ``report`` goes to metrics.json as ``"new_users"``; :attr:`scores` is ``None`` while the model's scores are kept.
    ``evaluate(users=..., wrap=...) -> metrics`` arguments evaluate the model on validation users (all by default),
    ``wrap(score_fn) -> score_fn`` changing its scores first.
    """

    def __init__(self, mode: str = "auto", half_lives=HALF_LIVES):
        if mode not in MODES:
            raise ConfigError(f"train.new_users={mode!r}: use one of {', '.join(MODES)} (e.g. train.new_users=auto)")
        self.mode = mode
        self.half_lives = tuple(half_lives)
        self.chosen: str | None = None
        self.scores: np.ndarray | None = None  # float32 [num_items], higher first
        self.report: dict = {"mode": mode}
        self._best: tuple[str, np.ndarray, float] | None = None  # best list on the new validation users
        self._users: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # new, known

    @property
    def active(self) -> bool:
        """Whether some list competes with the model (after :meth:`prepare`)."""
        return self._best is not None

    def candidates(self) -> list[str]:
        return ["popularity"] + [f"recent:{h:g}" for h in self.half_lives]

    def prepare(self, data, evaluate: Callable[..., dict], monitor: str) -> None:
        """Score every candidate list on the validation users without training interactions."""
        if self.mode == "off":
            self.report["skipped"] = "off"
            return
        new = new_user_mask(data)
        valid_users = np.unique(data.splits["valid"][0].numpy()) if "valid" in data.splits else np.zeros(0, np.int64)
        self._users = (valid_users[new[valid_users]], valid_users[~new[valid_users]])
        if len(self._users[0]) == 0:
            self.report["skipped"] = "no validation users without training interactions"
            return
        tried = {}
        for name in self.candidates():
            scores = _candidate(data, name)
            if scores is None:
                continue
            val = float(evaluate(users=self._users[0], wrap=lambda fn, s=scores: _replace_rows(fn, new, s))[monitor])
            tried[name] = val
            if self._best is None or val > self._best[2]:
                self._best = (name, scores, val)
        self.report.update(metric=monitor, num_users=int(len(self._users[0])), valid=tried)

    def _split_figures(self, evaluate: Callable[..., dict], monitor: str) -> tuple[float, float, float, float]:
        """``(model on new users, their count, model on known users, their count)`` on validation."""
        new_users, known_users = self._users
        m_new = evaluate(users=new_users)
        m_known = evaluate(users=known_users) if len(known_users) else {monitor: 0.0, "num_users": 0.0}
        return float(m_new[monitor]), float(m_new["num_users"]), float(m_known[monitor]), float(m_known["num_users"])

    def joint(self, evaluate: Callable[..., dict], monitor: str) -> dict:
        """``{monitor: figure}``: the model's validation ``monitor`` (a per-user mean) with its new users given the
        best list when that beats the model on them."""
        new_val, n_new, known_val, n_known = self._split_figures(evaluate, monitor)
        best_new = max(new_val, self._best[2]) if self._best is not None else new_val
        return {monitor: (best_new * n_new + known_val * n_known) / max(n_new + n_known, 1.0)}

    def decide(self, evaluate: Callable[..., dict], monitor: str) -> None:
        """Keep the best list for new users when it beats the final model's scores on the new validation users."""
        if self._best is None:
            return
        new_val = self._split_figures(evaluate, monitor)[0]
        self.report["valid"] = {MODEL: new_val, **self.report["valid"]}
        name, scores, val = self._best
        if val > new_val:
            self.chosen, self.scores = name, scores
            log.info("train.new_users: %d validation users without history ranked by %s (%s %.4f -> %.4f)",
                     len(self._users[0]), name, monitor, new_val, val)
        self.report["chosen"] = self.chosen or MODEL

    def apply(self, data) -> None:
        """Recompute the chosen list on ``data``'s training graph (the refit on train + validation)."""
        if self.chosen is not None:
            self.scores = _candidate(data, self.chosen)

    def wrap(self, score_fn, data):
        """``score_fn`` with the rows of ``data``'s users without training interactions replaced by the chosen
        list (``score_fn`` itself when the model's scores are kept)."""
        if self.scores is None:
            return score_fn
        return _replace_rows(score_fn, new_user_mask(data), self.scores)


def _replace_rows(score_fn, new: np.ndarray, scores: np.ndarray):
    new_t = torch.from_numpy(new)
    row = torch.from_numpy(np.asarray(scores, dtype=np.float32))

    def fn(users: torch.Tensor) -> torch.Tensor:
        out = score_fn(users)
        m = new_t[users.long().cpu()].to(out.device)
        if bool(m.any()):
            out = out.clone()
            out[m] = row.to(out.device, out.dtype)
        return out

    return fn
