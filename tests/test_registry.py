"""Encoder discovery through entry points, Hydra config registration, and the plugin guide's example.

Fake plugins are real distributions on a temporary ``sys.path`` entry (a ``*.dist-info`` folder with ``METADATA`` and
``entry_points.txt`` next to the module), so ``importlib.metadata`` finds them exactly as it finds installed ones.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import MissingConfigException
from hydra.utils import instantiate

from hetrec import registry
from hetrec.models.base import Encoder
from hetrec.models.input import NodeInput
from hetrec.testing import assert_encoder, toy_shop_graph

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "plugins" / "README.md"


# --------------------------------------------------------------------------- helpers
def make_dist(site: Path, name: str, entry_points: dict[str, str], files: dict[str, str], version: str = "1.0") -> None:
    """Write an installed-looking distribution into ``site``: its modules and a dist-info with entry points."""
    for rel, text in files.items():
        p = site / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("[hetrec.encoders]\n" + "\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh sys.path entry for fake distributions; drops their modules and configs afterwards."""
    d = tmp_path / "site"
    d.mkdir()
    monkeypatch.syspath_prepend(str(d))
    before_mods = set(sys.modules)
    before_cfg = set(ConfigStore.instance().repo.get("encoder", {}))
    yield d
    for m in set(sys.modules) - before_mods:
        if m.split(".")[0] not in {"hetrec", "torch", "dgl", "hydra", "omegaconf"}:
            sys.modules.pop(m, None)
    repo = ConfigStore.instance().repo.get("encoder", {})
    for k in set(repo) - before_cfg:
        repo.pop(k, None)


FAKE_MODULE = """
from hetrec.models.sage import SAGE


class FakeSAGE(SAGE):
    '''GraphSAGE under another name, for registry tests.'''
"""


def toy_inputs(dim: int = 16):
    """The toy shop graph and encoder inputs made the way training makes them (NodeInput over the features)."""
    g, feats = toy_shop_graph()
    torch.manual_seed(0)
    node_input = NodeInput({nt: g.num_nodes(nt) for nt in g.ntypes}, {nt: t.shape[1] for nt, t in feats.items()}, dim)
    with torch.no_grad():
        x = node_input({nt: torch.arange(g.num_nodes(nt)) for nt in g.ntypes}, feats)
    return g, x


def compose_encoder(tmp_path: Path, overrides: list[str]):
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "config.yaml").write_text("defaults:\n  - encoder: sage\n  - _self_\n")
    registry.register_configs()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=overrides)


# --------------------------------------------------------------------------- built-ins and the real plugin
def test_builtins_are_registered_by_entry_point_with_packaged_configs():
    enc = registry.available_encoders()
    for name, cls_name in [("gcn", "GCN"), ("rgcn", "RGCN"), ("sage", "SAGE")]:
        info = enc[name]
        assert info.package == "hetrec"
        assert info.value == f"hetrec.models.{name}:{cls_name}"
        assert info.config is not None and Path(info.config).is_file()
        assert Path(info.config) == ROOT / "hetrec" / "models" / "conf" / "encoder" / f"{name}.yaml"
        cls = registry.get_encoder_class(name)
        assert issubclass(cls, Encoder) and cls.__name__ == cls_name


def test_real_installed_lightgcn_plugin_is_discovered():
    enc = registry.available_encoders()
    assert "lightgcn" in enc, "install the plugin: .venv/bin/pip install --no-deps -e plugins/hetrec-lightgcn"
    info = enc["lightgcn"]
    assert info.package == "hetrec-lightgcn" and info.version == "0.1.0"
    assert info.value == "hetrec_lightgcn:LightGCN"
    config = Path(info.config)
    assert config.name == "lightgcn.yaml" and config.parent.parent.parent.name == "hetrec_lightgcn"
    cls = registry.get_encoder_class("lightgcn")
    assert issubclass(cls, Encoder)
    cfg = registry.encoder_config("lightgcn")
    assert cfg["_target_"] == "hetrec_lightgcn.LightGCN" and "etypes" not in cfg


