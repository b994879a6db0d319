"""Datasets: each a Hydra option ``conf/dataset/<name>.yaml`` whose ``load()`` returns a checked `ShopData`.

=================  ===================  ==========  =========================================================
class              config               target      source
=================  ===================  ==========  =========================================================
`SyntheticShop`    ``synthetic``        clicks      generated shop with planted structure (the default)
`MovieLens100K`    ``ml100k``           rates       GroupLens raw files, official u1..u5/ua/ub splits
`LightGCNText`     ``lightgcn``         clicks      NGCF/LightGCN ``train.txt``/``test.txt``
`Baskets`          ``baskets``          purchases   market baskets (one per line, or an order-id column)
`Tables`           ``tables``           from config any shop log described by configuration
=================  ===================  ==========  =========================================================
"""

from __future__ import annotations

from hetrec.data.datasets.base import DATA_FORMAT_VERSION, Dataset, default_root, file_digest
from hetrec.data.datasets.lightgcn import LightGCNText, parse_user_items
from hetrec.data.datasets.movielens import MovieLens100K, download_ml100k
from hetrec.data.datasets.synthetic import SyntheticShop
from hetrec.data.datasets.tables import Baskets, Tables

__all__ = [
    "DATA_FORMAT_VERSION",
    "Dataset",
    "SyntheticShop",
    "MovieLens100K",
    "LightGCNText",
    "Baskets",
    "Tables",
    "default_root",
    "download_ml100k",
    "file_digest",
    "parse_user_items",
]
