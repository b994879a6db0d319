"""Packaging: the wheel carries every config, and an installed wheel works outside the repository.

The fast tests check the build description against the tree; the slow one builds the wheels of hetrec and the LightGCN
plugin, installs them into a fresh virtual environment and runs the three commands a new user runs first, from an empty
folder (so nothing can come from the checkout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "hetrec-lightgcn"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+ (tomllib)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_package_list_names_every_package_folder():
    """pyproject lists packages by name (find cannot see the mapped conf/); a new sub-package must be added there."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "hetrec").rglob("__init__.py")}
    assert on_disk | {"hetrec.conf"} == listed, "update [tool.setuptools] packages in pyproject.toml"


def test_conf_dir_is_the_installed_package():
    from hetrec.train import app

    assert Path(app.CONF_DIR).resolve() == (ROOT / "conf").resolve()
    assert (Path(app.CONF_DIR) / "config.yaml").is_file()


def _build_wheels(out: Path) -> list[Path]:
    """Wheels of hetrec and the LightGCN plugin, built from a copy of the source (setuptools writes build/ next to
    the sources, and a stale build/ there could carry deleted files into the wheel)."""
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "outputs", "multirun", "runs", ".hetrec_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(out), str(src), str(src / PLUGIN.relative_to(ROOT))], check=True, cwd=out)
    return sorted(out.glob("*.whl"))


@pytest.mark.slow
def test_wheel_carries_every_config(tmp_path):
    wheel = next(w for w in _build_wheels(tmp_path) if w.name.startswith("hetrec-"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"hetrec/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert expected and expected <= names, sorted(expected - names)


@pytest.mark.slow
def test_installed_wheel_trains_recommends_and_lists_plugins(tmp_path):
    (tmp_path / "wheels").mkdir()
    wheels = _build_wheels(tmp_path / "wheels")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # torch alone first (the local CPU wheel), then the wheels with torch pinned: the README's install order.
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    subprocess.run(pip + ["torch==2.13.0", *map(str, wheels)], check=True)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HETREC_DATA", "VIRTUAL_ENV")}

    def run(*cmd: str) -> str:
        res = subprocess.run([str(venv / "bin" / cmd[0]), *cmd[1:]], cwd=empty, env=env, capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}"
        return res.stdout + res.stderr

    plugins = run("hetrec", "plugins", "--json")
    assert '"lightgcn"' in plugins and '"gcn"' in plugins
    assert str(ROOT) not in plugins, "plugin configs must come from the installed packages, not the checkout"
    run_dir = empty / "run"
    run("hetrec-train", "train.max_epochs=1", "train.num_threads=1", f"hydra.run.dir={run_dir}")
    assert (run_dir / "metrics.json").is_file() and (run_dir / "artifact").is_dir()
    out = run("hetrec", "recommend", "--run", str(run_dir), "--user", "u12", "-k", "5", "--json")
    assert '"item"' in out
    run("hetrec-train", "encoder=lightgcn", "train.max_epochs=1", "train.num_threads=1",
        f"hydra.run.dir={empty / 'lg'}")
