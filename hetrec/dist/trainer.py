"""``hetrec-train train.mode=distributed``: the mini-batch trainer on DGL's distributed engine.

One trainer per process (started by :mod:`hetrec.dist.launch`, which sets DGL's and torch.distributed's environment
variables). Each trainer connects to the DGL servers (``dgl.distributed.initialize``), opens the partitioned graph as
a ``DistGraph``, takes its share of the training edges (``dgl.distributed.edge_split``) and samples neighbourhoods
through the servers (``dgl.dataloading.DistEdgeDataLoader`` with a ``NeighborSampler``, fan-outs per relation,
and the objective's negative sampler); node features are read from the servers. Gradients are averaged by torch's
``DistributedDataParallel`` (gloo on CPU). The encoders, objectives (``LinkObjective.batch_loss``) and samplers are
the single-process ones, unchanged.

``train.batch_size`` is the global batch, as in single-process training: each of the T trainers takes
``ceil(batch_size / T)`` training edges per step, so T trainers do the single process's work per step and an epoch has
its number of steps (every rank runs the same number: the smallest over ranks, so a rank may leave out its last,
partial batch of the epoch). With ``train.batch_size=null`` the size is chosen from the whole training set, as in
single-process training, then divided.

Id embeddings (``dist.sparse_embedding=true``, the default) live in the servers as ``dgl.distributed.DistEmbedding``
tables updated by DGL's sparse optimizer (:mod:`hetrec.dist.embedding`); every other weight is replicated and
averaged by DDP.

Rank 0 does everything that needs the whole graph, as single-process training does: validation for early stopping
(the metrics are broadcast, so every rank stops at the same epoch), checkpoints, the test evaluation, ``metrics.json``
and the artifact (:func:`hetrec.train.app.train` with this trainer). It evaluates on the partition folder's
``graph_data/`` (full-neighbour embeddings of every node). The other ranks never load ``graph_data/``: they build
their model and objective from the partition (:mod:`hetrec.dist.view`), and write only their own run folder's log.

Two things differ from single-process mini-batches, both because of the engine:

- ``DistGraph.sample_neighbors`` ignores ``exclude_edges`` (DGL 2.1), and partitioning renumbers each relation's
  edges, so ``exclude="reverse_types"`` (same edge id in the reverse relation) cannot work. The seed edges and their
  reverses are removed here from each sampled frontier by endpoint pair (:class:`PairExcludingSampler`): a seed
  edge never carries its own message. Neighbours are drawn before the removal, so a node next to a seed edge may
  get one neighbour fewer than its fan-out.
- DGL renumbers nodes per part; embeddings, samplers and masks use the original ids (``id_maps.npz``).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from hetrec._dgl import dgl
from hetrec.dist import embedding as dist_emb
from hetrec.dist.partition import FEAT, GRAPH_NAME, load_id_maps, part_config
from hetrec.errors import ConfigError
from hetrec.io import atomic_write_text
from hetrec.train.trainer import CHECKPOINT, Trainer, seed_everything

log = logging.getLogger("hetrec.dist")

__all__ = ["DistTrainer", "PairExcludingSampler", "distributed_job"]


class PairExcludingSampler(dgl.dataloading.NeighborSampler):
    """DGL's ``NeighborSampler`` that removes the seed edges and their reverse edges from every sampled frontier,
    matching them by endpoints (``exclude_eids``: ``{etype: seed edge ids}``, what ``DistEdgeDataLoader`` passes with
    ``exclude="self"``). ``reverse``: canonical etype -> canonical etype of its reverse relation."""

    def __init__(self, fanouts, reverse: dict, **kwargs) -> None:
        super().__init__(fanouts, **kwargs)
        self.reverse = reverse

    def _banned(self, g, exclude_eids) -> dict:
        banned: dict = {}
        for et, eids in (exclude_eids or {}).items():
            et = g.to_canonical_etype(et)
            if len(eids) == 0:
                continue
            s, d = g.find_edges(eids, etype=et)
            s, d = s.long(), d.long()
            banned.setdefault(et, []).append(s * g.num_nodes(et[2]) + d)
            rev = self.reverse.get(et)
            if rev is not None:
                banned.setdefault(rev, []).append(d * g.num_nodes(rev[2]) + s)
        return {et: torch.cat(v) for et, v in banned.items()}

    @staticmethod
    def _drop(g, frontier, banned: dict):
        for et, keys in banned.items():
            if frontier.num_edges(et) == 0:
                continue
            s, d = frontier.edges(etype=et)
            hit = torch.isin(s.long() * g.num_nodes(et[2]) + d.long(), keys).nonzero().squeeze(1)
            if hit.numel():
                frontier = dgl.remove_edges(frontier, hit.to(frontier.idtype), etype=et)
        return frontier

    def sample_blocks(self, g, seed_nodes, exclude_eids=None):
        banned = self._banned(g, exclude_eids)
        output_nodes, blocks = seed_nodes, []
        for fanout in reversed(self.fanouts):
            frontier = g.sample_neighbors(seed_nodes, fanout, edge_dir=self.edge_dir, prob=self.prob,
                                          replace=self.replace)
            frontier = self._drop(g, frontier, banned)
            block = dgl.to_block(frontier, seed_nodes)
            if dgl.EID in frontier.edata.keys():
                block.edata[dgl.EID] = frontier.edata[dgl.EID]
            seed_nodes = block.srcdata[dgl.NID]
            blocks.insert(0, block)
        return seed_nodes, output_nodes, blocks


class _StepLoss(nn.Module):
    """One mini-batch's loss as a module call, so that DistributedDataParallel sees (and syncs) the backward."""

    def __init__(self, trainer: DistTrainer) -> None:
        super().__init__()
        self.model = trainer.model
        self.__dict__["trainer"] = trainer  # not a submodule

    def forward(self, batch):
        return self.trainer.batch_loss(batch)