@pytest.mark.slow  # a fresh interpreter importing torch and DGL
def test_discovery_imports_no_plugin_module():
    code = (
        "import sys, hetrec.registry as r; names = sorted(r.available_encoders()); r.describe_plugins(); "
        "print(names, [m for m in ('hetrec.models.gcn', 'hetrec.models.rgcn', 'hetrec.models.sage', 'hetrec_lightgcn') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    names, imported = out.stdout.strip().rsplit("] [", 1)
    assert "'sage'" in names and "'lightgcn'" in names
    assert imported == "]", f"discovery imported plugin modules: [{imported}"


def test_describe_plugins_table_and_json():
    table = registry.describe_plugins()
    header = table.splitlines()[0].split()
    assert header == ["name", "package", "version", "config"]
    assert re.search(r"^lightgcn\s+hetrec-lightgcn\s+0\.1\.0\s+\S*lightgcn\.yaml$", table, re.M)
    assert re.search(r"^sage\s+hetrec\s+0\.1\.0\s+\S*sage\.yaml$", table, re.M)
    rows = json.loads(registry.describe_plugins(as_json=True))
    assert {r["name"] for r in rows} >= {"gcn", "rgcn", "sage", "lightgcn"}
    assert all(set(r) >= {"name", "package", "version", "config"} for r in rows)


def test_config_paths_are_absolute_and_the_same_on_every_call(site, tmp_path, monkeypatch):
    """A plugin found through a relative sys.path entry (e.g. PYTHONPATH=.) used to be listed with a relative path on
    the first call and an absolute one later; now every call, from any folder, gives the same absolute path."""
    make_dist(site, "rel-enc", {"rel_sage": "rel_enc:FakeSAGE"},
              {"rel_enc/__init__.py": FAKE_MODULE, "rel_enc/conf/encoder/rel_sage.yaml": "num_layers: 1\n"})
    monkeypatch.chdir(site.parent)
    monkeypatch.syspath_prepend("site")  # relative to the current folder
    want = str(site / "rel_enc" / "conf" / "encoder" / "rel_sage.yaml")
    first = registry.available_encoders()["rel_sage"].config
    table = registry.describe_plugins()
    monkeypatch.chdir(tmp_path.parent)
    second = {r["name"]: r["config"] for r in json.loads(registry.describe_plugins(as_json=True))}["rel_sage"]
    assert first == second == want
    assert re.search(rf"^rel_sage\s+rel-enc\s+1\.0\s+{re.escape(want)}$", table, re.M)
    assert all(os.path.isabs(info.config) for info in registry.available_encoders().values() if info.config)


def test_hetrec_plugins_command(capsys):
    from hetrec.cli import main

    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"gcn", "rgcn", "sage", "lightgcn"} <= {r["name"] for r in rows}


# --------------------------------------------------------------------------- fake plugins
def test_fake_entry_point_discovery_config_and_training_path(site, tmp_path):
    make_dist(
        site,
        "acme-encoders",
        {"acme_sage": "acme_enc.models:FakeSAGE"},
        {
            "acme_enc/__init__.py": "",
            "acme_enc/models.py": FAKE_MODULE,
            "acme_enc/conf/encoder/acme_sage.yaml": (
                "_target_: acme_enc.models.FakeSAGE\nnum_layers: 2\nhidden_dim: 12\nout_dim: 6\n"
            ),
        },
        version="2.3.1",
    )
    info = registry.available_encoders()["acme_sage"]
    assert (info.package, info.version, info.value) == ("acme-encoders", "2.3.1", "acme_enc.models:FakeSAGE")
    assert info.config == str(site / "acme_enc" / "conf" / "encoder" / "acme_sage.yaml")
    assert "acme_enc.models" not in sys.modules  # listed, not imported
    assert "acme_sage" in registry.describe_plugins()

    cfg = compose_encoder(tmp_path, ["encoder=acme_sage", "encoder.out_dim=5"])
    assert cfg.encoder.hidden_dim == 12 and cfg.encoder.out_dim == 5
    g, x = toy_inputs()
    enc = instantiate(cfg.encoder, etypes=g.canonical_etypes, in_dims={nt: t.shape[1] for nt, t in x.items()})
    assert type(enc).__name__ == "FakeSAGE" and enc.out_dim == 5
    assert registry.get_encoder_class("acme_sage") is type(enc)


