"""Scale-out on DGL's own distributed engine (``dgl.distributed``): graph partitioning, ``DistGraph`` servers,
distributed neighbour sampling and trainers synchronised with ``torch.distributed`` (DDP).

- :mod:`hetrec.dist.partition`: ``hetrec-train train.mode=partition``: the heterograph built exactly as for
  training, written with ``dgl.distributed.partition_graph`` plus the held-out pairs, id maps and config.
- :mod:`hetrec.dist.trainer`: ``hetrec-train train.mode=distributed``: one trainer per process on a ``DistGraph``.
- :mod:`hetrec.dist.embedding`: id embeddings held by the servers (``DistEmbedding``, DGL's sparse optimizer).
- :mod:`hetrec.dist.view`: what trainers of rank > 0 build from, instead of the whole ``graph_data/``.
- :mod:`hetrec.dist.launch`: ``hetrec-dist launch``: starts DGL servers and trainers on this machine (no ssh).

The modes register themselves with the app (:data:`hetrec.train.app.JOB_RUNNERS`) when :mod:`hetrec.dist.modes` is
imported; ``hetrec-train`` (``hetrec.cli.train_main``) does that.
"""
