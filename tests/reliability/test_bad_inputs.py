"""Bad inputs, table-driven: for each case the user sees exit status 2 (HTTP: a 4xx), no traceback, and a message
that names the culprit (file, row, column or config key) and the fix.

Cases run in-process: ``hetrec-train`` through ``hetrec.train.app.main`` with a patched ``sys.argv`` (Hydra included),
``hetrec ...`` through ``hetrec.cli.main(argv)``, the HTTP API through FastAPI's ``TestClient``. Data cases use a small
hand-written transaction table (the ``dataset=tables`` layout) with one defect each; config cases use a tiny synthetic
shop whose graph is cached once for the whole module.
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from hetrec import cli
from hetrec.train import app

HEADER = "customer_id,date,product_id,category,quantity,price,age_band,region"
ROWS = [
    "c1,2025-01-02,p1,Food,1,2.5,18-25,north",
    "c1,2025-01-02,p2,Food,2,3.0,18-25,north",
    "c1,2025-01-05,p3,Tools,1,9.9,18-25,north",
    "c2,2025-01-03,p1,Food,1,2.5,26-35,south",
    "c2,2025-01-04,p4,Tools,3,5.0,26-35,south",
    "c2,2025-01-06,p2,Food,1,3.0,26-35,south",
    "c3,2025-01-03,p3,Tools,1,9.9,36-45,east",
    "c3,2025-01-07,p4,Tools,2,5.0,36-45,east",
    "c3,2025-01-08,p1,Food,1,2.5,36-45,east",
    "c4,2025-01-04,p2,Food,1,3.0,18-25,west",
    "c4,2025-01-09,p3,Tools,4,9.9,18-25,west",
    "c4,2025-01-10,p4,Tools,1,5.0,18-25,west",
]
"""A valid table (checked by `test_the_base_table_is_valid`); data row ``k`` (1-based) is file row ``k + 1``."""

TINY = ["dataset.num_users=60", "dataset.num_items=30", "dataset.num_pairs=5", "dataset.num_interactions=800",
        "train.max_epochs=1", "node_input.dim=8", "encoder.hidden_dim=8", "encoder.out_dim=8"]


def csv_text(rows=ROWS, header=HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def with_cell(row: int, column: str, value: str, rows=ROWS) -> list[str]:
    """``rows`` with data row ``row`` (1-based) having ``value`` in ``column``."""
    cols = HEADER.split(",")
    out = list(rows)
    cells = out[row - 1].split(",")
    cells[cols.index(column)] = value
    out[row - 1] = ",".join(cells)
    return out


def numeric_time_rows(values: dict[int, str]) -> list[str]:
    """ROWS with epoch-second timestamps instead of dates (``values`` overrides some rows)."""
    out = []
    for k, r in enumerate(ROWS, start=1):
        cells = r.split(",")
        cells[1] = values.get(k, str(1735800000 + 3600 * k))
        out.append(",".join(cells))
    return out


def gz_truncated() -> bytes:
    data = gzip.compress(csv_text().encode() * 20)
    return data[: len(data) // 2]


def zip_two_files() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", csv_text())
        z.writestr("b.csv", csv_text())
    return buf.getvalue()


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def base_frame() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(csv_text()), dtype={"customer_id": str, "product_id": str})


TABLE = "t.csv"
TS = ["dataset.date_format=null"]  # numeric epoch seconds in the date column

# (id, files {name: text or bytes}, extra overrides, substrings the message must contain)
DATA_CASES = [
    ("file-missing", {}, [], ["t.csv", "not found"]),
    ("file-empty", {TABLE: ""}, [], ["t.csv", "empty"]),
    ("header-only", {TABLE: HEADER + "\n"}, [], ["t.csv", "no data rows"]),
    ("user-column-misnamed", {TABLE: csv_text(header=HEADER.replace("customer_id", "cust_id"))}, [],
     ["'customer_id' not found", "dataset.columns.user=cust_id"]),
    ("item-column-misnamed", {TABLE: csv_text(header=HEADER.replace("product_id", "productid"))}, [],
     ["'product_id' not found", "dataset.columns.item=productid"]),
    ("date-format-wrong", {TABLE: csv_text(rows=[r.replace("2025-01-", "01/") for r in ROWS])}, [],
     ["row 2", "column 'date'", "dataset.date_format"]),
    ("date-unparseable", {TABLE: csv_text(with_cell(4, "date", "2025-13-45"))}, [],
     ["row 5", "column 'date'", "'2025-13-45'", "dataset.date_format"]),
    ("date-missing", {TABLE: csv_text(with_cell(3, "date", ""))}, [], ["row 4", "column 'date'", "missing"]),
    ("quantity-not-a-number", {TABLE: csv_text(with_cell(6, "quantity", "two"))}, [],
     ["row 7", "column 'quantity'", "'two'"]),
    ("quantity-negative", {TABLE: csv_text(with_cell(2, "quantity", "-3"))}, [],
     ["row 3", "column 'quantity'", "negative", "dataset.bad_values.weight=drop"]),
    ("quantity-zero", {TABLE: csv_text(with_cell(5, "quantity", "0"))}, [],
     ["row 6", "column 'quantity'", "zero", "dataset.bad_values.weight"]),
    ("quantity-missing", {TABLE: csv_text(with_cell(8, "quantity", ""))}, [],
     ["row 9", "column 'quantity'", "missing", "dataset.bad_values.weight"]),
    ("quantity-infinite", {TABLE: csv_text(with_cell(1, "quantity", "inf"))}, [],
     ["row 2", "column 'quantity'", "infinite"]),
    ("quantity-overflow", {TABLE: csv_text(with_cell(9, "quantity", "1e40"))}, [],
     ["row 10", "column 'quantity'", "overflowing"]),
    ("timestamp-negative", {TABLE: csv_text(numeric_time_rows({3: "-5"}))}, TS,
     ["row 4", "column 'date'", "negative timestamp", "dataset.bad_values.timestamp"]),
    ("timestamp-zero", {TABLE: csv_text(numeric_time_rows({2: "0"}))}, TS, ["row 3", "zero timestamp"]),
    ("timestamp-infinite", {TABLE: csv_text(numeric_time_rows({7: "inf"}))}, TS, ["row 8", "infinite timestamp"]),
    ("timestamp-overflow", {TABLE: csv_text(numeric_time_rows({5: "1e300"}))}, TS,
     ["row 6", "overflowing timestamp"]),
    ("user-id-missing", {TABLE: csv_text(with_cell(10, "customer_id", ""))}, [],
     ["row 11", "column 'customer_id'", "missing or empty id"]),
    ("item-id-missing", {TABLE: csv_text(with_cell(11, "product_id", ""))}, [],
     ["row 12", "column 'product_id'", "missing or empty id"]),
    ("wrong-separator", {TABLE: csv_text().replace(",", ";")}, [], ["t.csv", "separator", "dataset.sep=';'"]),
    ("non-utf8-header", {TABLE: csv_text().replace("region", "r\xe9gion").encode("latin-1")}, [],
     ["t.csv", "row 1", "not valid utf-8-sig", "dataset.encoding=latin-1"]),
    ("non-utf8-row", {TABLE: csv_text(with_cell(6, "category", "Caf\xe9")).encode("latin-1")}, [],
     ["t.csv", "row 7", "not valid utf-8-sig", "dataset.encoding"]),
    ("ragged-row", {TABLE: csv_text(with_cell(4, "region", "south,extra,fields"))}, [],
     ["t.csv", "cannot parse", "separator"]),
    ("gz-truncated", {"t.csv.gz": gz_truncated()}, ["dataset.interactions=t.csv.gz"],
     ["t.csv.gz", "damaged or truncated"]),
    ("zip-two-members", {"t.csv.zip": zip_two_files()}, ["dataset.interactions=t.csv.zip"],
     ["t.csv.zip", "exactly one"]),
    ("zip-not-a-zip", {"t.csv.zip": b"PK\x03\x04 this is not a zip archive"}, ["dataset.interactions=t.csv.zip"],
     ["t.csv.zip", "cannot read"]),
    ("duplicate-rows", {TABLE: csv_text([*ROWS, ROWS[2]])}, ["dataset.duplicates=error"],
     ["row 14", "same as row 4", "dataset.duplicates=drop"]),
    ("parquet-garbage", {"t.parquet": b"PAR1 definitely not parquet"}, ["dataset.interactions=t.parquet"],
     ["t.parquet", "not a readable Parquet file"]),
    ("parquet-truncated", {"t.parquet": parquet_bytes(base_frame())[:200]}, ["dataset.interactions=t.parquet"],
     ["t.parquet", "not a readable Parquet file"]),
    ("parquet-column-missing", {"t.parquet": parquet_bytes(base_frame().drop(columns=["quantity"]))},
     ["dataset.interactions=t.parquet"], ["t.parquet", "'quantity' not found", "dataset.columns.weight"]),
    ("parquet-quantity-negative", {"t.parquet": parquet_bytes(base_frame().assign(
        quantity=[1, 1, 1, -2, 1, 1, 1, 1, 1, 1, 1, 1]))}, ["dataset.interactions=t.parquet"],
     ["t.parquet", "row 4", "negative weight"]),
    ("items-file-missing", {TABLE: csv_text()}, ["dataset.items={path: items.csv, id_column: product_id}"],
     ["items.csv", "not found"]),
    ("item-absent-from-items-file", {TABLE: csv_text(), "items.csv": "product_id,category,price\np1,Food,2.5\n"
                                     "p2,Food,3.0\np3,Tools,9.9\n"},
     ["dataset.items={path: items.csv, id_column: product_id}"], ["absent from the item table", "p4",
                                                                   "dataset.missing_items=drop"]),
    ("every-user-one-pair", {TABLE: csv_text([f"c{k},2025-01-0{1 + k % 9},p{k % 4},Food,1,2.5,18-25,north"
                                              for k in range(12)])}, [],
     ["no test", "single", "graph.split.strategy=global_time"]),
    ("cut-after-all-data", {TABLE: csv_text()}, ["graph.split.strategy=global_time",
                                                 "graph.split.cut_time=2100-01-01"],
     ["graph.split.cut_time", "after the last", "earlier"]),
    ("bad-values-policy-unknown", {TABLE: csv_text()}, ["dataset.bad_values.weight=ignore"],
     ["dataset.bad_values.weight='ignore'", "error, drop, clip"]),
    ("columns-unknown-role", {TABLE: csv_text()}, ["+dataset.columns.colour=region"],
     ["dataset.columns.colour", "unknown role"]),
]

WRONG_HINT_BEFORE = {"user-column-misnamed", "date-format-wrong", "date-unparseable"}

CONFIG_CASES = [
    ("batch-size-zero", ["train.batch_size=0"], ["train.batch_size"]),
    ("lr-not-a-number", ["train.lr=abc"], ["train.lr='abc'", "not a number"]),
    ("weight-decay-not-a-number", ["train.optimizer.weight_decay=abc"], ["train.optimizer.weight_decay", "abc"]),
    ("lr-negative", ["train.lr=-1"], ["train.lr=-1", "positive"]),
    ("max-epochs-zero", ["train.max_epochs=0"], ["train.max_epochs"]),
    ("ks-without-10-20", ["evaluate.ks=[5]"], ["evaluate.ks", "[5,10,20]"]),
    ("ks-not-a-list", ["evaluate.ks=abc"], ["evaluate.ks", "list of integers"]),
    ("optimizer-unknown", ["train.optimizer=adamm"], ["adamm", "train/optimizer=adam"]),
    ("scheduler-as-value", ["train.scheduler=cosine"], ["cosine", "train/scheduler="]),
    ("split-strategy-unknown", ["graph.split.strategy=bogus"], ["bogus", "graph.split.strategy"]),
    ("split-ratio-out-of-range", ["graph.split.test_ratio=1.5"], ["graph.split.test_ratio"]),
    ("encoder-layers-zero", ["encoder.num_layers=0"], ["encoder", "num_layers"]),
    ("fanouts-vs-layers", ["train.mode=minibatch", "train.fanouts=[5,5]"], ["train.fanouts", "encoder.num_layers"]),
    ("objective-target-unknown", ["objective.target=bought"], ["bought", "objective.target"]),
    ("synthetic-pairs-too-many", ["dataset.num_pairs=1000"], ["dataset.num_pairs"]),
    ("seed-not-an-integer", ["seed=1.5"], ["seed=1.5", "integer"]),
]
if not torch.cuda.is_available():
    CONFIG_CASES.append(("device-cuda-absent", ["train.device=cuda"], ["train.device=cuda", "train.device=cpu"]))

# Through the whole command (Hydra's main included): errors of the command line itself, and one case of each kind
# above to show the same message arrives through Hydra (which would otherwise print "Error executing job ...").
MAIN_CASES = [
    ("key-misspelled", [*TINY, "train.batch_sz=8"], ["train.batch_sz", "not in struct"]),
    ("option-unknown", ["encoder=nope"], ["encoder", "nope", "Available options"]),
    ("optimizer-group-unknown", ["train/optimizer=adamm"], ["adamm", "train/optimizer", "Available options"]),
    ("override-syntax", ["train.lr=[0.1"], ["train.lr=[0.1"]),
    ("config-value", [*TINY, "train.batch_size=0"], ["train.batch_size"]),
    ("data-file", ["dataset=tables", "dataset.root={tmp}", "dataset.interactions=absent.csv"],
     ["absent.csv", "not found"]),
]


def assert_user_error(rc, output: str, culprits: list[str], status: int = 2) -> None:
    assert rc == status, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Error executing job" not in output, output[-3000:]
    for c in culprits:
        assert c in output, f"{c!r} not in:\n{output[-3000:]}"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def base_configs(cache_dir) -> dict[str, DictConfig]:
    """The composed configs of the two kinds of case (composing takes most of a second, so it is done once)."""
    from hydra import compose, initialize_config_dir

    from hetrec.registry import register_configs

    register_configs()
    common = [f"cache_dir={cache_dir}", "train.num_threads=1", "train.progress=false"]
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return {"tables": compose("config", overrides=[*common, "dataset=tables", "train.max_epochs=1"]),
                "synthetic": compose("config", overrides=[*common, *TINY])}


def with_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """``cfg`` with Hydra command-line overrides (``key=value``, ``+key=value``) applied to a copy."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    cfg = copy.deepcopy(cfg)
    for ov in OverridesParser.create().parse_overrides(overrides):
        OmegaConf.update(cfg, ov.key_or_group, ov.value(), merge=False, force_add=True)
    return cfg