def test_plugin_without_yaml_gets_a_target_only_config(site, tmp_path):
    make_dist(site, "bare-enc", {"bare": "bare_enc:FakeSAGE"}, {"bare_enc/__init__.py": FAKE_MODULE})
    info = registry.available_encoders()["bare"]
    assert info.config is None
    assert registry.encoder_config("bare") == {"_target_": "bare_enc.FakeSAGE"}
    cfg = compose_encoder(tmp_path, ["encoder=bare"])
    assert cfg.encoder._target_ == "bare_enc.FakeSAGE"
    assert "(none: class defaults)" in registry.describe_plugins()


def test_unknown_encoder_lists_installed_names():
    installed = ", ".join(sorted(registry.available_encoders()))
    with pytest.raises(registry.UnknownEncoderError) as e:
        registry.get_encoder_class("gat")
    assert str(e.value) == (
        f"unknown encoder 'gat'; installed: {installed}. Install a plugin that provides it; a plugin whose entry point "
        "was added or renamed needs `pip install -e <plugin folder>` again (entry points are read from the installed "
        "metadata)."
    )
    assert "gcn, lightgcn, rgcn, sage" in str(e.value)


def test_hetrec_train_names_an_unknown_encoder_with_the_reinstall_hint_before_hydra(capsys):
    from hetrec.cli import train_main, unknown_encoder_message

    assert unknown_encoder_message(["encoder=sage", "train.max_epochs=1"]) is None
    assert unknown_encoder_message(["-m", "encoder=sage,gcn"]) is None
    assert unknown_encoder_message(["encoder.out_dim=3", "+foo=encoder=gat"]) is None  # not an encoder choice
    msg = unknown_encoder_message(["-m", "encoder=sage,gat_v2"])
    assert msg.startswith("hetrec-train: unknown encoder 'gat_v2'; installed: ") and "pip install -e" in msg
    old = sys.argv
    sys.argv = ["hetrec-train", "encoder=gat_v2"]
    try:
        with pytest.raises(SystemExit) as e:
            train_main()
    finally:
        sys.argv = old
    assert e.value.code == 2 and "unknown encoder 'gat_v2'" in capsys.readouterr().err


def test_two_packages_claiming_one_name_is_an_error_naming_both(site):
    files = {"dup_a/__init__.py": FAKE_MODULE, "dup_b/__init__.py": FAKE_MODULE}
    make_dist(site, "dup-alpha", {"dup": "dup_a:FakeSAGE"}, {k: v for k, v in files.items() if "dup_a" in k})
    make_dist(site, "dup-beta", {"dup": "dup_b:FakeSAGE"}, {k: v for k, v in files.items() if "dup_b" in k}, "0.2")
    for call in (lambda: registry.get_encoder_class("dup"), registry.available_encoders, registry.register_configs):
        with pytest.raises(registry.PluginConflictError) as e:
            call()
        msg = str(e.value)
        assert "'dup'" in msg and "'dup-alpha' 1.0 (dup_a:FakeSAGE)" in msg and "'dup-beta' 0.2 (dup_b:FakeSAGE)" in msg
        assert "pip uninstall" in msg
    text = registry.describe_plugins()  # the diagnosis command shows the conflict instead of failing
    assert "dup (CONFLICT)" in text and "dup-alpha" in text and "dup-beta" in text
    assert registry.get_encoder_class("sage").__name__ == "SAGE"  # other names still work


def test_plugin_import_failure_names_package_and_error(site):
    make_dist(
        site,
        "broken-enc",
        {"broken": "broken_enc:Broken"},
        {"broken_enc/__init__.py": "import torch_sparse_not_installed_xyz\n"},
        version="0.9",
    )
    assert "broken" in registry.available_encoders()  # listing does not import it
    with pytest.raises(registry.PluginImportError) as e:
        registry.get_encoder_class("broken")
    msg = str(e.value)
    assert "'broken'" in msg and "'broken-enc' 0.9" in msg
    assert "ModuleNotFoundError" in msg and "torch_sparse_not_installed_xyz" in msg
    assert isinstance(e.value, ImportError)


def test_yaml_with_data_keys_is_rejected(site):
    make_dist(
        site,
        "leaky-enc",
        {"leaky": "leaky_enc:FakeSAGE"},
        {
            "leaky_enc/__init__.py": FAKE_MODULE,
            "leaky_enc/conf/encoder/leaky.yaml": "_target_: leaky_enc.FakeSAGE\nin_dims: {user: 3}\n",
        },
    )
    with pytest.raises(registry.PluginError, match="in_dims.*remove it from the YAML"):
        registry.encoder_config("leaky")


