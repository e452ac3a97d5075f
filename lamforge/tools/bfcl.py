"""BFCL (Berkeley Function Calling Leaderboard) through our backends, scored by BFCL's own AST
checker. EVALUATION ONLY: nothing in lamforge trains or tunes prompts on these questions.

    lamforge bench bfcl --model smollm2-135m --limit 20 --json
    summary = run_bfcl(load_backend("smollm2-135m"), ["simple_python", "irrelevance"], limit=20)

``bfcl-eval`` pins old packages, so it lives in its own virtual environment
(``lamforge_home()/bfcl-venv``, built on first use with the pins of BENCHMARKS.md). The questions
and possible answers are read from its installed wheel; our model answers in this process; the
scorer (``bfcl_score.py``) runs in that environment as a subprocess.

Each question's functions become ActionSpecs (BFCL's "dict"/"float"/"tuple" mapped to JSON Schema,
dotted names such as ``math.gcd`` written ``math_gcd`` and mapped back); the prompt is
``lamforge/prompts/tools.yaml``; the answer is calls, one per line, or NO_CALL. With a local model
the answer is decoded under the grammar of the offered functions (``calls_grammar``, at most 4
calls, the same for every category), ``--batch-size`` questions at a time
(``lamforge.models.batch_decoding``, the same answers as one at a time); ``--decoding freeform``
generates in batches and parses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamforge.config import lamforge_home
from lamforge.core.actions import ActionSet, ActionSpec
from lamforge.core.calls import calls_grammar
from lamforge.core.errors import CatalogError, DependencyNotInstalled, LamforgeError
from lamforge.tools.calling import ToolAnswer, read_answer, tool_messages
from lamforge.tools.schema import specs_from_functions as to_specs

BFCL_VERSION = "2026.3.23"
# Resolved on this machine (../shared/reference/BENCHMARKS.md); soundfile is imported by a vendor
# handler that the checker's module pulls in.
PINS = (f"bfcl-eval=={BFCL_VERSION}", "tree_sitter==0.21.3", "tree-sitter-java==0.21.0",
        "tree-sitter-javascript==0.21.4", "cohere==5.18.0", "mistralai==1.7.0",
        "datamodel-code-generator==0.25.7", "soundfile")
DEFAULT_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
MAX_CALLS = 4

# BFCL V4 leaderboard, non-live AST, in % (publishers' figures copied from BENCHMARKS.md)
ANCHORS: dict[str, dict[str, float]] = {
    "Qwen3-0.6B (FC)": {"simple_python": 64.17, "multiple": 86.0, "parallel": 67.5, "parallel_multiple": 69.5,
                        "irrelevance": 80.84},
    "xLAM-2-1b-fc-r": {"simple_python": 64.17, "multiple": 82.5, "parallel": 73.5, "parallel_multiple": 56.0,
                       "irrelevance": 64.47},
    "Granite-4.0-350m": {"simple_python": 61.67, "multiple": 84.5, "parallel": 70.0, "parallel_multiple": 55.5,
                         "irrelevance": 60.84},
    "Hammer2.1-0.5b": {"simple_python": 62.42, "multiple": 81.0, "parallel": 69.0, "parallel_multiple": 51.5,
                       "irrelevance": 80.79},
    "Llama-3.2-1B-Instruct": {"simple_python": 44.0, "multiple": 50.5, "parallel": 44.0, "parallel_multiple": 15.0,
                              "irrelevance": 51.57},
}


# --- the isolated environment ----------------------------------------------------------------


def venv_dir() -> Path:
    return lamforge_home() / "bfcl-venv"


def _stamp() -> Path:
    return venv_dir() / ".lamforge-ready"


def venv_python(build: bool = True, log: Callable[[str], None] = print) -> Path:
    """The isolated environment's python, built (minutes) when missing and ``build`` is set."""
    python = venv_dir() / "bin" / "python"
    if _stamp().is_file() and python.is_file() and json.loads(_stamp().read_text()) == list(PINS):
        return python
    if not build:
        raise DependencyNotInstalled(f"the BFCL environment is not built ({venv_dir()}); "
                                     "`lamforge bench bfcl` builds it on first use")
    log(f"building the BFCL environment in {venv_dir()} (once; pip install {' '.join(PINS)})")
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir())], check=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise DependencyNotInstalled(f"installing bfcl-eval into {venv_dir()} failed:\n{tail}")
    _stamp().write_text(json.dumps(list(PINS)))
    return python


