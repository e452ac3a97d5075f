"""Keep BFCL out of the function-calling corpus: BFCL is for evaluation only, so a corpus record
whose request is a (near-)copy of a BFCL question, or that calls a copy of a BFCL function, goes.

    kept, report = leak_check(records, load_bfcl_items())
    report = check_file(Path("corpus.jsonl"), Path("corpus.clean.jsonl"))

Three tests, cheapest first; a record is dropped by the first that fires, counted once:

* ``question-ngram``: word 5-grams of the normalised request (:func:`lamforge.data.dedup.normalise`)
  against every BFCL question through an inverted index (20k requests x 3.6k questions: 0.5 s).
  Fires on an exact normalised match, or when >= 5 grams are shared and they are >= 0.5 of the
  request's grams or of the question's (a BFCL question pasted into a longer request). A gram in
  >= 8 BFCL questions is a formula and counts for nothing ("could you tell me the" is in 37,
  "calculate the area of a" in 13; ~100 such grams). 5-grams: "what is the", "can you help me" are
  shorter than one. 5 shared grams (9+ words): a short request has few ways to say its task ("Find
  the greatest common divisor of 81 and 34." shares 4 of its 5 grams with a BFCL question on other
  numbers), so short copies are left to the exact match and the embeddings. 0.5: one word changed
  in a 20-word question leaves 11 of 16 grams (0.69); more edits are the embedding test's job.
* ``function-doc``: a called function (every offered one when the record calls none) with a BFCL
  function's name after normalising (``math.factorial`` == ``math_factorial``: lower-case, runs of
  non-alphanumerics -> ``_``) and a close description: content-word Jaccard >= 0.6, or MiniLM
  cosine >= 0.9 when embedding. Python's own docstrings against BFCL's descriptions of the same
  stdlib functions (math.gcd/lcm/sqrt/factorial/hypot, statistics.median/variance/mode,
  random.normalvariate: 13 pairs) reach Jaccard 0.50 and cosine 0.85 at most ("Least Common
  Multiple." vs "Calculates the least common multiple of two numbers."): an independently written
  description stays, a copied or lightly edited one goes.
* ``question-embedding``: MiniLM (:func:`lamforge.core.retrieval.embed`, offline) cosine between the
  request and every BFCL question, ``batch_size`` requests per matrix product; fires at >= 0.85.
  Measured on real BFCL questions: paraphrases keeping the values 0.86-0.98 (0.938, 0.973, 0.895,
  0.941, 0.976, 0.856), the same template with other values 0.61-0.84 (top: "Find the greatest
  common divisor of 542 and 38." vs simple_python_21, 0.843), same topic but another question
  0.31-0.66, unrelated < 0.2. 0.9 misses two of the six paraphrases; 0.85 catches all six and
  keeps every other-values question seen (2,000 synthetic requests), the nearest 0.007 below.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lamforge.core.errors import LamforgeError, TaskFileError
from lamforge.data.dedup import normalise

NGRAM = 5
NGRAM_THRESHOLD = 0.5
MIN_SHARED_NGRAMS = 5
GENERIC_DF = 8
COSINE_THRESHOLD = 0.85
DOC_JACCARD = 0.6
DOC_COSINE = 0.9
_STOP = frozenset("a an the of to and or in on for with by from is are be as at this that it its "
                  "given into their which".split())

Progress = Callable[[str, int, int], None]


@dataclass
class LeakReport:
    checked: int
    dropped: list[dict] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)
    max_question_similarity: float | None = None  # None when the embedding test did not run
    max_ngram_overlap: float = 0.0  # highest containment that counted (>= MIN_SHARED_NGRAMS grams)
    seconds: float = 0.0

    @property
    def kept(self) -> int:
        return self.checked - len(self.dropped)

    def counts(self) -> dict[str, int]:
        return dict(Counter(d["reason"] for d in self.dropped))

    def to_json(self) -> dict:
        return {**asdict(self), "kept": self.kept, "dropped_by_reason": self.counts()}


# --- BFCL ------------------------------------------------------------------------------------


def load_bfcl_items(folder: Path | None = None, categories: list[str] | None = None) -> list[dict]:
    """``[{"id", "category", "question": str, "functions": [...]}]`` from every ``BFCL_v4_*.json``
    (JSON Lines) in ``folder`` (BFCL's installed data by default). Lines without the single-call
    shape (an id, a question of user messages, a list of functions) are skipped, so multi-turn,
    memory, web-search and format files contribute only what fits."""
    if folder is None:
        from lamforge.tools.bfcl import data_dir

        folder = data_dir()
    folder = Path(folder)
    files = {p.stem.removeprefix("BFCL_v4_"): p for p in sorted(folder.glob("BFCL_v4_*.json"))}
    if categories is not None:
        unknown = sorted(set(categories) - set(files))
        if unknown:
            raise LamforgeError(f"unknown BFCL categories {unknown}; known: {', '.join(files)}")
        files = {c: files[c] for c in categories}
    items = []
    for category, path in files.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # format_sensitivity.json is one JSON object over many lines
                continue
            if (item := bfcl_item(row, category)) is not None:
                items.append(item)
    return items


def bfcl_item(row, category: str | None = None) -> dict | None:
    """One BFCL line as ``{"id", "category", "question", "functions"}``, or None when it does not
    have the single-call shape (an id, a question of user messages, a list of named functions)."""
    if not isinstance(row, dict) or "id" not in row:
        return None
    question, fns = row.get("question"), row.get("function")
    if not isinstance(question, list) or not all(isinstance(t, list) for t in question):
        return None
    text = " ".join(m["content"] for turn in question for m in turn  # every user message
                    if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str))
    if not text or not isinstance(fns, list) or not all(isinstance(f, dict) and "name" in f for f in fns):
        return None
    category = category or re.sub(r"_[0-9-]+$", "", str(row["id"]))
    return {"id": str(row["id"]), "category": category, "question": text, "functions": fns}


# --- the tests ---------------------------------------------------------------------------------


def _ngrams(text: str, n: int) -> frozenset[str]:
    words = normalise(text).split()
    return frozenset(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))


def fn_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in normalise(text).split() if w not in _STOP)


def _jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _checked_functions(record: dict) -> list[dict]:
    fns = [f for f in record.get("functions") or [] if isinstance(f, dict) and "name" in f]
    called = {c.get("name") for c in record.get("calls") or [] if isinstance(c, dict)}
    return [f for f in fns if f["name"] in called] if called else fns


def _embed(texts: list[str], batch_size: int) -> np.ndarray:
    """Normalised MiniLM vectors; texts go through the model shortest first, so a batch is not
    mostly padding (BFCL's live questions run from 5 to 100+ words)."""
    from lamforge.core.retrieval import embed

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    if texts:
        vectors[order] = embed([texts[i] for i in order], batch=batch_size)
    return vectors


_MEMO: dict[str, np.ndarray] = {}  # BFCL's vectors in this process: one embedding for several checks


def _question_vectors(texts: list[str], batch_size: int, cache_dir: Path | None) -> np.ndarray:
    digest = hashlib.sha256("\x00".join(["all-MiniLM-L6-v2", *texts]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"bfcl-minilm-{digest}.npy" if cache_dir is not None else None
    if digest not in _MEMO and path is not None and path.is_file():
        if (vectors := np.load(path)).shape == (len(texts), 384):
            _MEMO[digest] = vectors
    if digest not in _MEMO:
        _MEMO[digest] = _embed(texts, batch_size)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, _MEMO[digest])
            tmp.replace(path)  # atomic: a concurrent run reads the old file or the new one
    return _MEMO[digest]


def leak_check(records: list[dict], bfcl: list[dict], *, ngram: int = NGRAM,
               ngram_threshold: float = NGRAM_THRESHOLD, cosine_threshold: float = COSINE_THRESHOLD,
               doc_threshold: float = DOC_JACCARD, doc_cosine: float = DOC_COSINE, embed: bool = True,
               batch_size: int = 256, progress: Progress | None = None,
               cache_dir: Path | None = None) -> tuple[list[dict], LeakReport]:
    """``(kept records, report)``; see the module docstring for the three tests. ``cache_dir``
    keeps the BFCL questions' vectors between runs (embedding all 3.6k of them is most of the time)."""
    start = time.perf_counter()
    note = progress or (lambda stage, done, total: None)
    report = LeakReport(len(records), thresholds={
        "ngram": ngram, "ngram_threshold": ngram_threshold, "min_shared_ngrams": MIN_SHARED_NGRAMS,
        "generic_df": GENERIC_DF, "cosine_threshold": cosine_threshold if embed else None, "doc_jaccard": doc_threshold,
        "doc_cosine": doc_cosine if embed else None})
    verdict: dict[int, dict] = {}  # record index -> dropped entry

    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("request"), str):
            raise LamforgeError(f"corpus record {i} ({str(rec)[:60]}) has no string 'request'")

    def drop(i: int, reason: str, bfcl_id: str, score: float) -> None:
        verdict[i] = {"id": records[i].get("id"), "reason": reason, "bfcl_id": bfcl_id,
                      "score": round(float(score), 4)}

    # 1. question n-grams, through an inverted index gram -> BFCL questions; a gram found in
    # GENERIC_DF or more questions is a formula ("could you tell me the") and counts for nothing
    exact = {}
    index: dict[str, list[int]] = defaultdict(list)
    grams_of = [_ngrams(item["question"], ngram) for item in bfcl]
    for j, (item, grams) in enumerate(zip(bfcl, grams_of)):
        if norm := normalise(item["question"]):
            exact.setdefault(norm, j)
        for g in grams:
            index[g].append(j)
    generic = {g for g, js in index.items() if len(js) >= GENERIC_DF}
    for g in generic:
        del index[g]
    sizes = [len(grams - generic) for grams in grams_of]
    best_ngram = [0.0] * len(records)
    for i, rec in enumerate(records):
        if (j := exact.get(normalise(rec["request"]))) is not None:
            drop(i, "question-ngram", bfcl[j]["id"], 1.0)
            continue
        grams, best_j = _ngrams(rec["request"], ngram) - generic, -1
        shared = Counter(j for g in grams for j in index.get(g, ()))  # postings are < GENERIC_DF long
        for j, k in shared.items():
            score = max(k / len(grams), k / sizes[j])
            if k >= MIN_SHARED_NGRAMS and score > best_ngram[i]:
                best_ngram[i], best_j = score, j
        if best_j >= 0 and best_ngram[i] >= ngram_threshold:
            drop(i, "question-ngram", bfcl[best_j]["id"], best_ngram[i])
        if i % 1000 == 999:
            note("question-ngram", i + 1, len(records))
    note("question-ngram", len(records), len(records))

    # 2. function documents: same normalised name, close description
    docs: dict[str, list[tuple[str, str]]] = defaultdict(list)  # fn key -> [(bfcl id, description)]
    seen = set()
    for item in bfcl:
        for fn in item["functions"]:
            key, desc = fn_key(str(fn["name"])), str(fn.get("description") or "")
            if (key, desc) not in seen:
                seen.add((key, desc))
                docs[key].append((item["id"], desc))
    pairs = [(i, str(fn.get("description") or ""), bfcl_id, desc)  # same name: compare the documents
             for i, rec in enumerate(records) if i not in verdict for fn in _checked_functions(rec)
             for bfcl_id, desc in docs.get(fn_key(str(fn["name"])), ())]
    vec = {}
    if embed and pairs:
        texts = sorted({t for p in pairs for t in (p[1], p[3])})
        vec = dict(zip(texts, _embed(texts, batch_size)))
    for i, ours, bfcl_id, theirs in pairs:
        if i not in verdict:
            jac = _jaccard(_content_words(ours), _content_words(theirs))
            cos = float(vec[ours] @ vec[theirs]) if vec and ours and theirs else 0.0
            if jac >= doc_threshold or cos >= doc_cosine:
                drop(i, "function-doc", bfcl_id, max(jac, cos))
    note("function-doc", len(records), len(records))

    # 3. question embeddings: cosine of normalised MiniLM vectors, in chunks of batch_size requests
    best_cos = np.full(len(records), -1.0)
    if embed and bfcl and records:
        questions = _question_vectors([item["question"] for item in bfcl], batch_size, cache_dir).T  # 384 x m
        for lo in range(0, len(records), batch_size):
            rows = range(lo, min(lo + batch_size, len(records)))
            sims = _embed([records[i]["request"] for i in rows], batch_size) @ questions
            top, arg = sims.max(1), sims.argmax(1)
            for r, i in enumerate(rows):
                best_cos[i] = top[r]
                if i not in verdict and top[r] >= cosine_threshold:
                    drop(i, "question-embedding", bfcl[arg[r]]["id"], top[r])
            note("question-embedding", rows[-1] + 1, len(records))

    kept = [rec for i, rec in enumerate(records) if i not in verdict]
    report.dropped = [verdict[i] for i in sorted(verdict)]
    keep_idx = [i for i in range(len(records)) if i not in verdict]
    report.max_ngram_overlap = round(max((best_ngram[i] for i in keep_idx), default=0.0), 4)
    if embed:
        report.max_question_similarity = round(float(max((best_cos[i] for i in keep_idx), default=0.0)), 4)
    report.seconds = round(time.perf_counter() - start, 3)
    return kept, report


# --- files -------------------------------------------------------------------------------------


def read_corpus(path: Path) -> list[dict]:
    """Corpus records from JSON Lines; a line that is not a JSON object with a string ``request``
    raises :class:`TaskFileError` naming the file and line."""
    records = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskFileError(path, n, f"not JSON ({e.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("request"), str):
                raise TaskFileError(path, n, 'a corpus record needs a string "request"')
            records.append(rec)
    return records


def write_corpus(path: Path, records: list[dict]) -> None:
    """Corpus records as JSON Lines (what :func:`read_corpus` reads back)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)


def check_file(corpus: Path, out: Path | None = None, *, embed: bool = True, bfcl: list[dict] | None = None,
               progress: Progress | None = None, limit: int | None = None) -> LeakReport:
    """Check ``corpus`` (JSON Lines; its first ``limit`` records) against BFCL (all of it unless
    ``bfcl`` is given), write the kept records to ``out`` when given, and return the report."""
    records = read_corpus(corpus)[:limit]
    cache = None
    if bfcl is None:
        from lamforge.config import lamforge_home

        bfcl, cache = load_bfcl_items(), lamforge_home() / "cache"
    kept, report = leak_check(records, bfcl, embed=embed, progress=progress, cache_dir=cache)
    if out is not None:
        write_corpus(out, kept)
    return report
