"""Negative samplers for link prediction: uniform, popularity-weighted, in-batch, all destinations and shared.

A sampler is created from config with only its hyperparameters and then :meth:`NegativeSampler.bind` to the data
(number of destination nodes and the training positives of the relation it serves). With ``exclude_positives=True``
a sampled negative is never one of the source's own training positives: offending draws are redrawn (vectorized
rejection sampling, ``max_tries`` rounds) and whatever is still a positive after that is masked out.

:meth:`NegativeSampler.ban` removes destinations from the negatives altogether (e.g. the new products of a
``cold_items`` split, which are not in the training catalogue): drawing samplers never draw them (the draw is over
the allowed destinations only, not a rejection loop), samplers that score every destination mask them out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.errors import ConfigError

__all__ = [
    "PositiveLookup", "Negatives", "NegativeSampler", "UniformSampler", "PopularitySampler", "InBatchSampler",
    "AllSampler", "SharedSampler", "SAMPLERS",
]


class PositiveLookup:
    """Membership test ``(src, dst) in positives`` for many pairs at once.

    A CSR matrix with sorted column indices is, read row after row, the sorted array of keys ``src * num_dst + dst``;
    a membership test is one ``searchsorted`` over that array (O(log nnz) per pair, fully vectorized). When the whole
    ``num_src x num_dst`` grid fits in ``dense_max_entries`` bytes (32 MiB) a bool table answers instead, by one
    gather (on ml-100k the searchsorted path was ~20% of a training epoch).

    Args:
        src, dst: positive pairs (int64, duplicates allowed).
        num_src, num_dst: node counts of the two sides.
    """

    dense_max_entries = 1 << 25

    def __init__(self, src: torch.Tensor, dst: torch.Tensor, num_src: int, num_dst: int) -> None:
        self.num_src = int(num_src)
        self.num_dst = int(num_dst)
        s = np.asarray(src, dtype=np.int64)
        d = np.asarray(dst, dtype=np.int64)
        self.csr = sp.csr_matrix((np.ones(len(s), dtype=np.bool_), (s, d)), shape=(self.num_src, self.num_dst))
        self.csr.sum_duplicates()
        self.csr.sort_indices()
        rows = np.repeat(np.arange(self.num_src, dtype=np.int64), np.diff(self.csr.indptr))
        self.keys = torch.from_numpy(rows * self.num_dst + self.csr.indices.astype(np.int64))
        self.dense: torch.Tensor | None = None
        if self.num_src * self.num_dst <= self.dense_max_entries:
            self.dense = torch.zeros(self.num_src * self.num_dst, dtype=torch.bool)
            self.dense[self.keys] = True

    def contains(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Bool tensor, shape of ``dst`` (``src`` broadcast against it): is each pair a training positive?"""
        if self.keys.numel() == 0:
            return torch.zeros(dst.shape, dtype=torch.bool)
        q = (src.cpu().long() * self.num_dst + dst.cpu().long()) if src.dim() == dst.dim() else (
            src.cpu().long().unsqueeze(-1) * self.num_dst + dst.cpu().long()
        )
        if self.dense is not None:
            return self.dense[q]
        pos = torch.searchsorted(self.keys, q.reshape(-1)).clamp_max(self.keys.numel() - 1)
        return (self.keys[pos] == q.reshape(-1)).reshape(q.shape)

    def block(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Dense bool ``[len(src), len(dst)]``: ``out[i, j]`` is whether ``(src[i], dst[j])`` is a positive.

        Reads only the positives of the rows asked for (one CSR row gather) and marks those whose destination is among
        ``dst``: O(positives of ``src`` + output), e.g. ~10 ms for 8,192 Gowalla users x 1,024 items where slicing the
        columns of the CSR took ~180 ms."""
        s = src.cpu().numpy().astype(np.int64, copy=False).reshape(-1)
        d = dst.cpu().numpy().astype(np.int64, copy=False).reshape(-1)
        order = np.argsort(d, kind="stable")  # the columns grouped by destination
        count = np.bincount(d, minlength=self.num_dst)  # columns holding each destination
        start = np.cumsum(count) - count  # where a destination's columns begin in `order`
        rows = self.csr[s]  # the positives of each asked source, row i = src[i]
        r = np.repeat(np.arange(len(s)), np.diff(rows.indptr))
        lo, n = start[rows.indices], count[rows.indices]
        hit = n > 0
        r, lo, n = r[hit], lo[hit], n[hit]
        first = np.repeat(np.cumsum(n) - n, n)
        cols = order[np.repeat(lo, n) + np.arange(int(n.sum())) - first]
        out = np.zeros((len(s), len(d)), dtype=np.bool_)
        out[np.repeat(r, n), cols] = True
        return torch.from_numpy(out)


@dataclass
class Negatives:
    """The negatives of one batch, as the loss consumes them.

    Attributes:
        emb: ``[B, K, D]`` one set per example (``shared=False``), or ``[N, D]`` rows shared by every example
            (``shared=True``: the batch's other destinations, or every destination).
        mask: bool, shape of the scores (``[B, K]`` or ``[B, N]``): False = not a negative (ignored by the loss);
            ``None`` = all valid.
        rows: the rows of the destination embeddings that were drawn, ``[B, K]`` per example or ``[K]`` shared (their
            inputs are regularised), or ``None``.
    """

    emb: torch.Tensor
    mask: torch.Tensor | None
    shared: bool
    rows: torch.Tensor | None = None


class NegativeSampler:
    """Base class of negative samplers.

    A sampler answers :meth:`negatives` for a batch; samplers that draw nodes implement ``_draw`` (the base class
    handles exclusion of positives), the others (in-batch, all destinations) override :meth:`negatives`.

    Args:
        num_negatives: negatives per positive (default 1; ignored by in-batch sampling).
        exclude_positives: never return a source's own training positives (default True).
        max_tries: redraw rounds for rejected negatives before masking the rest (default 10).
    """

    in_batch = False
    all_destinations = False
    full_graph_only = False  # negatives are rows of every destination's embedding (not sampled into mini-batches)
    name = "base"

    def __init__(self, num_negatives: int = 1, exclude_positives: bool = True, max_tries: int = 10) -> None:
        if int(num_negatives) < 1:
            raise ConfigError(
                f"{type(self).__name__}: num_negatives must be >= 1, got {num_negatives} "
                f"(e.g. objective.sampler.num_negatives=1)"
            )
        self.num_negatives = int(num_negatives)
        self.exclude_positives = bool(exclude_positives)
        self.max_tries = int(max_tries)
        self.lookup: PositiveLookup | None = None
        self.num_dst = 0
        self.banned: torch.Tensor | None = None  # bool [num_dst]: never a negative (see ban)
        self.allowed: torch.Tensor | None = None  # the ids not banned, when some are

    def bind(self, positives: tuple[torch.Tensor, torch.Tensor], num_src: int, num_dst: int) -> NegativeSampler:
        """Attach the data: the relation's training positives and its node counts. Returns ``self``."""
        self.num_dst = int(num_dst)
        if self.num_dst < 1:
            raise ValueError(f"{type(self).__name__}: there are no destination nodes to sample negatives from")
        self.lookup = PositiveLookup(positives[0], positives[1], num_src, num_dst)
        self.banned = self.allowed = None
        self._fit(positives)
        return self

    def ban(self, ids: torch.Tensor) -> NegativeSampler:
        """Never return the destinations ``ids`` as negatives (global ids; replaces an earlier ban; empty: none
        banned). Drawing samplers draw from the other destinations only (:meth:`_draw` sees ``self.allowed``),
        the all-destinations and in-batch samplers mask them. Call after :meth:`bind`. Returns ``self``.

        Raises:
            RuntimeError: not bound. ValueError: an id outside ``[0, num_dst)``, or every destination banned.
        """
        if self.lookup is None:
            raise RuntimeError(f"{type(self).__name__}.ban: bind the sampler to data first (.bind(...))")
        ids = torch.as_tensor(ids).reshape(-1).cpu().long()
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_dst):
            raise ValueError(f"{type(self).__name__}.ban: ids must lie in [0, {self.num_dst}), got "
                             f"[{int(ids.min())}, {int(ids.max())}]")
        banned = torch.zeros(self.num_dst, dtype=torch.bool)
        banned[ids] = True
        if bool(banned.all()):
            raise ValueError(f"{type(self).__name__}.ban: every one of the {self.num_dst} destinations is banned; "
                             f"nothing is left to draw negatives from")
        self.banned = banned if bool(banned.any()) else None
        self.allowed = None if self.banned is None else torch.nonzero(~banned).flatten()
        self._banned_changed()
        return self

    def _fit(self, positives: tuple[torch.Tensor, torch.Tensor]) -> None:
        pass

    def _banned_changed(self) -> None:
        """Hook: a sampler with a fitted draw distribution refits it to the allowed destinations."""

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def sample(
        self, src: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw ``num_negatives`` destinations per source.

        Returns:
            ``(neg, mask)``: ``neg`` int64 ``[B, K]``; ``mask`` bool ``[B, K]`` (False = still a positive after
            ``max_tries`` redraws, to be ignored by the loss) or ``None`` when every draw is valid.

        Shapes:
            src: ``[B]``
        """
        if self.lookup is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to data; call .bind(positives, num_src, num_dst)")
        src = src.cpu().long()
        b, k = src.numel(), self.num_negatives
        neg = self._draw(b * k, generator).view(b, k)
        if not self.exclude_positives:
            return neg, None
        bad = self.lookup.contains(src, neg)
        for _ in range(self.max_tries):
            nbad = int(bad.sum())
            if nbad == 0:
                return neg, None
            neg[bad] = self._draw(nbad, generator)
            bad = self.lookup.contains(src, neg)
        return neg, (~bad if bool(bad.any()) else None)

    @property
    def draws(self) -> bool:
        """Whether negatives are drawn nodes (a mini-batch loader must then sample them into the batch's blocks)."""
        return not (self.in_batch or self.full_graph_only)

    def negatives(
        self,
        h_dst: torch.Tensor,
        src_ids: torch.Tensor,
        dst_ids: torch.Tensor,
        *,
        rows: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        h_pos: torch.Tensor | None = None,
    ) -> Negatives:
        """The negatives of a batch of positives ``(src_ids, dst_ids)`` (global ids, CPU).

        Args:
            h_dst: embeddings of the destinations at hand: every destination (full graph) or a mini-batch's output
                nodes, ``[N, D]``.
            rows: ``[B, K]`` rows of ``h_dst`` already drawn (a mini-batch loader samples them into the blocks), with
                ``ids`` their global ids; default ``None`` = draw now (then rows are global ids: full graph).
            generator: random generator for the draw.
            h_pos: the batch's positive destination embeddings ``[B, D]`` (used by in-batch sampling).
        """
        if rows is None:
            neg, mask = self.sample(src_ids, generator)
            rows = neg.to(h_dst.device)
        else:
            mask = None
            if self.exclude_positives:
                bad = self.lookup.contains(src_ids, ids.cpu())
                mask = ~bad if bool(bad.any()) else None
        return Negatives(h_dst[rows], mask, shared=False, rows=rows)


class UniformSampler(NegativeSampler):
    """Uniform negatives over all destination nodes (Rendle et al., BPR, UAI 2009).

    Args: see :class:`NegativeSampler`.
    """

    name = "uniform"

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if self.allowed is not None:  # uniform over the destinations not banned
            return self.allowed[torch.randint(self.allowed.numel(), (n,), generator=generator)]
        return torch.randint(self.num_dst, (n,), generator=generator)


class PopularitySampler(NegativeSampler):
    """Negatives drawn with probability proportional to ``count ** alpha`` (word2vec's unigram^0.75; Mikolov et al.,
    NeurIPS 2013), so popular items, the hard negatives, appear more often.

    Args:
        alpha: popularity exponent; 0 = uniform, 1 = proportional to counts (default 0.75).
        num_negatives, exclude_positives, max_tries: see :class:`NegativeSampler`.
    """

    name = "popularity"

    def __init__(self, alpha: float = 0.75, **kwargs) -> None:
        super().__init__(**kwargs)
        if float(alpha) < 0:
            raise ConfigError(f"PopularitySampler: alpha must be >= 0, got {alpha} (e.g. objective.sampler.alpha=0.75)")
        self.alpha = float(alpha)
        self.cdf: torch.Tensor | None = None

    def _fit(self, positives: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.counts = torch.bincount(positives[1].cpu().long(), minlength=self.num_dst).double()
        self._banned_changed()

    def _banned_changed(self) -> None:
        w = (self.counts + 1.0) ** self.alpha  # +1: items never seen in training can still be drawn
        if self.banned is not None:
            w[self.banned] = 0.0  # a banned id owns an empty interval of the cdf: never drawn
        cdf = torch.cumsum(w / w.sum(), 0)
        cdf[int(torch.nonzero(w).max()):] = 1.0  # from the last drawable id on (rounding could leave a gap below 1)
        self.cdf = cdf

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        return torch.searchsorted(self.cdf, u, right=True).clamp_max(self.num_dst - 1)


class InBatchSampler(NegativeSampler):
    """In-batch negatives: every other positive destination in the batch is a negative for each source (Yi et al.,
    RecSys 2019; SimCLR-style InfoNCE). No extra nodes are drawn; the loss scores the ``[B, B]`` batch matrix.

    :meth:`mask` marks which batch entries are valid negatives: never the example's own destination (nor copies of
    it), and with ``exclude_positives`` never another training positive of the same source.

    Args:
        exclude_positives: also mask the source's other training positives (default True).
    """

    in_batch = True
    name = "in_batch"

    def __init__(self, exclude_positives: bool = True, num_negatives: int = 1, max_tries: int = 0) -> None:
        super().__init__(num_negatives=1, exclude_positives=exclude_positives, max_tries=0)

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise RuntimeError("InBatchSampler draws no negatives; the loss uses the batch's destinations")

    def negatives(self, h_dst, src_ids, dst_ids, *, rows=None, ids=None, generator=None, h_pos=None) -> Negatives:
        """The batch's own destinations ``h_pos`` (``[B, D]``), masked by :meth:`mask`."""
        return Negatives(h_pos, self.mask(src_ids, dst_ids).to(h_pos.device), shared=True)

    def mask(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, B]``: ``mask[i, j]`` is True when ``dst[j]`` is a valid negative for example ``i``.

        Shapes:
            src, dst: ``[B]`` (global ids)
        """
        src, dst = src.cpu().long(), dst.cpu().long()
        valid = dst.unsqueeze(0) != dst.unsqueeze(1)
        if self.exclude_positives and self.lookup is not None:
            valid &= ~self.lookup.block(src, dst)
        if self.banned is not None:
            valid &= ~self.banned[dst].unsqueeze(0)
        return valid


class AllSampler(NegativeSampler):
    """Every destination node is a negative: the softmax loss becomes the full softmax over the catalogue (the
    cross-entropy of full-ranking training, as RecBole's CE loss), with no sampling noise and, on a catalogue of a few
    thousand items, cheaper than many sampled negatives: one ``[B, N]`` matrix product instead of gathering
    ``B x K`` embedding rows. Full-graph training only (mini-batches hold the sampled nodes alone).

    Args:
        exclude_positives: also mask the source's other training positives (default True); the example's own
            destination is always masked (it is the positive).
        max_logits: refuse batches whose ``B x N`` score matrix is larger (default 2**27, 512 MB of float32); lower
            ``train.batch_size`` or use ``objective/sampler=uniform`` on large catalogues.
    """

    all_destinations = True
    full_graph_only = True
    name = "all"

    def __init__(self, exclude_positives: bool = True, num_negatives: int = 1, max_tries: int = 0,
                 max_logits: int = 2**27) -> None:
        super().__init__(num_negatives=1, exclude_positives=exclude_positives, max_tries=0)
        self.max_logits = int(max_logits)

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise RuntimeError("AllSampler draws no negatives; the loss scores every destination")

    def negatives(self, h_dst, src_ids, dst_ids, *, rows=None, ids=None, generator=None, h_pos=None) -> Negatives:
        """Every destination ``h_dst`` (``[N, D]``, the full graph's), masked by :meth:`mask`."""
        return Negatives(h_dst, self.mask(src_ids, dst_ids).to(h_dst.device), shared=True)

    def mask(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, N]``: ``mask[i, j]`` is True when destination ``j`` is a valid negative for example ``i``.

        Shapes:
            src, dst: ``[B]`` (global ids)
        """
        if self.lookup is None:
            raise RuntimeError("AllSampler is not bound to data; call .bind(positives, num_src, num_dst)")
        src, dst = src.cpu().long(), dst.cpu().long()
        b = src.numel()
        if b * self.num_dst > self.max_logits:
            raise ConfigError(
                f"objective/sampler=all: a batch of {b} x {self.num_dst} destinations exceeds max_logits="
                f"{self.max_logits}; lower train.batch_size "
                f"(e.g. train.batch_size={max(1, self.max_logits // self.num_dst)})"
                f" or use objective/sampler=uniform with objective.sampler.num_negatives on a catalogue this large"
            )
        if self.exclude_positives:
            valid = torch.from_numpy(~self.lookup.csr[src.numpy()].toarray())
        else:
            valid = torch.ones(b, self.num_dst, dtype=torch.bool)
        valid[torch.arange(b), dst] = False
        if self.banned is not None:  # banned destinations leave the softmax's denominator
            valid &= ~self.banned.unsqueeze(0)
        return valid


class SharedSampler(UniformSampler):
    """``num_negatives`` destinations drawn uniformly (:class:`UniformSampler`'s draw) once per batch and shared by
    every example of the batch: the loss scores one ``[B, K]`` matrix product instead of gathering ``B x K`` embedding
    rows, so a sampled softmax can afford hundreds or thousands of negatives per positive (the regime where sampled
    softmax approaches the full softmax; Wu et al., "On the Effectiveness of Sampled Softmax Loss for Item
    Recommendation", TOIS 2023; SimpleX, Mao et al., CIKM 2021). Full-graph training only (the negatives are rows of
    every destination's embedding).

    Args:
        num_negatives: negatives per batch (default 1024).
        exclude_positives: also mask drawn negatives that are other training positives of the example's source
            (default True: on dense data a shared draw holds many of a user's items, e.g. ~6% of ml-100k's catalogue
            per user, and pushing them down costs ~half the validation recall). The example's own destination is
            always masked.
    """

    full_graph_only = True
    name = "shared"

    def __init__(self, num_negatives: int = 1024, exclude_positives: bool = True, max_tries: int = 0) -> None:
        super().__init__(num_negatives=num_negatives, exclude_positives=exclude_positives, max_tries=0)

    def negatives(self, h_dst, src_ids, dst_ids, *, rows=None, ids=None, generator=None, h_pos=None) -> Negatives:
        """``[K]`` shared rows of ``h_dst``; the mask hides each example's own destination (and, with
        ``exclude_positives``, its source's other training positives)."""
        neg = self._draw(self.num_negatives, generator)
        bad = dst_ids.cpu().long().unsqueeze(1) == neg.unsqueeze(0)
        if self.exclude_positives:  # one sparse [users x K] slice of the positives, not B x K membership tests
            bad |= self.lookup.block(src_ids, neg)
        mask = ~bad if bool(bad.any()) else None
        rows = neg.to(h_dst.device)
        return Negatives(h_dst[rows], None if mask is None else mask.to(h_dst.device), shared=True, rows=rows)


SAMPLERS: dict[str, type[NegativeSampler]] = {
    "uniform": UniformSampler,
    "popularity": PopularitySampler,
    "in_batch": InBatchSampler,
    "all": AllSampler,
    "shared": SharedSampler,
}
