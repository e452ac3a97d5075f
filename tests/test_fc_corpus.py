"""The function-calling corpus: composed records in BFCL's five shapes, each passing its checks,
validation functions kept out of training, and training rows that teach the checked answer."""

from __future__ import annotations

import json
import random

import pytest

from lamforge.data.fc.checks import execute, format_problem, ident_calls, semantic_problem
from lamforge.data.fc.compose import compose, instruction
from lamforge.data.fc.corpus import build, function_pool, make_corpus, split
from lamforge.data.fc.values import grounded, label


@pytest.fixture(scope="module")
def pool():
    return function_pool()


@pytest.fixture(scope="module")
def corpus(pool):
    functions, runnable = pool
    train, _ = split(functions)
    return build(250, pool=train, runnable=runnable, seed=3)


def test_every_record_passes_its_checks_and_has_its_shape(corpus):
    records, stats = corpus
    assert len(records) == 250
    assert {r["category"] for r in records} == {"simple", "multiple", "parallel", "parallel_multiple", "irrelevance"}
    for r in records:
        assert format_problem(r) is None and semantic_problem(r) is None, r
        offered = {f["name"] for f in r["functions"]}
        called = [c["name"] for c in r["calls"]]
        assert set(called) <= offered and len(called) <= 4  # the answer grammar's limit
        if r["category"] == "simple":
            assert len(called) == 1 and len(offered) == 1
        elif r["category"] == "multiple":
            assert len(called) == 1 and len(offered) >= 2
        elif r["category"] == "parallel":
            assert len(called) >= 2 and len(set(called)) == 1
        elif r["category"] == "parallel_multiple":
            assert len(set(called)) >= 2
        else:  # irrelevance: nothing offered fits, the answer is no call
            assert called == []
    assert sum(stats["rejected"].values()) < stats["attempts"]


def test_requests_differ(corpus):
    records, _ = corpus
    assert len({r["request"].lower() for r in records}) == len(records)


def test_validation_functions_never_called_in_training(pool):
    functions, runnable = pool
    train, val = split(functions)
    assert val and not ({f["name"] for f in train} & {f["name"] for f in val})
    records, _ = build(60, pool=train, runnable=runnable, seed=1)
    assert not {c["name"] for r in records for c in r["calls"]} & {f["name"] for f in val}


def test_format_check_rejects_unknown_parameter_and_wrong_type():
    fn = {"name": "geo.area", "description": "Area of a circle.",
          "parameters": {"type": "object", "properties": {"radius": {"type": "number"}}, "required": ["radius"]}}
    ok = {"category": "simple", "request": "Area of a circle with radius 3", "functions": [fn],
          "calls": [{"name": "geo.area", "arguments": {"radius": 3.0}}]}
    assert format_problem(ok) is None
    assert "hallucin" in format_problem({**ok, "calls": [{"name": "geo.area", "arguments": {"r": 3.0}}]}) \
        or "read back" in format_problem({**ok, "calls": [{"name": "geo.area", "arguments": {"r": 3.0}}]})
    assert format_problem({**ok, "calls": [{"name": "geo.area", "arguments": {"radius": "wide"}}]}) is not None
    assert format_problem({**ok, "calls": [{"name": "geo.area", "arguments": {}}]}) is not None


def test_semantic_check_wants_every_value_in_the_request():
    fn = {"name": "weather", "description": "Weather of a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                         "required": ["city"]}}
    record = {"category": "simple", "request": "Weather in Paris for 3 days", "functions": [fn],
              "calls": [{"name": "weather", "arguments": {"city": "Paris", "days": 3}}]}
    assert semantic_problem(record) is None
    record["calls"][0]["arguments"]["days"] = 13
    assert "days" in semantic_problem(record)
    assert not grounded(5, "version 2.5 of it") and grounded(5.0, "a radius of 5")


def test_execution_check_runs_pure_functions(pool):
    _, runnable = pool
    fn = runnable["math.sqrt"]
    doc = fn.to_json()
    good = {"calls": [{"name": "math.sqrt", "arguments": {"x": 16.0}}], "functions": [doc]}
    bad = {"calls": [{"name": "math.sqrt", "arguments": {"x": -4.0}}], "functions": [doc]}
    unknown = {"calls": [{"name": "cancel_order", "arguments": {"order_id": 5}}], "functions": []}
    results = execute([good, bad, unknown], runnable)
    assert results[0] is None and "ValueError" in results[1] and results[2] is None


def test_instructions_read_as_requests():
    rng = random.Random(0)
    assert instruction(rng, {"description": "Return True if x is a NaN, and False otherwise."}) == "check whether x is a NaN"
    assert instruction(rng, {"description": "Calculates the area of a circle."}) == "calculate the area of a circle"
    assert instruction(rng, {"description": ""}) is None
    assert label("radius", {"description": "The radius of the circle."}) == "radius of the circle"
    assert label("order_id", {"description": "The number the shop gave the order when it was placed."}) == "order id"


def test_compose_unknown_category_is_an_error(pool):
    functions, _ = pool
    with pytest.raises(ValueError, match="unknown category"):
        compose(random.Random(0), "chitchat", functions, {})


def test_make_corpus_writes_train_validation_and_datasheet(tmp_path):
    sheet = make_corpus(tmp_path, 80, validation=20, seed=2, leak=False)
    train = [json.loads(line) for line in (tmp_path / "corpus.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (tmp_path / "validation.jsonl").read_text().splitlines()]
    assert len(train) == sheet["records"] == 80 and len(val) == 20
    assert sheet["validation_functions_disjoint"] and sheet["apis_in_pool"] > 500
    assert json.loads((tmp_path / "datasheet.json").read_text())["categories"] == sheet["categories"]


def test_training_rows_teach_the_checked_answer(corpus, tiny_model_dir):
    from transformers import AutoTokenizer

    from lamforge.training.tool_sft import corpus_rows

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = [r for r in corpus[0] if r["category"] in ("parallel", "irrelevance")][:6]
    for record, row in zip(records, corpus_rows(tok, records)):
        answer = tok.decode([t for t, lab in zip(row["input_ids"], row["labels"]) if lab != -100])
        if record["category"] == "irrelevance":
            assert answer.startswith("NO_CALL")
        else:
            assert answer.count("(") == len(record["calls"])
            assert all(name in answer for name, _ in ident_calls(record))


def test_validation_scores_calls_as_a_multiset_per_category_and_source(corpus):
    """A remote-style backend that answers some records right and some wrong: the scores follow."""
    from types import SimpleNamespace

    from lamforge.evaluation.fc_validation import validate
    from lamforge.tools.calling import format_calls

    records = [r for r in corpus[0] if r["category"] in ("simple", "parallel")][:8]
    right = {r["request"]: format_calls(list(reversed(ident_calls(r)))) for r in records[:5]}  # order is free

    class Backend:
        local = False

        def chat(self, messages, max_tokens=128):
            request = messages[-1]["content"]
            return SimpleNamespace(text=right.get(request, "NO_CALL"))

    result = validate(Backend(), records)
    assert result["records"] == 8 and result["no_call_rate"] == 3 / 8
    cats = [r["category"] for r in records]
    for cat in set(cats):
        got = [i < 5 for i, c in enumerate(cats) if c == cat]
        assert result["categories"][cat] == round(sum(got) / len(got), 4)
    assert sum(v["records"] for v in result["by_source"].values()) == 8
    assert sum(v["accuracy"] * v["records"] for v in result["by_source"].values()) == pytest.approx(5, abs=0.01)
