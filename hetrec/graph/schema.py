"""`GraphSchema`: the node types and relations of a shop heterograph, derived from the event names of a log."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hetrec.errors import ConfigError
from hetrec.types import CanonicalEType

USER, ITEM, CATEGORY = "user", "item", "category"
CO_BOUGHT = "co_bought"
IN_CATEGORY = "in"
REVERSE_PREFIX = "rev_"
RESERVED = frozenset({CO_BOUGHT, IN_CATEGORY})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def reverse_name(relation: str) -> str:
    """Name of the reverse relation of ``relation`` (``"clicks"`` -> ``"rev_clicks"``)."""
    return REVERSE_PREFIX + relation


def check_event_name(name: object) -> str:
    """Validate one event name as a relation name; return it or raise ``ValueError`` saying how to fix it."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"event name {name!r} cannot name a relation: use letters, digits and '_' starting with a letter "
            f"(e.g. 'clicks'); rename it in the dataset's event mapping (dataset.events=...)"
        )
    if name.startswith(REVERSE_PREFIX):
        raise ConfigError(
            f"event name {name!r} starts with {REVERSE_PREFIX!r}, which hetrec reserves for reverse relations; "
            f"rename the event in the dataset's event mapping"
        )
    if name in RESERVED:
        raise ConfigError(
            f"event name {name!r} is reserved for a derived relation ({sorted(RESERVED)}); "
            f"rename the event in the dataset's event mapping"
        )
    return name


@dataclass(frozen=True)
class GraphSchema:
    """Node types and relations (canonical triples) of a shop heterograph.

    Node types are ``user`` and ``item``, plus ``category`` when the item–category relation is on. Every event
    type of the log becomes a relation ``("user", <event>, "item")``; basket co-occurrence gives
    ``("item", "co_bought", "item")``; item categories give ``("item", "in", "category")``. With ``reverse`` every
    relation ``r`` gets ``rev_<r>`` with source and destination swapped, so that every node type receives messages.

    Args:
        events: event names in the log, in a stable order (each a relation name).
        target: the event that is predicted; must be one of ``events``.
        co_bought: whether ``("item", "co_bought", "item")`` is present (default ``False``).
        categories: whether ``category`` nodes and ``("item", "in", "category")`` are present (default ``False``).
        reverse: whether every relation gets its reverse (default ``True``).
    """

    events: tuple[str, ...]
    target: str
    co_bought: bool = False
    categories: bool = False
    reverse: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(self.events))
        if not self.events:
            raise ConfigError("GraphSchema needs at least one event type; the interaction log has none")
        for e in self.events:
            check_event_name(e)
        if len(set(self.events)) != len(self.events):
            raise ConfigError(f"GraphSchema: duplicate event names in {list(self.events)}")
        if self.target not in self.events:
            raise ConfigError(unknown_target_message(self.target, self.events))

    @classmethod
    def from_events(cls, events: Sequence[str], target: str, **kwargs: bool) -> GraphSchema:
        """Schema of a log whose events are ``events``."""
        return cls(tuple(events), target, **kwargs)

    @property
    def ntypes(self) -> list[str]:
        """Node types: ``["user", "item"]`` plus ``"category"`` when categories are on."""
        return [USER, ITEM] + ([CATEGORY] if self.categories else [])

    @property
    def target_etype(self) -> CanonicalEType:
        """The predicted relation, e.g. ``("user", "clicks", "item")``."""
        return (USER, self.target, ITEM)

    @property
    def forward_etypes(self) -> list[CanonicalEType]:
        """Relations that come from the data (events, co_bought, in), without reverses."""
        out: list[CanonicalEType] = [(USER, e, ITEM) for e in self.events]
        if self.co_bought:
            out.append((ITEM, CO_BOUGHT, ITEM))
        if self.categories:
            out.append((ITEM, IN_CATEGORY, CATEGORY))
        return out

    @property
    def canonical_etypes(self) -> list[CanonicalEType]:
        """Every relation: each forward relation followed by its reverse (when ``reverse``)."""
        out: list[CanonicalEType] = []
        for s, r, d in self.forward_etypes:
            out.append((s, r, d))
            if self.reverse:
                out.append((d, reverse_name(r), s))
        return out

    @property
    def reverse_etypes(self) -> dict[str, str]:
        """Relation name -> reverse relation name, both ways (DGL's ``exclude="reverse_types"`` format)."""
        if not self.reverse:
            return {}
        out: dict[str, str] = {}
        for _, r, _ in self.forward_etypes:
            out[r] = reverse_name(r)
            out[reverse_name(r)] = r
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-able description (for caches, artifacts and reports)."""
        return {
            "ntypes": self.ntypes,
            "canonical_etypes": [list(e) for e in self.canonical_etypes],
            "target": list(self.target_etype),
            "reverse_etypes": self.reverse_etypes,
            "events": list(self.events),
        }

    def describe(self) -> str:
        """Human-readable description, one relation per line."""
        lines = [f"node types: {', '.join(self.ntypes)}", "relations:"]
        for s, r, d in self.forward_etypes:
            tag = "  (target)" if (s, r, d) == self.target_etype else ""
            rev = f"   reverse ({d}, {reverse_name(r)}, {s})" if self.reverse else ""
            lines.append(f"  ({s}, {r}, {d}){tag}{rev}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def unknown_target_message(target: object, events: Sequence[str]) -> str:
    """The error text for a target event the data does not have."""
    avail = ", ".join(events) if events else "(none)"
    example = events[0] if events else "clicks"
    return (
        f"unknown target relation {target!r}; the data has events: {avail}. "
        f"Set dataset.target={example} (or graph.target={example})"
    )