# --------------------------------------------------------------------------- Hydra: encoder=<each installed>
@pytest.mark.parametrize("name", sorted(registry.available_encoders()))
def test_hydra_compose_and_instantiate_each_installed_encoder(name, tmp_path):
    cfg = compose_encoder(tmp_path, [f"encoder={name}", "encoder.num_layers=2"])
    assert cfg.encoder._target_ == registry.encoder_config(name)["_target_"]
    g, x = toy_inputs(16)
    enc = instantiate(cfg.encoder, etypes=g.canonical_etypes, in_dims={nt: t.shape[1] for nt, t in x.items()})
    assert isinstance(enc, registry.get_encoder_class(name)) and enc.num_layers == 2
    out = enc(g, x)
    assert set(out) == set(g.ntypes)
    assert all(out[nt].shape == (g.num_nodes(nt), enc.out_dim) for nt in g.ntypes)


def test_hydra_error_for_unknown_encoder_lists_installed(tmp_path):
    with pytest.raises(MissingConfigException) as e:
        compose_encoder(tmp_path, ["encoder=gat"])
    for name in registry.available_encoders():
        assert name in str(e.value)


# --------------------------------------------------------------------------- the plugin guide's example
def docs_files() -> dict[str, str]:
    """``{relative path: content}`` of every ``<!-- file: PATH -->`` code block in plugins/README.md."""
    text = DOCS.read_text()
    found = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S)
    assert found, "plugins/README.md lost its <!-- file: ... --> code blocks"
    return dict(found)


def write_docs_plugin(root: Path, folder: str = "hetrec-sgc") -> Path:
    for rel, content in docs_files().items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return root / folder


def read_pyproject(project: Path) -> dict:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+ (tomllib)")
    return tomllib.loads((project / "pyproject.toml").read_text())


def run_docs_plugin_tests(site: Path, project: Path) -> dict:
    """"Install" a guide plugin the way pip's editable mode does (its src folder on sys.path plus its metadata), then
    run every test function of its tests/ folder; return its entry points. The caller removes src from sys.path."""
    meta = read_pyproject(project)
    eps = meta["project"]["entry-points"]["hetrec.encoders"]
    make_dist(site, meta["project"]["name"], eps, {}, meta["project"]["version"])
    sys.path.insert(0, str(project / "src"))
    ran = []
    for test_file in sorted((project / "tests").glob("test_*.py")):
        ns: dict = {}
        exec(compile(test_file.read_text(), str(test_file), "exec"), ns)
        for fname, f in ns.items():
            if fname.startswith("test_") and callable(f):
                f()
                ran.append(fname)
    assert ran, f"no tests in {project / 'tests'}"
    return eps


def test_docs_example_plugin_is_discovered_composed_and_passes_its_own_test(site, tmp_path):
    project = write_docs_plugin(tmp_path / "work")
    try:
        assert run_docs_plugin_tests(site, project) == {"sgc": "hetrec_sgc:SGC"}
        info = registry.available_encoders()["sgc"]
        assert info.package == "hetrec-sgc"
        assert info.config == str(project / "src" / "hetrec_sgc" / "conf" / "encoder" / "sgc.yaml")
        cfg = compose_encoder(tmp_path, ["encoder=sgc", "encoder.out_dim=8"])
        g, x = toy_inputs(16)
        enc = instantiate(cfg.encoder, etypes=g.canonical_etypes, in_dims={nt: t.shape[1] for nt, t in x.items()})
        assert_encoder(enc, g, x, out_dim=8)
    finally:
        sys.path.remove(str(project / "src"))


