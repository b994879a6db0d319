"""`GraphData`: the graph stage's output, what encoders, trainers, evaluators and baselines consume."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.graph.schema import CATEGORY, IN_CATEGORY, GraphSchema
from hetrec.types import CanonicalEType, EdgePairs


@dataclass
class GraphData:
    """A typed heterograph for message passing plus leak-free held-out edges.

    Attributes:
        graph: ``dgl.heterograph`` built from **training** interactions only: one relation per event type
            (``("user", "clicks", "item")``, ...), ``("item", "co_bought", "item")`` derived from training baskets
            (edata ``support``, ``confidence``, ``lift``, ``count``), optional ``("item", "in", "category")``, and a
            reverse relation for each (``rev_clicks``, ``rev_co_bought``, ``rev_in``). Every relation has edata
            ``weight`` (float32).
        features: node features per node type, float32 ``[num_nodes, D]``; node types without attributes are absent.
        target: the relation that is predicted, e.g. ``("user", "clicks", "item")``.
        splits: ``{"train": pairs, "valid": pairs, "test": pairs}``: (user, item) internal ids of the target relation;
            ``valid``/``test`` may be empty tensors. ``train`` pairs are exactly the target edges of ``graph``.
        reverse_etypes: relation name -> its reverse's name, both ways (``{"clicks": "rev_clicks",
            "rev_clicks": "clicks", ...}``), as DGL's ``exclude="reverse_types"`` expects.
        idmaps: ``{"user": IdMap, "item": IdMap, ["category": IdMap]}``.
        feature_encoders: fitted, picklable transformers per node type that turn an attribute table into the rows
            of ``features`` (used for cold-start items at serving time).
        split_hash: short hash of the split (strategy, seed and the held-out pairs), recorded with every result.
        name: dataset name.
        planted: copied from ``ShopData.planted`` (ground truth of synthetic data).
        item_attrs: the item attribute table (for explanations, categories and reports), or ``None``.
        train_baskets: binary basket x item CSR matrix of the **training** baskets (held-out interactions removed),
            the source of ``co_bought`` and of basket-based baselines (association rules); ``None`` without baskets.
        co_bought: item pair evidence from ``train_baskets``, arrays ``src, dst, count, support, confidence, lift``
            for every kept ordered pair (the same pairs as the ``co_bought`` edges), or ``None``.
        schema: the `GraphSchema` the graph follows (node types, relations, target), or ``None``.
        info: facts about the build for reports (edge counts per relation, split sizes and parameters, dropped rows,
            seconds per stage, cache path and hit).
    """

    graph: dgl.DGLGraph
    features: dict[str, torch.Tensor]
    target: CanonicalEType
    splits: dict[str, EdgePairs]
    reverse_etypes: dict[str, str]
    idmaps: dict[str, IdMap]
    feature_encoders: dict[str, object] = field(default_factory=dict)
    split_hash: str = ""
    name: str = ""
    planted: dict[str, np.ndarray] = field(default_factory=dict)
    item_attrs: object | None = None
    train_baskets: sp.csr_matrix | None = None
    co_bought: dict[str, np.ndarray] | None = None
    schema: GraphSchema | None = None
    info: dict[str, object] = field(default_factory=dict)

    @property
    def num_users(self) -> int:
        return self.graph.num_nodes(self.target[0])

    @property
    def num_items(self) -> int:
        return self.graph.num_nodes(self.target[2])

    def interaction_matrix(self, split: str = "train") -> sp.csr_matrix:
        """Binary user x item CSR matrix (float32) of one split's target pairs (duplicates collapse to 1).

        Shapes:
            output: [num_users, num_items]
        """
        u, i = self.splits[split]
        m = sp.csr_matrix(
            (np.ones(len(u), dtype=np.float32), (u.numpy(), i.numpy())), shape=(self.num_users, self.num_items)
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def item_categories(self) -> np.ndarray | None:
        """Category id of every item (int64, ``-1`` for none) from ``("item", "in", "category")``, or ``None`` when the
        graph has no categories. With ``graph.categories.parents=true`` an item is also in every ancestor category;
        its leaf (the one of its categories with the fewest items) is taken.

        Shapes:
            output: [num_items]
        """
        et = (self.target[2], IN_CATEGORY, CATEGORY)
        if et not in self.graph.canonical_etypes:
            return None
        src, dst = (t.numpy().astype(np.int64) for t in self.graph.edges(etype=et))
        size = np.bincount(dst, minlength=self.graph.num_nodes(CATEGORY))
        order = np.lexsort((size[dst], src))  # per item, its smallest category first
        src, dst = src[order], dst[order]
        first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.zeros(0, dtype=bool)
        out = np.full(self.num_items, -1, dtype=np.int64)
        out[src[first]] = dst[first]
        return out
