"""benchmarks/scale.py: the fits behind the growth exponents and the 1B projection."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("scale", Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py")
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


def test_growth_recovers_the_exponent_and_refuses_one_size():
    pts = [(n, 3.0 * n ** 1.3) for n in (1e6, 3e6, 1e7)]
    assert scale.growth(pts) == pytest.approx(1.3)
    assert scale.growth([(1e6, 5.0), (1e6, 6.0)]) is None


def test_affine_and_projection_use_the_latest_row_of_each_size():
    rows = [
        {"interactions": 1_000_000, "phase": "build", "seconds": 99.0, "peak_gb": 9.0},  # superseded below
        {"interactions": 1_000_000, "phase": "build", "seconds": 10.0, "peak_gb": 0.5},
        {"interactions": 10_000_000, "phase": "build", "seconds": 100.0, "peak_gb": 1.4},
    ]
    f = scale.fits(rows)["build"]
    assert f["time"] == pytest.approx(1.0)
    a, c = f["memory_affine"]
    assert a == pytest.approx(0.4) and c * 1e6 == pytest.approx(0.1)
    line = scale.project(rows, 1_000_000_000)[-1]
    assert "| build | 10,000,000, 100.0, 1.4 | 1.00 | 1.00 | 2.8 h; 2.8 h |" in line
    assert "100.4 (a=0.40, c=0.100 GB/M)" in line