def test_docs_gat_example_is_a_gatconv_per_relation_and_passes_its_test_over_20_seeds(site, tmp_path):
    """The guide's second example: DGL's GATConv inside HeteroGraphConv (TypedConv) via LayeredEncoder, written from
    the guide alone; its own test runs assert_encoder on the stock toy graph for 20 initialisations, on the dense
    graph, and assert_plugin_config."""
    from hetrec.dgl import dglnn

    project = write_docs_plugin(tmp_path / "work", "hetrec-gat")
    try:
        assert run_docs_plugin_tests(site, project) == {"gat": "hetrec_gat:GAT"}
        test_src = (project / "tests" / "test_gat.py").read_text()
        assert "toy_shop_graph()" in test_src and "range(20)" in test_src  # the stock graph, 20 seeds
        g, x = toy_shop_graph()
        enc = registry.get_encoder_class("gat")(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()})
        convs = [m for m in enc.modules() if isinstance(m, dglnn.HeteroGraphConv)]
        assert len(convs) == enc.num_layers and len(convs[0].mods) == len(g.canonical_etypes)
        assert all(isinstance(m.gat, dglnn.GATConv) for c in convs for m in c.mods.values())
    finally:
        sys.path.remove(str(project / "src"))


@pytest.mark.slow
def test_docs_example_plugin_pip_installed_is_listed_and_trainable(tmp_path):
    """Build and install the guide's plugin with pip (a real wheel: checks the YAML is shipped as package data) into
    a private target folder, then use it from a fresh interpreter."""
    project = write_docs_plugin(tmp_path / "work")
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--target", str(target)]
    out = subprocess.run(pip + [str(project)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (target / "hetrec_sgc" / "conf" / "encoder" / "sgc.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH")) if p)}
    hetrec_cmd = Path(sys.executable).with_name("hetrec")
    listed = subprocess.run([str(hetrec_cmd), "plugins", "--json"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["sgc"]["package"] == "hetrec-sgc" and rows["sgc"]["config"].startswith(str(target))
    code = textwrap.dedent(
        f"""
        import torch
        from hydra import compose, initialize_config_dir
        from hydra.utils import instantiate
        from hetrec import registry
        from hetrec.testing import toy_shop_graph
        registry.register_configs()
        with initialize_config_dir(config_dir={str(tmp_path / 'conf')!r}, version_base="1.3"):
            cfg = compose("config", overrides=["encoder=sgc", "encoder.out_dim=4"])
        g, x = toy_shop_graph()
        enc = instantiate(cfg.encoder, etypes=g.canonical_etypes, in_dims={{k: v.shape[1] for k, v in x.items()}})
        opt = torch.optim.Adam(enc.parameters(), lr=0.05)
        losses = []
        for _ in range(20):  # a few steps of training: embeddings of bought items pulled towards their buyers
            out = enc(g, x)
            u, i = g.edges(etype="purchases")
            loss = -torch.nn.functional.logsigmoid((out["user"][u] * out["item"][i]).sum(1)).mean()
            opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
        assert losses[-1] < losses[0], losses
        print("trained", type(enc).__module__, round(losses[0], 4), round(losses[-1], 4))
        """
    )
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("defaults:\n  - encoder: sage\n  - _self_\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("trained hetrec_sgc")
    # and the main job trains it by name, from a folder outside the repository, hetrec untouched
    train = subprocess.run(
        [str(Path(sys.executable).with_name("hetrec-train")), "encoder=sgc", "dataset.num_users=120",
         "dataset.num_items=60", "dataset.num_interactions=4000", "dataset.num_pairs=10", "train.max_epochs=1",
         "train.progress=false", f"cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["encoder"] == "sgc" and "recall@20" in metrics["test"]


@pytest.mark.slow
@pytest.mark.parametrize("train", ["default", "minibatch"])
def test_docs_gat_example_trains_full_graph_and_minibatch_by_name(tmp_path, train):
    """The guide's `hetrec-train encoder=gat train=minibatch` (and full-graph) works from a folder outside the
    repository, the plugin visible only through its metadata and src folder."""
    project = write_docs_plugin(tmp_path / "work", "hetrec-gat")
    meta = read_pyproject(project)
    site = tmp_path / "site"
    make_dist(site, meta["project"]["name"], meta["project"]["entry-points"]["hetrec.encoders"], {}, "0.1.0")
    paths = [str(site), str(project / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    train_cmd = [str(Path(sys.executable).with_name("hetrec-train")), "encoder=gat", f"train={train}",
                 "encoder.hidden_dim=16", "encoder.out_dim=16", "dataset.num_users=120", "dataset.num_items=60",
                 "dataset.num_interactions=4000", "dataset.num_pairs=10", "train.max_epochs=1", "train.progress=false",
                 "train.num_threads=1", f"cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}"]
    run = subprocess.run(train_cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["encoder"] == "gat" and "recall@20" in metrics["test"]
