"""Classical baselines under one :class:`Recommender` interface (each is a Hydra option conf/model/baseline/)."""

from hetrec.evaluate.baselines.association_rules import AssociationRules, frequent_itemsets, pair_rules
from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.evaluate.baselines.ease import EASE
from hetrec.evaluate.baselines.graph_filter import GraphFilter
from hetrec.evaluate.baselines.graph_walks import DeepWalk, PersonalizedPageRank, homogeneous_adjacency
from hetrec.evaluate.baselines.itemknn import ItemKNN
from hetrec.evaluate.baselines.mf_bpr import MFBPR
from hetrec.evaluate.baselines.most_popular import MostPopular

__all__ = [
    "Recommender",
    "train_matrix",
    "MostPopular",
    "ItemKNN",
    "EASE",
    "MFBPR",
    "AssociationRules",
    "pair_rules",
    "frequent_itemsets",
    "PersonalizedPageRank",
    "DeepWalk",
    "GraphFilter",
    "homogeneous_adjacency",
]
