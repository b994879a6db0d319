"""Learnable id embeddings held by DGL's servers: ``dgl.distributed.DistEmbedding`` + DGL's sparse optimizer.

With ``train.mode=distributed`` and ``dist.sparse_embedding=true`` (the default), :func:`attach` replaces each node
type's id-embedding table of :class:`~hetrec.models.input.NodeInput` (an ``nn.Embedding``, one row per node) by a
:class:`DistIdEmbedding`: the rows live in the DGL servers, sharded like the node type's nodes (its node partition
policy), and each trainer pulls only the rows of its batch's input nodes. Their gradients do not go through
DistributedDataParallel: DGL's ``SparseAdam`` (or ``SparseAdagrad``, ``dist.sparse_optimizer``) exchanges them
between trainers and updates only the rows a step touched (lazy Adam, as ``torch.optim.SparseAdam``; a row seen by
several trainers gets the mean of their gradients). The dense parameters (encoder, feature projections, scorers, item
bias) stay replicated and averaged by DDP as before. So a trainer holds no full copy of the table, of its gradient
or of Adam's two moment tables. Encoders and objectives are unchanged: the module is called like ``nn.Embedding``
with original node ids (it maps them to the partition's shuffled ids).

The model's state dict is unchanged too: on the writing rank (rank 0), ``state_dict()`` carries
``...embeddings.<ntype>.weight`` pulled from the servers in original-id order, and ``load_state_dict`` pushes it
back, so checkpoints, the best-epoch state and the artifact hold full embeddings (serving rebuilds a plain
``NodeInput``). Other ranks leave the key out of their state and ignore it when loading (rank 0 writes the servers).
:func:`sparse_state` / :func:`load_sparse_state` do the same for the sparse optimizer's per-row state (checkpoints).

Not the same as single-process training: the embedding rows get DGL's sparse Adam (same ``train.lr``, default
betas/eps; no weight decay, so ``train/optimizer=adamw``'s decay reaches the dense parameters only; no
``train.grad_clip`` on these rows), which updates a row only in the steps that use it.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.dist")

__all__ = ["DistIdEmbedding", "attach", "prune_unused", "sparse_state", "load_sparse_state", "SPARSE_OPTIMIZERS"]

SPARSE_OPTIMIZERS = ("adam", "adagrad")
CHUNK = 1 << 20
_ALIVE: list = []
"""Every DistEmbedding and sparse optimizer made here, kept until the process exits: DGL deletes a dropped
DistTensor on the servers behind a barrier of every trainer, which ranks that drop theirs at different times would
meet at the wrong place (rank 0 evaluates long after the others finished)."""


class DistIdEmbedding(nn.Module):
    """One node type's id embedding on DGL's servers, called like ``nn.Embedding`` with original ids.

    Args:
        emb: the ``dgl.distributed.DistEmbedding`` (rows in shuffled ids). to_new: original id -> shuffled id.
        writer: whether this process puts the rows into state dicts and pushes loaded rows to the servers.
    """

    def __init__(self, emb, to_new: torch.Tensor, writer: bool) -> None:
        super().__init__()
        self.dist = emb
        self.to_new = to_new.long()
        self.writer = bool(writer)
        self.num_embeddings, self.embedding_dim = int(emb.num_embeddings), int(emb.embedding_dim)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        # traced by the DistEmbedding when gradients are recorded; the sparse optimizer's step consumes the trace
        return self.dist(self.to_new[idx.cpu().long()]).to(idx.device)

    def pull(self, tensor=None) -> torch.Tensor:
        """Every row of ``tensor`` (default: the embedding; or a per-row optimizer state) in original-id order."""
        tensor = self.dist.weight if tensor is None else tensor
        parts = [tensor[self.to_new[lo:lo + CHUNK]] for lo in range(0, self.num_embeddings, CHUNK)]
        return torch.cat(parts) if parts else torch.zeros(0, self.embedding_dim)

    def push(self, rows: torch.Tensor, tensor=None) -> None:
        """Write ``rows`` (original-id order, every row) into ``tensor`` (default: the embedding) on the servers."""
        tensor = self.dist.weight if tensor is None else tensor
        rows = rows.detach().cpu().float()
        for lo in range(0, self.num_embeddings, CHUNK):
            tensor[self.to_new[lo:lo + CHUNK]] = rows[lo:lo + CHUNK].contiguous()
        _flush(tensor)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        if self.writer:
            destination[prefix + "weight"] = self.pull()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "weight"
        if key not in state_dict:
            if self.writer:
                missing_keys.append(key)
            return
        w = state_dict[key]
        if tuple(w.shape) != (self.num_embeddings, self.embedding_dim):
            error_msgs.append(f"size mismatch for {key}: copying a param with shape {tuple(w.shape)}, the model has "
                              f"{(self.num_embeddings, self.embedding_dim)}")
        elif self.writer:
            self.push(w)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, on DGL's servers ({self.dist.name})"


def _flush(tensor) -> None:
    """One read from every part's server after writes to ``tensor``: a server answers a client's requests in order,
    so the writes have landed when it returns."""
    pol = tensor.part_policy
    pb = pol.partition_book
    for p in range(pb.num_partitions()):
        ids = pb.partid2nids(p, pol.type_name)
        if len(ids):
            _ = tensor[ids[:1]]


def _dense_rest(model: nn.Module) -> bool:
    return any(p.requires_grad for n, p in model.named_parameters() if not n.startswith("node_input.embeddings."))


def attach(model: nn.Module, g, to_new: dict[str, torch.Tensor], *, writer: bool, optimizer: str = "adam",
           lr: float = 0.01, prefix: str = "hetrec_id") -> tuple[dict[str, DistIdEmbedding], object] | None:
    """Move the id embeddings of ``model.node_input`` onto DGL's servers (see the module docstring). Every trainer
    calls it at the same point (DGL creates the tables collectively); the ``writer`` (rank 0) pushes its initial
    rows, so the start is the single process's initialisation for the same seed. Returns ``({ntype: module},
    sparse optimizer)``, or ``None`` when there is nothing to move (no id embeddings) or nothing would be left for
    DDP (a model whose only trainable weights are the id embeddings: it keeps them dense, as before). The tables
    are named ``<prefix>_<ntype>`` on the servers.
    """
    from hetrec.models.input import NodeInput

    if optimizer not in SPARSE_OPTIMIZERS:
        raise ConfigError(f"dist.sparse_optimizer={optimizer!r} is unknown; use dist.sparse_optimizer="
                          f"{'|'.join(SPARSE_OPTIMIZERS)} (DGL's sparse optimizers)")
    ni = getattr(model, "node_input", None)
    if not isinstance(ni, NodeInput) or not ni.id_embedding or not len(ni.embeddings):
        return None
    if not _dense_rest(model):
        log.warning("dist.sparse_embedding: the model has no trainable weight besides its id embeddings, which "
                    "therefore stay dense (replicated, averaged by DDP)")
        return None
    servers = int(os.environ.get("DGL_NUM_SERVER", "1"))
    if servers != 1:
        raise ConfigError(f"dist.sparse_embedding=true needs one DGL server per machine (DGL's sparse optimizer "
                          f"assigns rows to trainers per server); got {servers}: launch with --servers 1, or set "
                          f"dist.sparse_embedding=false")
    mods = {}
    for nt in sorted(ni.embeddings.keys()):  # DGL creates tables collectively: the same order on every rank
        old = ni.embeddings[nt]
        n, d = old.weight.shape
        if n != int(g.num_nodes(nt)):
            raise ConfigError(f"node type '{nt}': the model has {n} id embeddings but the partitioned graph "
                              f"{int(g.num_nodes(nt))} nodes; partition again with this job's overrides")
        emb = dgl.distributed.DistEmbedding(n, d, name=f"{prefix}_{nt}", part_policy=g.get_node_partition_policy(nt))
        mod = DistIdEmbedding(emb, to_new[nt], writer)
        if writer:
            mod.push(old.weight.detach())
        ni.embeddings[nt] = mod
        mods[nt] = mod
    cls = dgl.distributed.optim.SparseAdam if optimizer == "adam" else dgl.distributed.optim.SparseAdagrad
    opt = cls([m.dist for m in mods.values()], lr=float(lr))
    _ALIVE.append((mods, opt))
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # the writer's initial rows are in before anyone pulls
    return mods, opt


def _states(opt, mod: DistIdEmbedding) -> list:
    st = opt._state[mod.dist.name]  # DGL keeps a table's per-row state here: (step, mem, power) | sum
    return list(st) if isinstance(st, tuple) else [st]


def prune_unused(mods: dict[str, DistIdEmbedding]) -> None:
    """Drop this step's traced lookups that got no gradient (a node type's inputs the loss did not reach): DGL's
    step asserts every traced lookup has one."""
    for m in mods.values():
        m.dist._trace = [(i, e) for i, e in m.dist._trace if e.grad is not None or len(i) == 0]


def sparse_state(opt, mods: dict[str, DistIdEmbedding]) -> dict:
    """The sparse optimizer's state for a checkpoint: kind, hyperparameters and, per node type, its per-row state
    tables in original-id order (pulled from the servers)."""
    return {"kind": type(opt).__name__, "params": dict(getattr(opt, "_defaults", {})),
            "rows": {nt: [m.pull(s) for s in _states(opt, m)] for nt, m in mods.items()}}


def load_sparse_state(opt, mods: dict[str, DistIdEmbedding], state: dict, writer: bool) -> None:
    """Push a :func:`sparse_state` back into the servers (the ``writer`` does; the others check it only)."""
    if state.get("kind") != type(opt).__name__ or set(state.get("rows", {})) != set(mods):
        raise ValueError(f"the checkpoint's sparse optimizer state ({state.get('kind')}, "
                         f"{sorted(state.get('rows', {}))}) is not this run's ({type(opt).__name__}, {sorted(mods)})")
    for nt, m in mods.items():
        tables, rows = _states(opt, m), state["rows"][nt]
        if len(tables) != len(rows) or any(int(r.shape[0]) != m.num_embeddings for r in rows):
            raise ValueError(f"the checkpoint's sparse optimizer state of '{nt}' does not match this model")
        if writer:
            for t, r in zip(tables, rows):
                m.push(r, t)
