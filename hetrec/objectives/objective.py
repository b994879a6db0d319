"""`LinkObjective`: which relations are predicted, how pairs are scored, which loss and which negatives."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hetrec.dgl import dgl
from hetrec.errors import ConfigError
from hetrec.graph.data import GraphData
from hetrec.objectives.losses import LOSSES
from hetrec.objectives.samplers import SAMPLERS, Negatives, NegativeSampler
from hetrec.objectives.scorers import SCORERS, Scorer
from hetrec.types import CanonicalEType

__all__ = ["LinkObjective", "Task", "resolve_relation"]


def resolve_relation(
    graph_etypes: Sequence[CanonicalEType], name: str | Sequence[str], override: str
) -> CanonicalEType:
    """Find a relation by name (``"clicks"``) or canonical triple; raise naming ``override`` when it is unknown."""
    etypes = [tuple(et) for et in graph_etypes]
    if not isinstance(name, str):
        t = tuple(str(p) for p in name)
        if t in etypes:
            return t  # type: ignore[return-value]
        name = "/".join(t)
    matches = [et for et in etypes if et[1] == name]
    if len(matches) == 1:
        return matches[0]  # type: ignore[return-value]
    forward = sorted({et[1] for et in etypes if not et[1].startswith("rev_")})
    if not matches:
        raise ConfigError(
            f"unknown relation {name!r}: the graph has {forward} (plus their rev_* reverses); "
            f"set {override}=<one of them>, e.g. {override}={forward[0] if forward else 'clicks'}"
        )
    raise ConfigError(f"relation name {name!r} is ambiguous ({matches}); set {override} to a canonical triple")


@dataclass
class Task:
    """One link-prediction task: a relation, its training positives, its negatives, its scorer and its weight."""

    etype: CanonicalEType
    src: torch.Tensor
    dst: torch.Tensor
    sampler: NegativeSampler
    weight: float
    key: str

    @property
    def num_edges(self) -> int:
        return int(self.src.numel())


def _make_scorer(spec: str | Callable[..., Scorer] | None, dim: int) -> Scorer:
    if spec is None:
        spec = "dot"
    if isinstance(spec, str):
        if spec not in SCORERS:
            raise ConfigError(
                f"unknown scorer {spec!r}; choose one of {sorted(SCORERS)} (objective/scorer=dot|cosine|distmult)"
            )
        spec = SCORERS[spec]
    return spec(dim=dim)


def _make_sampler(spec: str | Callable[..., NegativeSampler] | None) -> NegativeSampler:
    if spec is None:
        spec = "uniform"
    if isinstance(spec, str):
        if spec not in SAMPLERS:
            raise ConfigError(
                f"unknown sampler {spec!r}; choose one of {sorted(SAMPLERS)} "
                f"(objective/sampler=uniform|popularity|in_batch|all)"
            )
        spec = SAMPLERS[spec]
    return spec()


class LinkObjective(nn.Module):
    """Link-prediction objective over one target relation plus an optional auxiliary relation.

    The main task predicts the target relation (default: the graph's target, e.g. ``user-clicks-item``); with
    ``aux_weight > 0`` a second task predicts ``item-co_bought-item`` edges, with its own scorer and the same loss and
    sampler kind, weighted by ``aux_weight``. Embedding L2 regularisation is applied to the input embeddings of the
    batch's nodes (LightGCN style; He et al., SIGIR 2020).

    Args:
        data: the graph data (training positives and node counts come from it).
        dim: embedding size of the encoder output.
        target: relation name or canonical triple to predict (default ``None`` = ``data.target``).
        loss: ``"bpr"`` | ``"bce"`` | ``"softmax"`` | ``"ccl"`` (default ``"bpr"``).
        loss_options: extra keyword arguments of the loss, e.g. ``{margin: 0.8, negative_weight: 50}`` for ``ccl``.
        scorer: scorer name or factory ``f(dim=...) -> Scorer`` (a Hydra ``_partial_`` node). Default dot.
        sampler: sampler name or factory ``f() -> NegativeSampler`` (a Hydra ``_partial_`` node). Default uniform.
        temperature: logits are divided by it (default 1.0; softmax typically 0.1-0.2).
        reg_weight: L2 weight on the batch's input embeddings (default 0.0).
        aux_weight: weight of the auxiliary task (default 0.0 = off).
        aux_relation: relation name of the auxiliary task (default ``"co_bought"``).
        item_bias: learn a bias per destination node of the main task (an item's popularity term):
            ``score(u, i) = <u, i> + b_i``. It is carried by one extra embedding column (1 for every source, ``b_i``
            for every destination; :meth:`augment`), so ranking, the artifact and serving's indexes include it
            unchanged. Needs the dot or DistMult scorer and a main task between two node types. Default ``False``.

    Shapes:
        batch_loss: ids ``[B]``; neg_rows/neg_ids ``[B, K]`` -> scalar.
        augment: ``{ntype: [n, D]}`` -> ``{ntype: [n, D + 1]}`` for the main task's two node types with ``item_bias``.
    """

    def __init__(
        self,
        data: GraphData,
        dim: int,
        target: str | Sequence[str] | None = None,
        loss: str = "bpr",
        scorer: str | Callable[..., Scorer] | None = None,
        sampler: str | Callable[..., NegativeSampler] | None = None,
        temperature: float = 1.0,
        reg_weight: float = 0.0,
        aux_weight: float = 0.0,
        aux_relation: str = "co_bought",
        item_bias: bool = False,
        loss_options: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ConfigError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)} (objective=bpr|bce|softmax)")
        if float(temperature) <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature} (e.g. objective.temperature=0.1)")
        if float(reg_weight) < 0 or float(aux_weight) < 0:
            raise ConfigError(
                f"weights must be >= 0, got reg_weight={reg_weight}, aux_weight={aux_weight} "
                f"(objective.reg_weight / objective.aux_weight)"
            )
        self.loss_name = loss
        self.loss_fn = _loss_with_options(loss, loss_options)
        self.temperature = float(temperature)
        self.reg_weight = float(reg_weight)
        g = data.graph
        etypes = [tuple(et) for et in g.canonical_etypes]
        main = tuple(data.target) if target is None else resolve_relation(etypes, target, "objective.target")
        if main != tuple(data.target):
            src, dst = (t.long() for t in g.edges(etype=main))
        else:
            src, dst = (t.long() for t in data.splits["train"])
        self.item_bias: nn.Parameter | None = None
        if item_bias:
            if main[0] == main[2]:
                raise ConfigError(
                    f"objective.item_bias needs a main task between two node types, got {main}; set "
                    f"objective.item_bias=false"
                )
            if scorer == "cosine" or getattr(scorer, "func", scorer) is SCORERS["cosine"]:
                raise ConfigError("objective.item_bias adds b_i to a dot product; it does not apply to cosine scores: "
                                 "set objective/scorer=dot or objective.item_bias=false")
            self.item_bias = nn.Parameter(torch.zeros(g.num_nodes(main[2])))
            dim = int(dim) + 1  # the bias column
        self.scorers = nn.ModuleDict()
        self.tasks: list[Task] = []
        self._add_task(main, src, dst, 1.0, scorer, sampler, dim, g)
        if float(aux_weight) > 0:
            aux = resolve_relation(etypes, aux_relation, "objective.aux_relation")
            a_src, a_dst = (t.long() for t in g.edges(etype=aux))
            self._add_task(aux, a_src, a_dst, float(aux_weight), scorer, sampler, dim, g)
        self.target: CanonicalEType = main  # type: ignore[assignment]

    def augment(self, h: dict[str, torch.Tensor], dst_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """With ``item_bias``: append the bias column (1 for the main task's sources, ``b_i`` for its destinations
        ``dst_ids``, default all); otherwise ``h`` unchanged."""
        if self.item_bias is None:
            return h
        st, _, dt = self.tasks[0].etype
        out = dict(h)
        if st in h:
            out[st] = torch.cat([h[st], h[st].new_ones(h[st].shape[0], 1)], 1)
        if dt in h:
            b = self.item_bias if dst_ids is None else self.item_bias[dst_ids.to(self.item_bias.device)]
            out[dt] = torch.cat([h[dt], b.unsqueeze(1).to(h[dt].dtype)], 1)
        return out

    def _add_task(self, etype, src, dst, weight, scorer, sampler, dim, g) -> None:
        key = etype[1]
        self.scorers[key] = _make_scorer(scorer, dim)
        smp = _make_sampler(sampler).bind((src, dst), g.num_nodes(etype[0]), g.num_nodes(etype[2]))
        self.tasks.append(Task(tuple(etype), src, dst, smp, float(weight), key))

    @property
    def scorer(self) -> Scorer:
        """The main task's scorer (used for ranking)."""
        return self.scorers[self.tasks[0].key]

    @property
    def scorer_name(self) -> str:
        return getattr(self.scorer, "name", type(self.scorer).__name__)

    def batch_loss(
        self,
        task: Task,
        h: dict[str, torch.Tensor],
        x: dict[str, torch.Tensor],
        src_ids: torch.Tensor,
        dst_ids: torch.Tensor,
        *,
        src_rows: torch.Tensor | None = None,
        dst_rows: torch.Tensor | None = None,
        neg_rows: torch.Tensor | None = None,
        neg_ids: torch.Tensor | None = None,
        reg_inputs: Sequence[torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Weighted loss plus regularisation of one task's batch of positive pairs: the one place where a step's loss
        is assembled, for full-graph and mini-batch training alike (the task's sampler supplies the negatives).

        Args:
            task: one of :attr:`tasks`.
            h: output embeddings ``{ntype: [n, D]}`` (after :meth:`augment`); x: the matching input embeddings.
            src_ids, dst_ids: the positives' global node ids ``[B]`` (CPU; used for sampling and masking).
            src_rows, dst_rows: their rows in ``h`` (default: the ids themselves, i.e. full-graph embeddings).
            neg_rows, neg_ids: ``[B, K]`` negatives a mini-batch loader already drew (rows in ``h`` and global ids);
                default: the sampler draws them now with ``generator``.
            reg_inputs: input-embedding rows to regularise (default: the batch's sources, destinations and drawn
                negatives).

        Returns:
            scalar ``task.weight * loss + regularization``.
        """
        st, _, dt = task.etype
        dev = h[st].device
        src_rows = src_ids.to(dev) if src_rows is None else src_rows
        dst_rows = dst_ids.to(dev) if dst_rows is None else dst_rows
        h_src, h_dst = h[st][src_rows], h[dt][dst_rows]
        negs = task.sampler.negatives(h[dt], src_ids, dst_ids, rows=neg_rows, ids=neg_ids, generator=generator,
                                      h_pos=h_dst)
        loss = self.loss_of(task, h_src, h_dst, negs)
        if reg_inputs is None:
            reg_inputs = [x[st][src_rows], x[dt][dst_rows]]
            if negs.rows is not None:
                reg_inputs.append(x[dt][negs.rows.reshape(-1)])
        return task.weight * loss + self.regularization(*reg_inputs)

    def loss_of(self, task: Task, h_src: torch.Tensor, h_dst: torch.Tensor, negs: Negatives) -> torch.Tensor:
        """Unweighted loss of positives ``(h_src, h_dst)`` (``[B, D]``) against ``negs``."""
        sc = self.scorers[task.key]
        neg = sc.all(h_src, negs.emb) if negs.shared else sc.many(h_src, negs.emb)
        return self.loss_fn(sc(h_src, h_dst), neg, negs.mask, self.temperature)

    def dgl_negative_sampler(self, to_ids: Callable | None = None, from_ids: Callable | None = None):
        """The tasks' samplers as DGL's ``negative_sampler(g, eids) -> {etype: (src, dst)}`` for
        ``dgl.dataloading.as_edge_prediction_sampler``, or ``None`` when no task draws negatives.

        Args:
            to_ids, from_ids: ``f(ntype, ids) -> ids`` mapping the loader graph's node ids to the objective's and back
                (a partitioned graph renumbers nodes); default: the same ids.
        """
        drawing = {t.etype: t for t in self.tasks if t.sampler.draws}
        if not drawing:
            return None

        def sample(g, eids):
            out = {}
            for et, e in eids.items():
                task = drawing.get(g.to_canonical_etype(et))
                if task is None:
                    continue
                st, _, dt = task.etype
                src, _ = g.find_edges(e, etype=task.etype)
                neg, _ = task.sampler.sample(src if to_ids is None else to_ids(st, src))
                neg = neg if from_ids is None else from_ids(dt, neg)
                out[task.etype] = (src.repeat_interleave(neg.shape[1]), neg.reshape(-1).to(src.dtype))
            return out

        return sample

    def blocks_loss(self, h: dict[str, torch.Tensor], x: dict[str, torch.Tensor], pos_g, neg_g, blocks,
                    to_ids: Callable | None = None) -> tuple[torch.Tensor | None, int]:
        """Loss of one mini-batch of DGL's edge-prediction loader: every task's positive edges of ``pos_g`` (and
        drawn negatives of ``neg_g``) against the output embeddings ``h`` of ``blocks``; the inputs of the output nodes
        are regularised.

        Args:
            to_ids: ``f(ntype, ids) -> ids`` from the loader graph's node ids (``dgl.NID``) to the objective's
                (default: the same ids, on CPU).

        Returns:
            ``(loss or None when the batch holds no task edge, positives of the main task)``.
        """
        to_ids = to_ids or (lambda nt, ids: ids.cpu())
        nid = dgl.NID
        seeds = {nt: blocks[-1].num_dst_nodes(nt) for nt in blocks[-1].dsttypes}
        loss, n_pos = None, 0
        for task in self.tasks:
            et = task.etype
            if pos_g.num_edges(et) == 0:
                continue
            st, _, dt = et
            ps, pd = pos_g.edges(etype=et)
            negs = {}
            if task.sampler.draws:  # the loader drew them into the blocks: local rows and their global ids
                nd = neg_g.edges(etype=et)[1].view(-1, task.sampler.num_negatives)
                negs = {"neg_rows": nd, "neg_ids": to_ids(dt, neg_g.nodes[dt].data[nid][nd])}
            term = self.batch_loss(
                task, h, x, to_ids(st, pos_g.nodes[st].data[nid][ps]), to_ids(dt, pos_g.nodes[dt].data[nid][pd]),
                src_rows=ps, dst_rows=pd, reg_inputs=[x[nt][: seeds[nt]] for nt in (st, dt) if nt in seeds], **negs,
            )
            loss = term if loss is None else loss + term
            if task is self.tasks[0]:
                n_pos += int(ps.numel())
        return loss, n_pos

    def regularization(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``reg_weight * sum ||x||^2 / (2 B)`` over input-embedding rows of the batch (B = rows of the first)."""
        if self.reg_weight == 0 or not inputs:
            return inputs[0].new_zeros(()) if inputs else torch.zeros(())
        b = max(1, inputs[0].shape[0])
        return self.reg_weight * sum(x.pow(2).sum() for x in inputs) / (2 * b)

    def score_all(self, h_src: torch.Tensor, h_dst: torch.Tensor) -> torch.Tensor:
        """Main-task scores of each source against every destination. Shapes: ``[B, D], [N, D] -> [B, N]``."""
        return self.scorer.all(h_src, h_dst)


def _loss_with_options(loss: str, options: Mapping[str, float] | None) -> Callable:
    """The loss function with ``options`` bound (``objective.loss_options``); unknown option names are a
    ConfigError naming the ones the loss takes."""
    fn = LOSSES[loss]
    if not options:
        return fn
    import inspect

    known = [p for p in inspect.signature(fn).parameters if p not in ("pos", "neg", "mask", "temperature")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"objective.loss_options {unknown} are not options of loss {loss!r} (it takes "
                          f"{known or 'none'}); e.g. objective.loss_options={{margin: 0.8}} with objective=ccl")
    return functools.partial(fn, **{k: float(v) for k, v in options.items()})