class DistTrainer(Trainer):
    """:class:`~hetrec.train.trainer.Trainer` whose mini-batches come from a ``DistGraph`` and whose gradients are
    averaged over ranks by DDP. ``dist_graph``: the opened ``DistGraph``; ``node_map``: per node type, shuffled id
    -> original id; ``checkpoint_dir``: rank 0's run folder (where every rank resumes from); ``sparse``: DGL's
    sparse optimizer for the id embeddings held by the servers (``"adam"`` | ``"adagrad"``; ``None``: dense
    replicas averaged by DDP); ``has_valid``: whether the run validates (ranks > 0, whose data view holds no
    held-out pairs)."""

    def __init__(self, model, data, *, dist_graph, node_map: dict, checkpoint_dir: Path, sparse: str | None = "adam",
                 has_valid: bool | None = None, **kwargs) -> None:
        kwargs["mode"] = "minibatch"
        if str(kwargs.get("device", "cpu")) != "cpu":
            raise ConfigError("train.mode=distributed runs on CPU here (DGL's DistGraph samples on CPU); set "
                              "train.device=cpu")
        self.dg = dist_graph
        self.rank, self.world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.to_orig = {nt: v.long() for nt, v in node_map.items()}
        self.to_new = {}
        for nt, v in self.to_orig.items():
            inv = torch.empty_like(v)
            inv[v] = torch.arange(len(v))
            self.to_new[nt] = inv
        # before the dense optimizer is made: the id embeddings move to the servers (collective: every rank)
        self._embs, self._sparse = {}, None
        if sparse:
            got = dist_emb.attach(model, dist_graph, self.to_new, writer=self.rank == 0, optimizer=str(sparse),
                                  lr=float(kwargs.get("lr", 0.01)))
            if got is not None:
                self._embs, self._sparse = got
        super().__init__(model, data, **kwargs)
        if has_valid is not None:
            self.has_valid = bool(has_valid)
        self.local_batch_size = max(1, math.ceil(self.batch_size / self.world))  # batch_size: the global batch
        self.checkpoint_dir = Path(checkpoint_dir)
        self.feat_ntypes = [nt for nt in data.features if nt in dist_graph.ntypes]
        self.ddp = nn.parallel.DistributedDataParallel(_StepLoss(self), find_unused_parameters=True)
        self._collective = False
        self._loader, self._steps = None, 0
        self.train_peak_gb: float | None = None  # peak RSS before the first validation: training alone

    # ------------------------------------------------------------------ rank 0 writes, every rank resumes
    @property
    def checkpoint_path(self) -> Path | None:
        return self.checkpoint_dir / CHECKPOINT

    def save_checkpoint(self) -> None:
        if self.rank == 0:
            super().save_checkpoint()

    def state_dict(self) -> dict:
        state = super().state_dict()  # the model's id embeddings pulled from the servers (rank 0)
        if self._sparse is not None:
            state["sparse_optimizer"] = dist_emb.sparse_state(self._sparse, self._embs)
        return state

    def load_state_dict(self, state: dict) -> None:
        # every rank resumes (try_resume); rank 0 pushes the id embeddings and their optimizer state to the servers
        if (self._sparse is not None) != ("sparse_optimizer" in state):
            raise ValueError("the checkpoint was written with dist.sparse_embedding="
                             f"{str('sparse_optimizer' in state).lower()}, this run has "
                             f"{str(self._sparse is not None).lower()}")
        super().load_state_dict(state)
        if self._sparse is not None:
            dist_emb.load_sparse_state(self._sparse, self._embs, state["sparse_optimizer"], writer=self.rank == 0)
        torch.distributed.barrier()  # rank 0's rows are in before any rank pulls

    def _log(self, record: dict) -> None:
        if self.rank == 0:
            super()._log(record)

    def _truncate_log(self) -> None:
        if self.rank == 0:
            super()._truncate_log()

    def fit(self) -> dict:
        self._collective = True  # validations inside fit: rank 0 computes, every rank receives
        try:
            return super().fit()
        finally:
            self._collective = False

    def evaluate(self, split: str, emb=None, **options) -> dict[str, float]:
        if self.train_peak_gb is None:
            from hetrec.evaluate.runner import peak_rss_gb

            self.train_peak_gb = round(peak_rss_gb(), 3)
        if not self._collective or self.world == 1:
            return super().evaluate(split, emb, **options)
        box = [super().evaluate(split, emb, **options) if self.rank == 0 else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    # ------------------------------------------------------------------ distributed mini-batches
    def _negative_sampler(self):
        # the task's own sampler, in original ids; DGL gets shuffled ids back
        return self.model.objective.dgl_negative_sampler(self._orig, lambda nt, ids: self.to_new[nt][ids.long()])

    def _minibatch_loader(self):
        g = self.dg
        etypes = [tuple(et) for et in g.canonical_etypes]
        by_name = {et[1]: et for et in etypes}
        reverse = {et: by_name[self.data.reverse_etypes[et[1]]] for et in etypes
                   if et[1] in self.data.reverse_etypes and self.data.reverse_etypes[et[1]] in by_name}
        fanouts = [{et: int(f) for et in etypes} for f in self.fanouts]  # per relation: DistGraph needs a dict
        sampler = PairExcludingSampler(fanouts, reverse)
        pb = g.get_partition_book()
        eids = {t.etype: dgl.distributed.edge_split(torch.ones(g.num_edges(t.etype), dtype=torch.bool), pb,
                                                    etype=t.etype, force_even=True)
                for t in self.model.objective.tasks}
        # every rank runs the same number of steps (the collectives of DDP and of the sparse optimizer pair up)
        steps = torch.tensor([math.ceil(sum(len(v) for v in eids.values()) / self.local_batch_size)])
        torch.distributed.all_reduce(steps, op=torch.distributed.ReduceOp.MIN)
        self._steps = int(steps)
        # exclude="self" hands the seed edge ids to the sampler, which removes them and their reverses by endpoints
        return dgl.dataloading.DistEdgeDataLoader(g, eids, sampler, exclude="self",
                                                  negative_sampler=self._negative_sampler(),
                                                  batch_size=self.local_batch_size, shuffle=True, drop_last=False)

    def _orig(self, ntype: str, ids: torch.Tensor) -> torch.Tensor:
        return self.to_orig[ntype][ids.long()]

    def batch_loss(self, batch) -> torch.Tensor | None:
        """The loss of one sampled batch (``input_nodes, pos_g, [neg_g,] blocks``; shuffled ids)."""
        if len(batch) == 4:
            input_nodes, pos_g, neg_g, blocks = batch
        else:
            (input_nodes, pos_g, blocks), neg_g = batch, None
        model, obj, nid = self.model, self.model.objective, dgl.NID
        ids = {nt: self._orig(nt, v) for nt, v in input_nodes.items()}
        feats = {nt: self.dg.nodes[nt].data[FEAT][input_nodes[nt]] for nt in self.feat_ntypes if nt in input_nodes}
        x = model.node_input(ids, feats)
        h = model.encoder(blocks, x)
        dt = obj.target[2]
        dst_ids = (self._orig(dt, blocks[-1].dstnodes[dt].data[nid])
                   if dt in h and obj.item_bias is not None else None)
        h = obj.augment(h, dst_ids)
        return obj.blocks_loss(h, x, pos_g, neg_g, blocks, to_ids=self._orig)[0]

    def _step(self, loss: torch.Tensor) -> None:
        if self._sparse is None:
            return super()._step(loss)
        self._sparse.zero_grad()  # DGL's step then drops the lookups it consumed
        super()._step(loss)
        dist_emb.prune_unused(self._embs)
        self._sparse.step()  # collective: gradients of the rows go to the trainer that updates them

    def _train_epoch_minibatch(self) -> tuple[float, int]:
        # every rank draws its own negatives and shuffles its own share of edges
        seed_everything(self.seed * 100_003 + self.epoch * 1_009 + self.rank)
        if self.deterministic:
            dgl.utils.set_num_threads(1)
        if self._loader is None:  # one loader for the run (DGL registers each distributed loader)
            self._loader = self._minibatch_loader()
        loader = self._loader
        total, n_pos, steps = 0.0, 0, 0
        bar = self._bar(self._steps)
        target = self.model.objective.tasks[0].etype
        for batch in itertools.islice(loader, self._steps):  # the same number of steps on every rank
            loss = self.ddp(batch)
            if loss is None:  # not reached: every batch's seeds are task edges
                raise RuntimeError("a distributed batch without a training edge")
            self._step(loss)
            total += float(loss.detach())
            steps += 1
            n_pos += int(batch[1].num_edges(target))
            bar.update(1)
            bar.set_postfix(loss=f"{total / steps:.4f}")
        bar.close()
        # the epoch's mean loss and edge count over every rank
        t = torch.tensor([total, float(steps), float(n_pos)], dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return float(t[0] / max(t[1], 1)), int(t[2])


def _rss_shared_gb() -> float | None:
    """Of this process's resident memory now, the shared-memory pages (``RssShmem``, Linux): DGL maps the local
    server's part (structure, features, DistEmbedding rows) into a trainer, and the pages it touched count in its RSS
    (and in the server's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssShmem:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 3)
    except OSError:
        pass
    return None


def _check_partition_config(cfg: DictConfig, folder: Path) -> None:
    """The partitions must come from this job's data and graph config (else training and evaluation would not match
    the command line); names the differing keys."""
    saved_path = folder / "config.yaml"
    if not saved_path.exists():
        return
    saved = OmegaConf.load(saved_path)
    diff = [f"{sec}.{k}" for sec in ("dataset", "graph") for k in set(saved.get(sec, {})) | set(cfg.get(sec, {}))
            if OmegaConf.select(saved, f"{sec}.{k}") != OmegaConf.select(cfg, f"{sec}.{k}")]
    if diff:
        raise ConfigError(
            f"the partitions in {folder} were built with another data/graph config ({', '.join(sorted(diff)[:8])} "
            f"differ; see {saved_path}); partition again with these overrides (hetrec-train train.mode=partition ...) "
            f"or use the partition's overrides"
        )


def distributed_job(cfg: DictConfig, run_dir: Path):
    """The ``train.mode=distributed`` job of one trainer process (DGL client). A failing trainer leaves at once:
    DGL's exit hook would wait for the other trainers (which wait for this one), so it is dropped on failure."""
    try:
        return _distributed_job(cfg, run_dir)
    except BaseException:
        import atexit

        from dgl.distributed.dist_context import exit_client

        atexit.unregister(exit_client)
        raise


def _distributed_job(cfg: DictConfig, run_dir: Path):
    from hetrec.graph.cache import load_graph_data
    from hetrec.train import app
    from hetrec.train.run_folder import resume_hash

    app.validate_config(cfg)
    dc = cfg.get("dist") or {}
    if not dc.get("partition_dir"):
        raise ConfigError("train.mode=distributed needs the partitions: set dist.partition_dir=<folder written by "
                          "hetrec-train train.mode=partition>, and start the job with hetrec-dist launch")
    if bool(cfg.train.get("refit")):
        raise ConfigError("train.refit=true is not supported with train.mode=distributed; set train.refit=false")
    if os.environ.get("DGL_ROLE", "client") != "client" or "DGL_IP_CONFIG" not in os.environ:
        raise ConfigError("train.mode=distributed runs as a DGL trainer process: start it with `hetrec-dist launch "
                          "--partition-dir ... -- <overrides>` (it sets DGL_IP_CONFIG, DGL_ROLE and the rest)")
    folder = Path(dc.partition_dir)
    pconf = part_config(folder)
    _check_partition_config(cfg, folder)
    if cfg.train.get("num_threads"):
        torch.set_num_threads(int(cfg.train.num_threads))
    machine = os.environ.get("HETREC_DIST_MACHINE_ID")
    if machine is not None:
        # DGL finds a client's machine by matching its IP addresses against the ip list (the first match): on one
        # host with several "machines" every client would be machine 0. The launcher knows which it is.
        import dgl.distributed.rpc_client as rpc_client

        rpc_client.get_local_machine_id = lambda namebook: int(machine)
    dgl.distributed.initialize(os.environ["DGL_IP_CONFIG"])
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend=str(dc.get("backend", "gloo")))
    rank = torch.distributed.get_rank()
    box = [str(run_dir.resolve()) if rank == 0 else None]
    torch.distributed.broadcast_object_list(box, src=0)  # where every rank resumes from
    # the partition book of this trainer's part (its machine)
    world = torch.distributed.get_world_size()
    nparts = json.loads(pconf.read_text())["num_parts"]
    part_id = int(machine) if machine is not None else rank // max(1, world // nparts)
    gpb = dgl.distributed.load_partition_book(str(pconf), part_id)[0]
    g = dgl.distributed.DistGraph(GRAPH_NAME, gpb=gpb, part_config=str(pconf))
    node_map, _ = load_id_maps(folder, edges=False)
    sparse = str(dc.get("sparse_optimizer") or "adam") if bool(dc.get("sparse_embedding", True)) else None
    if sparse is not None and sparse not in dist_emb.SPARSE_OPTIMIZERS:
        raise ConfigError(f"dist.sparse_optimizer={sparse!r} is unknown; use dist.sparse_optimizer="
                          f"{'|'.join(dist_emb.SPARSE_OPTIMIZERS)}, or dist.sparse_embedding=false")
    held = json.loads((folder / "partition.json").read_text()).get("heldout_pairs", {})
    state: dict = {}

    def make_trainer(model, data_, **kw):
        kw.pop("mode", None)
        trainer = DistTrainer(model, data_, dist_graph=g, node_map=node_map, checkpoint_dir=Path(box[0]),
                              sparse=sparse, has_valid=None if rank == 0 else int(held.get("valid", 0)) > 0, **kw)
        state["trainer"] = trainer
        return trainer

    def facts(trainer) -> dict:
        from hetrec.evaluate.runner import peak_rss_gb

        return {"rank": rank, "peak_rss_gb": round(peak_rss_gb(), 3), "train_peak_rss_gb": trainer.train_peak_gb,
                "rss_shared_gb": _rss_shared_gb(), "batch_per_trainer": trainer.local_batch_size,
                "sparse_embedding": trainer._sparse is not None}

    if rank == 0:
        data = load_graph_data(folder / "graph_data")  # rank 0 evaluates: full ranking needs the whole graph
        metrics = app.train(cfg, run_dir, data=data, make_trainer=make_trainer)
        metrics["distributed"] = {"world_size": torch.distributed.get_world_size(),
                                  "parts": int(g.get_partition_book().num_partitions()), "partition_dir": str(folder),
                                  "global_batch": state["trainer"].batch_size, **facts(state["trainer"])}
        atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, default=str))
        return metrics
    # other ranks: the same model (same seed), the same trainer, built from the partition; rank 0 reports
    from hetrec.dist.view import has_view_metadata, trainer_view

    if has_view_metadata(folder):
        data = trainer_view(folder, g, node_map, cfg)  # rank 0 checks the config against the whole data
    else:  # a partition folder written before partition.json carried the view's metadata
        log.warning("%s/partition.json lacks the trainers' metadata (written by an older hetrec): this trainer loads "
                    "the whole graph_data/; partition again to spare it", folder)
        data = load_graph_data(folder / "graph_data")
        app.validate_against_data(cfg, data)
    seed_everything(int(cfg.seed))
    model, _ = app.build_model(cfg, data)
    tc = app.trainer_options(cfg)
    tc.pop("device", None)
    tc.pop("refit", None)
    trainer = make_trainer(model, data, seed=int(cfg.seed), device="cpu", run_dir=run_dir, ks=list(cfg.evaluate.ks),
                           eval_chunk_size=int(cfg.evaluate.get("chunk_size", 4096)),
                           config_hash=resume_hash(cfg), **tc)
    summary = trainer.fit()
    out = {**facts(trainer), "epochs": summary["epochs"], "train_seconds": summary["train_seconds"]}
    atomic_write_text(run_dir / "trainer.json", json.dumps(out, indent=1))
    print(f"hetrec-train: trainer rank {rank} done ({run_dir / 'trainer.json'}); rank 0 writes the results")
    return None
