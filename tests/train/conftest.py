"""Fixtures of the trainer tests; the toy data and encoder live in toys.py."""

from __future__ import annotations

import pytest
import torch

from hetrec._dgl import dgl
from hetrec.graph.data import GraphData

from toys import toy_graph_data


@pytest.fixture
def toy_data() -> GraphData:
    return toy_graph_data()


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny graphs gain nothing from threads; on a shared 2-core machine OpenMP spinning makes them 5x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    dgl.utils.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    dgl.utils.set_num_threads(before)
