"""Run by tests/dist/test_dist_memory.py in a fresh process (DGL's distributed module initialises once per process):
DGL's standalone mode (one part, the kvstore in this process, torch.distributed with world size 1) exercises the
code of ``train.mode=distributed`` without servers. Prints one JSON line of facts for the test to check."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["DGL_DIST_MODE"] = "standalone"

import torch  # noqa: E402
from torch import nn  # noqa: E402

from hetrec._dgl import dgl  # noqa: E402


def _cfg(tmp: Path):
    from hydra import compose, initialize_config_dir

    from hetrec.registry import register_configs

    register_configs()
    conf = str(Path(__file__).resolve().parents[2] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        return compose("config", overrides=[
            f"cache_dir={tmp / 'cache'}", "dataset.num_users=300", "dataset.num_items=150",
            "dataset.num_interactions=6000", "dataset.num_pairs=20", "dataset.num_brands=10", "train=minibatch",
            "train.fanouts=[5,5,5]", "train.batch_size=1024", "objective.aux_weight=0.5"])


def embedding_facts(g, to_new) -> dict:
    """DistIdEmbedding on a permuted layout: reads and state dicts in original ids, a step touches only its rows."""
    from hetrec.dist import embedding as E
    from hetrec.models.input import NodeInput

    ntypes = {nt: int(g.num_nodes(nt)) for nt in g.ntypes}
    torch.manual_seed(0)
    ni = NodeInput(ntypes, {}, 4)
    model = nn.Module()
    model.node_input, model.lin = ni, nn.Linear(4, 1)
    w0 = {k: v.clone() for k, v in model.state_dict().items()}
    mods, opt = E.attach(model, g, to_new, writer=True, lr=0.1, prefix="probe")
    out = {"keys_kept": sorted(model.state_dict()) == sorted(w0),
           "state_equal_init": all(torch.equal(model.state_dict()[k], w0[k]) for k in w0),
           "no_dense_embedding": not any(n.startswith("node_input.embeddings.") for n, _ in model.named_parameters())}
    nt = "item"
    store = mods[nt].dist.weight[torch.arange(ntypes[nt])]  # the servers' layout: shuffled ids
    out["stored_permuted"] = torch.equal(store[to_new[nt]], w0[f"node_input.embeddings.{nt}.weight"])
    ids = torch.tensor([3, 0, 7])
    x = model.node_input({nt: ids, "user": torch.tensor([1])}, {})
    out["forward_rows"] = torch.equal(x[nt], w0[f"node_input.embeddings.{nt}.weight"][ids])
    opt.zero_grad()
    x[nt].sum().backward()  # the user rows get no gradient: their lookup is dropped before DGL's step
    E.prune_unused(mods)
    opt.step()
    sd = model.state_dict()
    moved = (sd[f"node_input.embeddings.{nt}.weight"] - w0[f"node_input.embeddings.{nt}.weight"]).abs().sum(1) > 0
    out["moved_rows"] = torch.nonzero(moved).flatten().tolist()
    user = "node_input.embeddings.user.weight"
    out["user_unchanged"] = torch.equal(sd[user], w0[user])
    state = E.sparse_state(opt, mods)
    out["adam_steps"] = state["rows"][nt][0][ids].tolist()
    model.load_state_dict(w0)  # the writer pushes the rows back
    out["loaded_back"] = torch.equal(model.state_dict()[f"node_input.embeddings.{nt}.weight"],
                                     w0[f"node_input.embeddings.{nt}.weight"])
    E.load_sparse_state(opt, mods, {**state, "rows": {k: [torch.zeros_like(t) for t in v]
                                                      for k, v in state["rows"].items()}}, writer=True)
    out["state_reset"] = float(E.sparse_state(opt, mods)["rows"][nt][0].abs().sum())
    reader = E.DistIdEmbedding(mods[nt].dist, to_new[nt], writer=False)
    out["reader_state_keys"] = list(reader.state_dict())
    return out


def main(tmp: Path) -> dict:
    from hetrec.dist.partition import GRAPH_NAME, load_id_maps, part_config, write_partitions
    from hetrec.dist.trainer import DistTrainer
    from hetrec.dist.view import trainer_view
    from hetrec.train.app import build_model, load_data
    from hetrec.train.trainer import seed_everything

    cfg = _cfg(tmp)
    data = load_data(cfg)
    folder = tmp / "parts"
    write_partitions(data, folder, 1, "random", cfg)
    dgl.distributed.initialize(None)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp / 'pg'}", rank=0, world_size=1)
    g = dgl.distributed.DistGraph(GRAPH_NAME, part_config=str(part_config(folder)))
    node_map, edge_maps = load_id_maps(folder, edges=False)
    facts: dict = {"edge_maps_read": len(edge_maps)}
    perm = {nt: torch.randperm(int(g.num_nodes(nt)), generator=torch.Generator().manual_seed(1)) for nt in g.ntypes}
    facts["embedding"] = embedding_facts(g, perm)

    # the view of ranks > 0 builds the same model and objective as the whole data
    view = trainer_view(folder, g, node_map, cfg)
    seed_everything(0)
    m_full, _ = build_model(cfg, data)
    seed_everything(0)
    m_view, _ = build_model(cfg, view)
    facts["same_parameters"] = [(k, tuple(v.shape)) for k, v in m_full.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in m_view.state_dict().items()]
    facts["same_init"] = all(torch.equal(a, b) for a, b in zip(m_full.state_dict().values(),
                                                               m_view.state_dict().values()))
    facts["same_positives"] = [
        sorted(zip(a.src.tolist(), a.dst.tolist())) == sorted(zip(b.src.tolist(), b.dst.tolist()))
        for a, b in zip(m_full.objective.tasks, m_view.objective.tasks)]
    facts["view_edges"] = int(sum(view.graph.num_edges(et) for et in view.graph.canonical_etypes))
    facts["view_feature_bytes"] = int(sum(f.untyped_storage().nbytes() for f in view.features.values()))
    facts["same_feature_shapes"] = {k: tuple(v.shape) for k, v in view.features.items()} == \
        {k: tuple(v.shape) for k, v in data.features.items()}

    # DistTrainer with the id embeddings on the (standalone) servers: train, checkpoint, resume, evaluate
    run = tmp / "run"
    to_orig = node_map

    def trainer(epochs: int) -> DistTrainer:
        seed_everything(0)
        model, _ = build_model(cfg, data)
        return DistTrainer(model, data, dist_graph=g, node_map=to_orig, checkpoint_dir=run, sparse="adam",
                           run_dir=run, batch_size=1024, max_epochs=epochs, fanouts=[5, 5, 5], progress=False,
                           seed=0, ks=[10, 20])

    t1 = trainer(1)
    init = t1.model.state_dict()["node_input.embeddings.item.weight"].clone()
    s1 = t1.fit()
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    state = ck.get("state", ck)
    facts["sparse"] = t1._sparse is not None and "sparse_optimizer" in state
    facts["ckpt_has_rows"] = tuple(state["model"]["node_input.embeddings.item.weight"].shape)
    facts["rows_trained"] = not torch.equal(init, t1.model.state_dict()["node_input.embeddings.item.weight"])
    facts["local_batch"] = t1.local_batch_size
    facts["epoch1"] = s1["epochs"]
    t2 = trainer(2)
    s2 = t2.fit()
    facts["resumed_from"], facts["epochs"] = s2["resumed_from"], s2["epochs"]
    test = t2.evaluate("test")
    facts["recall20"] = float(test["recall@20"])
    facts["emb_rows"] = int(t2.embeddings()["item"].shape[0])
    return facts


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1])), default=str))
