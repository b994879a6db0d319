"""The self-contained HTML association report, and (slow) that it renders in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hetrec.cli import main

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "assoc.html"
    assert main(["associations", "--run", str(tiny_run), "--item", "i00", "--report", str(out)]) == 0
    return out


def test_report_is_self_contained_with_evidence(report):
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<style>" in html and re.search(r"src='data:image/png;base64,[A-Za-z0-9+/=]{1000,}'", html)
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", html), "the page must not load anything"
    assert "Cross-sell candidates for i00" in html and "Top " in html and "Bundles per category" in html
    assert "i00 -co_bought(" in html and "i25" in html
    for cat in ("Food&gt;Dairy", "Food&gt;Bakery", "Tools"):
        assert cat in html


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium package (apt-get install -y chromium)")
    shot = tmp_path / "shot.png"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--no-first-run", "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}", "--window-size=1200,900", report.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), f"chromium wrote no screenshot (rc {proc.returncode}): {proc.stderr[-2000:]}"
    import matplotlib.pyplot as plt

    img = plt.imread(shot)[..., :3]
    assert img.shape[:2] == (900, 1200)
    background = np.median(img.reshape(-1, 3), axis=0)
    differs = np.abs(img - background).sum(axis=2) > 0.1
    assert differs.mean() > 0.02, "the screenshot is (nearly) blank"
    assert img.std() > 0.05