def data_dir() -> Path:
    found = sorted(venv_dir().glob("lib/python*/site-packages/bfcl_eval/data"))
    if not found:
        raise DependencyNotInstalled(f"bfcl_eval's data folder is missing under {venv_dir()}; "
                                     f"delete that folder and run again to rebuild it")
    return found[0]


# --- questions ---------------------------------------------------------------------------------


@dataclass
class Question:
    id: str
    category: str
    turns: list[dict]
    functions: list[dict]  # BFCL's own schemas, for its checker
    possible_answer: list | None
    specs: list[ActionSpec] = field(default_factory=list)
    names: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # ident -> (name, args)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_questions(category: str, limit: int | None = None) -> list[Question]:
    """A category's questions (evenly spaced over the file when ``limit`` is given, so a subset
    is not just the first topic) with their possible answers."""
    folder = data_dir()
    path = folder / f"BFCL_v4_{category}.json"
    if not path.is_file():
        known = sorted(p.stem.removeprefix("BFCL_v4_") for p in folder.glob("BFCL_v4_*.json"))
        raise LamforgeError(f"unknown BFCL category {category!r}; known: {', '.join(known)}")
    rows = _read_jsonl(path)
    answers_path = folder / "possible_answer" / path.name
    answers = {r["id"]: r["ground_truth"] for r in _read_jsonl(answers_path)} if answers_path.is_file() else {}
    if limit is not None and limit < len(rows):
        step = len(rows) / limit
        rows = [rows[int(i * step)] for i in range(limit)]
    out = []
    for r in rows:
        if len(r["question"]) != 1:
            raise LamforgeError(f"{r['id']}: multi-turn categories are not supported")
        q = Question(r["id"], category, r["question"][0], r["function"], answers.get(r["id"]))
        try:
            q.specs, q.names = to_specs(r["function"])
        except CatalogError:
            q.specs = []  # a schema we cannot read: the question is answered wrong, not skipped
        out.append(q)
    return out


# --- answering -----------------------------------------------------------------------------------


def answer(backend, questions: list[Question], *, decoding: str = "constrained", batch_size: int = 8,
           max_tokens: int = 128, progress: Callable[[int], None] | None = None) -> list[str]:
    """The raw answer text of each question."""
    local = bool(getattr(backend, "local", False))
    texts: list[str] = []
    if not local:  # a remote server: free-form text, parsed
        for q in questions:
            texts.append(backend.chat(tool_messages(q.specs, q.turns), max_tokens=max_tokens).text)
            progress and progress(1)
        return texts
    if decoding == "constrained":
        return _constrained(backend, questions, batch_size, max_tokens, progress)
    if decoding != "freeform":
        raise ValueError(f"decoding must be constrained or freeform, not {decoding!r}")
    for i in range(0, len(questions), batch_size):
        batch = questions[i:i + batch_size]
        texts += _batched(backend, [tool_messages(q.specs, q.turns) for q in batch], max_tokens)
        progress and progress(len(batch))
    return texts


def _constrained(backend, questions: list[Question], batch_size: int, max_tokens: int,
                 progress: Callable[[int], None] | None) -> list[str]:
    """Greedy decoding under each question's calls grammar, ``batch_size`` questions at a time
    (grouped by prompt length so little of a batch is padding)."""
    from lamforge.models.batch_decoding import generate_constrained_batch
    from lamforge.models.decoding import grammar_compiler, prompt_ids

    tok = backend.tokenizer
    compiler = grammar_compiler(backend.model, tok)  # shared by every batch
    texts = [""] * len(questions)  # a question whose functions we cannot read is answered wrong
    jobs = []
    for i, q in enumerate(questions):
        if not q.specs:
            continue
        ids = prompt_ids(tok, tool_messages(q.specs, q.turns))
        jobs.append((i, ids, calls_grammar(ActionSet(q.specs), max_calls=MAX_CALLS)))
    progress and progress(len(questions) - len(jobs))
    jobs.sort(key=lambda job: len(job[1]))
    for start in range(0, len(jobs), max(1, batch_size)):
        batch = jobs[start:start + max(1, batch_size)]
        outs = generate_constrained_batch(backend.model, tok, [j[1] for j in batch], [j[2] for j in batch],
                                          max_new_tokens=max_tokens, compiler=compiler)
        for (i, _, _), text in zip(batch, outs):
            texts[i] = text
        progress and progress(len(batch))
    return texts


