"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest


class _Payload:
    """Unpickling this creates a marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def pickle_payload(tmp_path: Path) -> tuple[object, Path]:
    """``(payload, marker)``: unpickling ``payload`` (or anything that holds it) creates the file ``marker``, so a
    loader that must never unpickle is checked by ``not marker.exists()`` after reading a file that holds it."""
    marker = tmp_path / "pwned"
    return _Payload(marker), marker
