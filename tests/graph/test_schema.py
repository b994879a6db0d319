"""GraphSchema: relations from event names, reverses, target, name validation."""

from __future__ import annotations

import pytest

from hetrec.graph.schema import GraphSchema


def test_relations_reverses_and_target():
    s = GraphSchema(("clicks", "purchases"), "clicks", co_bought=True, categories=True)
    assert s.ntypes == ["user", "item", "category"]
    assert s.target_etype == ("user", "clicks", "item")
    assert s.canonical_etypes == [
        ("user", "clicks", "item"), ("item", "rev_clicks", "user"),
        ("user", "purchases", "item"), ("item", "rev_purchases", "user"),
        ("item", "co_bought", "item"), ("item", "rev_co_bought", "item"),
        ("item", "in", "category"), ("category", "rev_in", "item"),
    ]
    assert s.reverse_etypes["clicks"] == "rev_clicks" and s.reverse_etypes["rev_in"] == "in"
    text = s.describe()
    assert "(user, clicks, item)  (target)" in text and "(category, rev_in, item)" in text
    assert s.to_dict()["target"] == ["user", "clicks", "item"]


def test_without_reverse_or_optional_relations():
    s = GraphSchema(("rates",), "rates", reverse=False)
    assert s.canonical_etypes == [("user", "rates", "item")]
    assert s.reverse_etypes == {}
    assert s.ntypes == ["user", "item"]


@pytest.mark.parametrize("name", ["rev_clicks", "co_bought", "in", "bad name", "9lives", ""])
def test_bad_event_names(name):
    with pytest.raises(ValueError, match="event name"):
        GraphSchema(("clicks", name), "clicks")


def test_unknown_target_lists_events_and_fix():
    with pytest.raises(ValueError) as e:
        GraphSchema(("clicks", "carts"), "buys")
    msg = str(e.value)
    assert "'buys'" in msg and "clicks, carts" in msg and "dataset.target=clicks" in msg and "graph.target=" in msg
