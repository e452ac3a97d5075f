"""Function-calling accuracy on the corpus's own validation split (functions never trained on): the
figure settings are chosen on, so BFCL is never looked at while tuning.

    lamforge bench fc-validation --model fc/tools --data runs/fc --json
    result = validate(load_backend("fc/tools"), read_corpus(Path("runs/fc/validation.jsonl")))

An answer is right when its calls equal the record's as a multiset (order is free, as in BFCL's
parallel categories): same function, same arguments, numbers compared as numbers and text without
case. Decoding is the same as ``lamforge bench bfcl``'s (under the grammar of the offered functions).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from lamforge.data.fc.checks import ident_calls
from lamforge.data.fc.corpus import source_family
from lamforge.tools.bfcl import Question, answer
from lamforge.tools.calling import read_answer
from lamforge.tools.schema import specs_from_functions


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return round(float(value), 6)
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _norm(v)) for k, v in value.items()))
    return str(value).strip().lower()


def _key(calls: list[tuple[str, dict]]) -> Counter:
    return Counter((name, tuple(sorted((k, _norm(v)) for k, v in args.items()))) for name, args in calls)


def questions_of(records: list[dict]) -> list[Question]:
    out = []
    for r in records:
        q = Question(r.get("id", ""), r["category"], [{"role": "user", "content": r["request"]}], r["functions"], None)
        q.specs, q.names = specs_from_functions(r["functions"])
        out.append(q)
    return out


def validate(backend, records: list[dict], *, batch_size: int = 8,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Per-category and overall exact-call accuracy, the no-call rate and the seconds taken."""
    t0 = time.perf_counter()
    qs = questions_of(records)
    texts = answer(backend, qs, batch_size=batch_size, progress=progress)
    per: dict[str, list[bool]] = defaultdict(list)
    by_source: dict[str, list[bool]] = defaultdict(list)  # records whose offered functions share one family
    no_call = 0
    examples = []
    for r, q, text in zip(records, qs, texts):
        got = read_answer(text, q.specs)
        ok = got.error is None and _key(got.calls) == _key(ident_calls(r))
        no_call += got.no_call
        per[r["category"]].append(ok)
        families = {source_family(src) for src in r.get("source", [])}
        if len(families) == 1 and r["category"] != "irrelevance":
            by_source[families.pop()].append(ok)
        if not ok and len(examples) < 20:
            examples.append({"id": r.get("id"), "request": r["request"], "answer": text})
    cats = {c: round(sum(v) / len(v), 4) for c, v in sorted(per.items())}
    calling = [c for c in cats if c != "irrelevance"]
    return {"categories": cats, "records": len(records),
            "call_accuracy": round(sum(cats[c] for c in calling) / max(len(calling), 1), 4),
            "no_call_rate": round(no_call / max(len(records), 1), 4),
            "by_source": {f: {"records": len(v), "accuracy": round(sum(v) / len(v), 4)}
                          for f, v in sorted(by_source.items())},
            "seconds": round(time.perf_counter() - t0, 1), "wrong_examples": examples}
