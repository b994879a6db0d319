"""The installed environment works: hetrec imports, DGL imports through hetrec._dgl, message passing runs."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_hetrec_and_dgl_message_passing():
    import torch

    import hetrec
    from hetrec.dgl import dgl, fn

    assert hetrec.__version__
    g = dgl.heterograph({("user", "clicks", "item"): (torch.tensor([0, 1, 2]), torch.tensor([0, 0, 1]))})
    g.nodes["user"].data["h"] = torch.tensor([[1.0], [2.0], [4.0]])
    g.update_all(fn.copy_u("h", "m"), fn.sum("m", "s"), etype="clicks")
    assert g.nodes["item"].data["s"].squeeze(1).tolist() == [3.0, 4.0]


def test_dgl_shim_only_stubs_graphbolt_when_its_library_is_missing():
    from hetrec import _dgl

    assert _dgl.GRAPHBOLT_STUBBED == _dgl._graphbolt_library_missing()
    assert "dgl.graphbolt" in sys.modules


def test_fresh_interpreter_can_import_dgl_submodules_after_hetrec():
    code = "import hetrec, dgl, dgl.nn, dgl.dataloading, dgl.sampling, dgl.distributed; print('ok')"
    assert _run(code) == "ok"


def test_repository_top_level_is_the_documented_layout():
    """The project layout: the top level holds exactly these entries (guides live beside what they
    describe, e.g. the plugin guide in plugins/README.md)."""
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    top = {p.split("/", 1)[0] for p in listed.stdout.splitlines()}
    required = {"pyproject.toml", "README.md", "hetrec", "conf", "plugins", "tests", "benchmarks", ".ci"}
    allowed = required | {"Makefile", ".gitignore"}
    assert top <= allowed, (
        f"unexpected top-level entries {sorted(top - allowed)}: move them under one of {sorted(allowed)}"
    )
    assert required <= top, f"missing top-level entries {sorted(required - top)}"


def test_dgl_seed_gives_the_main_thread_the_same_stream_whoever_touched_dgl_rng_first():
    """DGL seeds thread k's engine with seed + k, k in first-come order (a race inside dgl.seed); hetrec._dgl makes
    the importing thread number 0, so another thread seeding first no longer shifts the main thread's stream."""
    draw = "dgl.utils.set_num_threads(1); dgl.seed(0); print(dgl.random.choice(10**6, 5).tolist())"
    reference = _run(f"from hetrec._dgl import dgl\n{draw}")
    other_thread_first = _run(
        "import threading\nfrom hetrec._dgl import dgl\n"
        "t = threading.Thread(target=lambda: (dgl.utils.set_num_threads(1), dgl.seed(7)))\nt.start(); t.join()\n"
        + draw
    )
    assert other_thread_first == reference


def test_import_hetrec_is_lazy_and_a_failed_import_dgl_before_it_is_recovered():
    """`import hetrec` loads neither torch nor DGL (so `hetrec plugins` and `--help` answer fast) but registers the
    GraphBolt stand-in; an `import dgl` that ran (and failed) before hetrec leaves nothing that breaks hetrec.dgl."""
    code = (
        "import sys\n"
        "import hetrec, hetrec.cli, hetrec.registry\n"
        "hetrec.cli.build_parser(); hetrec.registry.describe_plugins()\n"
        "print('torch' in sys.modules, 'dgl' in sys.modules)\n"
        "del sys.modules['dgl.graphbolt']  # as if hetrec had not been imported first\n"
        "try:\n    import dgl\nexcept ImportError as e:\n    print('first import failed:', e)\n"
        "from hetrec.dgl import dgl, dglnn, fn, ops\n"
        "g = dgl.graph(([0, 1], [1, 2]))\n"
        "print(type(dglnn.GATConv(2, 2, 1)).__name__, fn.copy_u.__name__, ops.edge_softmax.__name__, g.num_edges())\n"
    )
    lines = _run(code).splitlines()
    assert lines[0] == "False False"
    from hetrec import _graphbolt

    if _graphbolt.library_missing():  # with this torch, DGL alone cannot import
        assert "torchdata" in lines[1]
    assert lines[-1] == "GATConv copy_u edge_softmax 2"


def test_when_dgl_cannot_be_imported_the_error_names_the_fix():
    from hetrec import _graphbolt

    if not _graphbolt.library_missing():
        pytest.skip("this DGL has GraphBolt for this torch: nothing to fix")
    code = (
        "import hetrec._graphbolt as gb, sys\n"
        "del sys.modules['dgl.graphbolt']; gb.register_stub = lambda: False  # the stand-in came too late\n"
        "try:\n    import hetrec.dgl\nexcept ImportError as e:\n    print(e)\n"
    )
    msg = _run(code)
    assert msg.startswith("hetrec could not import DGL (ModuleNotFoundError: No module named 'torchdata")
    assert "from hetrec.dgl import dgl, dglnn, fn" in msg and "import sorter" in msg


@pytest.mark.slow  # a pytest run in a fresh interpreter
def test_pytest_plugin_lets_a_test_module_import_dgl_before_hetrec(tmp_path):
    (tmp_path / "test_order.py").write_text(
        "import dgl\nfrom dgl import nn as dglnn\n\nfrom hetrec.dgl import dgl as hdgl\n\n\n"
        "def test_order():\n    assert hdgl is dgl and dglnn.GATConv\n"
    )
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_order.py")]
    installed = any(ep.value == "hetrec._pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    if not installed:  # hetrec installed before the entry point existed: load the plugin by hand
        run += ["-p", "hetrec._pytest_plugin"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(run, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:]


def test_first_import_prints_no_backend_message_and_writes_no_dgl_config(tmp_path):
    """DGL prints "DGL backend not selected" and writes ~/.dgl/config.json when no backend is named; hetrec names it."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "DGLBACKEND"} | {"HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from hetrec.dgl import dgl; print(dgl.backend.backend_name)"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "pytorch" and "backend not selected" not in out.stdout + out.stderr
    assert not (tmp_path / ".dgl").exists()
