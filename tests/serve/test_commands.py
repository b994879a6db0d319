"""`hetrec recommend | similar | associations | profile | cold-start` (table and --json) through hetrec.cli.main."""

from __future__ import annotations

import json

import pytest

from hetrec.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_recommend_table_and_json(tiny_run, capsys):
    rc, out, _ = run(capsys, "recommend", "--run", str(tiny_run), "--user", "u00", "-k", "3")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "top 3 for user u00"
    assert lines[1].split()[:4] == ["rank", "item", "score", "category"] and "reason" in lines[1]
    assert "because you bought" in out
    rc, out, _ = run(capsys, "recommend", "--run", str(tiny_run / "artifact"), "--user", "u00", "-k", "3", "--json")
    res = json.loads(out)
    assert rc == 0 and len(res["items"]) == 3 and res["user"] == "u00"
    rc, out, _ = run(capsys, "recommend", "--run", str(tiny_run), "--user", "nobody", "--json")
    assert json.loads(out)["fallback"] == "popular"
    rc, out, _ = run(capsys, "recommend", "--run", str(tiny_run), "--history", "i10,i11", "-k", "2", "--json")
    assert [r["item"] for r in json.loads(out)["items"]] and json.loads(out)["history"] == ["i10", "i11"]


def test_similar_associations_profile_cold_start(tiny_run, capsys):
    rc, out, _ = run(capsys, "similar", "--run", str(tiny_run), "--item", "i11", "-k", "4", "--json")
    assert rc == 0 and len(json.loads(out)["items"]) == 4
    rc, out, _ = run(capsys, "associations", "--run", str(tiny_run), "--item", "i00", "-k", "2")
    assert rc == 0 and "cross-sell candidates for i00" in out and "i25" in out and "co_bought" in out
    rc, out, _ = run(capsys, "associations", "--run", str(tiny_run), "--item", "i00", "-k", "2", "--json")
    assert json.loads(out)["items"][0]["item"] == "i25"
    rc, out, _ = run(capsys, "profile", "--run", str(tiny_run), "--user", "u01")
    assert rc == 0 and "Food>Bakery" in out and "interest clusters" in out
    rc, out, _ = run(capsys, "profile", "--run", str(tiny_run), "--user", "u01", "--json")
    assert json.loads(out)["user"] == "u01"
    rc, out, _ = run(capsys, "cold-start", "--run", str(tiny_run), "--attrs", '{"category": "Tools"}', "--json")
    assert rc == 0 and json.loads(out)["method"] == "encoder"
    rc, out, _ = run(capsys, "recommend", "--run", str(tiny_run), "--user", "u00", "-k", "0")
    assert rc == 0 and "(no results)" in out


def test_errors_name_the_offending_value(tiny_run, tmp_path, capsys):
    rc, _, err = run(capsys, "similar", "--run", str(tiny_run), "--item", "i99")
    assert rc == 2 and "unknown item id 'i99'" in err
    rc, _, err = run(capsys, "profile", "--run", str(tiny_run), "--user", "ghost")
    assert rc == 2 and "ghost" in err
    rc, _, err = run(capsys, "similar", "--run", str(tmp_path / "nope"), "--item", "i00")
    assert rc == 2 and "does not exist" in err
    rc, _, err = run(capsys, "recommend", "--run", str(tiny_run))
    assert rc == 2 and "exactly one of --user" in err
    rc, _, err = run(capsys, "cold-start", "--run", str(tiny_run), "--attrs", "{bad")
    assert rc == 2 and "JSON object" in err
    with pytest.raises(SystemExit):
        main(["similar", "--run", str(tiny_run), "--item", "i00", "-k", "-3"])
    assert "k must be >= 0" in capsys.readouterr().err
