"""Errors of the serving stage; the HTTP API maps them to status codes (unknown id: 404, bad argument: 422)."""

from __future__ import annotations

from hetrec.errors import HetrecError

__all__ = ["UnknownIdError", "ColdStartUnavailable"]


class UnknownIdError(HetrecError, KeyError):
    """A raw id (user, item or category) that the artifact does not know.

    Args:
        kind: what the id should identify (``"user"``, ``"item"``, ``"category"``).
        raw_id: the offending raw id, as given.
        known: how many ids of that kind the artifact knows.
    """

    def __init__(self, kind: str, raw_id: object, known: int) -> None:
        self.kind = kind
        self.raw_id = raw_id
        self.known = known
        super().__init__(kind, raw_id)

    def __str__(self) -> str:
        hint = {
            "user": "; unknown users get popular items from recommend(user=...) or use recommend(history=[...])",
            "item": "; new products go through cold_start(attributes)",
            "category": "",
        }.get(self.kind, "")
        plural = "categories" if self.kind == "category" else f"{self.kind}s"
        raw = str(self.raw_id)
        shown = repr(raw) if len(raw) <= 200 else f"{raw[:200]!r}... ({len(raw)} characters)"  # never echo a huge id
        return f"unknown {self.kind} id {shown} ({self.known} known {plural}){hint}"


class ColdStartUnavailable(HetrecError, RuntimeError):
    """Neither the encoder's feature path nor the ridge fallback can embed a new item from this artifact."""