def _batched(backend, conversations: list[list[dict]], max_tokens: int) -> list[str]:
    """Greedy HF generate over a left-padded batch (~4x the tokens/s of batch 1 on this CPU)."""
    import torch

    tok = backend.tokenizer
    prompts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in conversations]
    side, tok.padding_side = tok.padding_side, "left"
    try:
        enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True)
    finally:
        tok.padding_side = side
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.inference_mode():
        out = backend.model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=pad,
                                     temperature=None, top_p=None, top_k=None)
    return [tok.decode(row[enc["input_ids"].shape[1]:], skip_special_tokens=True).strip() for row in out]


def model_output(ans: ToolAnswer, q: Question) -> list[dict] | None:
    """The answer in BFCL's form ``[{"fn": {"arg": value}}]`` with BFCL's names; None when unreadable."""
    if ans.error is not None:
        return None
    out = []
    for name, args in ans.calls:
        original, arg_names = q.names.get(name, (name, {}))
        out.append({original: {arg_names.get(k, k): v for k, v in args.items()}})
    return out


# --- scoring ----------------------------------------------------------------------------------


def score(rows: list[dict], python: Path | None = None) -> list[dict]:
    """Run BFCL's checker over ``rows`` (see ``bfcl_score.py``) in the isolated environment."""
    python = python or venv_python(build=False)
    script = Path(__file__).with_name("bfcl_score.py")
    with tempfile.TemporaryDirectory(prefix="lamforge-bfcl-") as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
        # the checker's import chain touches vendor SDKs that read keys from the environment: give it none
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        done = subprocess.run([str(python), str(script), str(src), str(dst)], capture_output=True, text=True,
                              env=env, timeout=600, check=False)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-6:])
            raise LamforgeError(f"the BFCL scorer failed (exit {done.returncode}):\n{tail}")
        return _read_jsonl(dst)


def run_bfcl(backend, categories: list[str], *, limit: int | None = None, decoding: str = "constrained",
             batch_size: int = 8, max_tokens: int = 128, progress: Callable[[str, int, int], None] | None = None,
             records: Path | None = None) -> dict[str, Any]:
    """Answer and score; returns ``{"categories": {cat: accuracy}, "hallucination_rate", "seconds", ...}``.
    ``records`` (a .jsonl path) receives one row per question: answer text, calls, verdict."""
    python = venv_python(build=True)
    t0 = time.perf_counter()
    rows, questions, answers_, texts = [], [], [], []
    for cat in categories:
        qs = load_questions(cat, limit)
        done = [0]

        def tick(n: int, cat: str = cat, total: int = len(qs), done: list = done) -> None:
            done[0] += n
            progress and progress(cat, done[0], total)

        tick(0)
        cat_texts = answer(backend, qs, decoding=decoding, batch_size=batch_size, max_tokens=max_tokens,
                           progress=tick)
        for q, text in zip(qs, cat_texts):
            ans = read_answer(text, q.specs)
            rows.append({"id": q.id, "category": cat, "function": q.functions,
                         "possible_answer": q.possible_answer, "model_output": model_output(ans, q)})
            questions.append(q)
            answers_.append(ans)
            texts.append(text)
    answer_seconds = time.perf_counter() - t0
    verdicts = {r["id"]: r for r in score(rows, python)}
    per_cat: dict[str, list[bool]] = {}
    for q in questions:
        per_cat.setdefault(q.category, []).append(bool(verdicts[q.id]["valid"]))
    hallucinated = sum(bool(a.hallucinations) for a in answers_)
    summary = {
        "categories": {c: round(sum(v) / len(v), 4) for c, v in per_cat.items()},
        "hallucination_rate": round(hallucinated / max(len(answers_), 1), 4),
        "seconds": round(time.perf_counter() - t0, 1),
        "answer_seconds": round(answer_seconds, 1),
        "questions": {c: len(v) for c, v in per_cat.items()},
        "unreadable_rate": round(sum(a.error is not None for a in answers_) / max(len(answers_), 1), 4),
        "no_call_rate": round(sum(a.no_call for a in answers_) / max(len(answers_), 1), 4),
        "decoding": decoding,
        "limit_per_category": limit,
    }
    if records is not None:
        records.parent.mkdir(parents=True, exist_ok=True)
        with records.open("w", encoding="utf-8") as f:
            for q, a, text in zip(questions, answers_, texts):
                f.write(json.dumps({"id": q.id, "category": q.category, "answer": text, "calls": a.calls,
                                    "hallucinations": a.hallucinations, **verdicts[q.id]}, default=str) + "\n")
    return summary