def run_task(monkeypatch, capfd, run_dir: Path, cfg: DictConfig) -> tuple[object, str]:
    """One ``hetrec-train`` job (`hetrec.train.app.task`, as Hydra calls it) on ``cfg``; (exit status, output)."""
    monkeypatch.setattr(app, "_run_dir", lambda: run_dir)
    monkeypatch.delenv("HETREC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        app.task(cfg)
    out = capfd.readouterr()
    return exit_info.value.code, out.out + out.err


def run_main(monkeypatch, capfd, run_dir: Path, cache: Path, overrides: list[str]) -> tuple[object, str]:
    """``hetrec-train OVERRIDES`` in-process, Hydra included; returns (exit status, stdout + stderr)."""
    argv = ["hetrec-train", *overrides, f"hydra.run.dir={run_dir}", f"cache_dir={cache}",
            "train.num_threads=1", "train.progress=false"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("HETREC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        app.main()
    out = capfd.readouterr()
    return exit_info.value.code, out.out + out.err


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        p = root / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("case, files, overrides, culprits", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_file(case, files, overrides, culprits, tmp_path, monkeypatch, capfd, base_configs):
    write_files(tmp_path, files)
    cfg = with_overrides(base_configs["tables"], [f"dataset.root={tmp_path}", f"dataset.interactions={TABLE}",
                                                  *overrides])
    rc, output = run_task(monkeypatch, capfd, tmp_path / "run", cfg)
    assert_user_error(rc, output, culprits)
    if case in WRONG_HINT_BEFORE:  # these were told to "set dataset.basket_columns" (the column is also a basket key)
        assert "basket_columns" not in output, output
    assert (tmp_path / "run" / "error.txt").exists()  # the traceback is kept for whoever debugs it


@pytest.mark.parametrize("case, overrides, culprits", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(case, overrides, culprits, tmp_path, monkeypatch, capfd, base_configs):
    rc, output = run_task(monkeypatch, capfd, tmp_path / "run", with_overrides(base_configs["synthetic"], overrides))
    assert_user_error(rc, output, culprits)


@pytest.mark.parametrize("case, overrides, culprits", MAIN_CASES, ids=[c[0] for c in MAIN_CASES])
def test_bad_command_line(case, overrides, culprits, tmp_path, monkeypatch, capfd, cache_dir):
    overrides = [o.format(tmp=tmp_path) for o in overrides]
    rc, output = run_main(monkeypatch, capfd, tmp_path / "run", cache_dir, overrides)
    assert_user_error(rc, output, culprits)


def test_the_base_table_is_valid(tmp_path):
    """The data cases each break one thing of a table that loads."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    write_files(tmp_path, {TABLE: csv_text(), "t.parquet": parquet_bytes(base_frame())})
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        for name in (TABLE, "t.parquet"):
            cfg = compose("config", overrides=["dataset=tables", f"dataset.root={tmp_path}",
                                               f"dataset.interactions={name}"])
            shop = instantiate(cfg.dataset).load()
            assert len(shop.interactions) == len(ROWS) and shop.num_users == 4 and shop.num_items == 4


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capfd, cache_dir):
    """``--debug`` (or HETREC_DEBUG=1) lets the user error through, with its traceback."""
    monkeypatch.setenv("HETREC_DEBUG", "0")  # undone after the test, like the "1" that --debug sets
    monkeypatch.setattr(sys, "argv", ["hetrec-train", *TINY, "train.batch_size=0", "--debug",
                                      f"hydra.run.dir={tmp_path}", f"cache_dir={cache_dir}"])
    with pytest.raises(app.ConfigError, match="train.batch_size"):
        app.main()


def test_an_unexpected_error_keeps_its_traceback(tmp_path, monkeypatch, base_configs):
    def boom(cfg, run_dir, callbacks=()):
        raise ZeroDivisionError("a bug, not the user's input")

    monkeypatch.setattr(app, "train", boom)
    monkeypatch.setattr(app, "_run_dir", lambda: tmp_path)
    with pytest.raises(ZeroDivisionError):
        app.task(base_configs["synthetic"])
    assert "ZeroDivisionError" in (tmp_path / "error.txt").read_text()


def test_hetrec_debug_flag_raises(run_dir, monkeypatch):
    monkeypatch.setenv("HETREC_DEBUG", "0")
    from hetrec.serve.errors import UnknownIdError

    with pytest.raises(UnknownIdError):
        cli.main(["similar", "--run", str(run_dir), "--item", "i99", "--debug"])


# ---------------------------------------------------------------------------------------------------- hetrec CLI


def _tiny_artifact_builder():
    spec = importlib.util.spec_from_file_location(
        "_serve_artifacts", Path(__file__).resolve().parents[1] / "serve" / "artifacts.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.build_artifact


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return _tiny_artifact_builder()(tmp_path_factory.mktemp("tiny_run"), steps=20)


def run_cli(capfd, *argv: str) -> tuple[object, str]:
    try:
        rc = cli.main(list(argv))
    except SystemExit as e:  # argparse's usage errors
        rc = e.code
    out = capfd.readouterr()
    return rc, out.out + out.err


CLI_CASES = [
    ("serve-port-out-of-range", ["serve", "--run", "{run}", "--port", "99999"], ["--port", "1..65535"]),
    ("serve-workers-zero", ["serve", "--run", "{run}", "--workers", "0"], ["--workers"]),
    ("run-folder-missing", ["recommend", "--run", "{tmp}/nope", "--user", "u00"], ["nope"]),
    ("user-and-history", ["recommend", "--run", "{run}", "--user", "u00", "--history", "i01"], ["--user", "--history"]),
    ("k-negative", ["recommend", "--run", "{run}", "--user", "u00", "-k", "-3"], ["k must be >= 0"]),
    ("item-unknown", ["similar", "--run", "{run}", "--item", "i99"], ["unknown item id 'i99'"]),
    ("cold-start-bad-json", ["cold-start", "--run", "{run}", "--attrs", "{{bad"], ["--attrs", "JSON"]),
    ("category-unknown", ["recommend", "--run", "{run}", "--user", "u00", "--category", "Toys"], ["Toys"]),
    ("index-unknown", ["similar", "--run", "{run}", "--item", "i00", "--index", "annoy"], ["--index", "annoy"]),
]


@pytest.mark.parametrize("case, argv, culprits", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_cli_arguments(case, argv, culprits, run_dir, tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("HETREC_DEBUG", raising=False)
    rc, output = run_cli(capfd, *[a.format(run=run_dir, tmp=tmp_path) for a in argv])
    assert_user_error(rc, output, culprits)


# ---------------------------------------------------------------------------------------------------- HTTP API

HTTP_CASES = [
    ("k-negative", "get", "/recommend?user=u00&k=-1", None, 422, ["k"]),
    ("k-not-a-number", "get", "/recommend?user=u00&k=ten", None, 422, ["k", "ten"]),
    ("k-too-large", "get", "/recommend?user=u00&k=100000", None, 422, ["k", "100000"]),
    ("user-and-history-missing", "get", "/recommend", None, 422, ["user", "history"]),
    ("item-unknown", "get", "/similar?item=i99", None, 404, ["i99"]),
    ("item-missing", "get", "/similar", None, 422, ["item"]),
    ("alpha-out-of-range", "get", "/associations?item=i00&alpha=2", None, 422, ["alpha"]),
    ("category-unknown", "get", "/recommend?user=u00&category=Toys", None, 404, ["Toys"]),
    ("profile-user-unknown", "get", "/profile?user=ghost", None, 404, ["ghost"]),
    ("cold-start-not-json", "post", "/cold_start", b"{bad", 422, ["body"]),
    ("cold-start-attributes-not-object", "post", "/cold_start", b'{"attributes": [1, 2]}', 422, ["attributes"]),
    ("cold-start-k-too-large", "post", "/cold_start", b'{"attributes": {"category": "Tools"}, "k": 5000}', 422,
     ["k"]),
]


@pytest.fixture(scope="module")
def client(run_dir):
    from fastapi.testclient import TestClient

    from hetrec.serve.api import create_app

    return TestClient(create_app(run_dir))


@pytest.mark.parametrize("case, method, url, body, status, culprits", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_bad_http_request(case, method, url, body, status, culprits, client):
    kw = {"content": body, "headers": {"content-type": "application/json"}} if body is not None else {}
    res = getattr(client, method)(url, **kw)
    assert_user_error(res.status_code, res.text, culprits, status=status)


def test_the_table_has_at_least_40_cases():
    assert len(DATA_CASES) + len(CONFIG_CASES) + len(MAIN_CASES) + len(CLI_CASES) + len(HTTP_CASES) >= 40
