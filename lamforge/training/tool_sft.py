"""Retrieval-aware function-calling SFT on the self-instruct data (as Gorilla trains).

    lamforge collect tool-calls --env service --n 240 --out runs/service/tool_calls
    lamforge train-tool-calls --env service --data runs/service/tool_calls --out runs/service/tools
    lamforge train-tool-calls --data runs/fc --out runs/fc/model-run --name fc/tools   # the general corpus

Each verified example (a one-step trajectory: request -> call, kept by ``lamforge collect
tool-calls`` only when its format, execution and outcome checks passed) becomes a chat row in the
tool-calling prompt of inference (``lamforge/prompts/tools.yaml`` via ``training_row``): the
documentation of the functions the environment's retriever offered for that request (the
observation's controls: the right one among near-misses and distractors), then the request, then
the call. A share of the rows (``no_call_share``) have the right function taken out of the offered
ones and answer ``NO_CALL``: when retrieval misses, the model must say so rather than call a
neighbour (the irrelevance case of BFCL; Gorilla's reason for training with retrieved documents).
"""

from __future__ import annotations

import random
from pathlib import Path

from lamforge.core.actions import ActionSet
from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import Trajectory
from lamforge.tools.calling import training_row
from lamforge.training.rows import conversation_row


def tool_call_rows(tokenizer, examples: list[Trajectory], action_set: ActionSet, *, no_call_share: float = 0.2,
                   seed: int = 0) -> list[dict]:
    """Tokenized rows (labels on the answer only) for verified one-step tool-call examples."""
    rng = random.Random(seed)
    rows = []
    for traj in examples:
        step = traj.steps[0]
        call = step.action
        offered = [c.name for c in step.observation.controls if c.name in action_set]
        if call.function not in offered:
            offered.append(call.function)  # retrieval missed it: still teach the right call, from its docs
        rng.shuffle(offered)
        calls = [(call.function, dict(call.args))]
        if rng.random() < no_call_share:
            offered = [name for name in offered if name != call.function]
            calls = []
        specs = [action_set.get(name) for name in offered]
        messages = training_row(specs, [{"role": "user", "content": traj.task.request}], calls)
        row = conversation_row(tokenizer, messages)
        rows.append({"input_ids": row["input_ids"], "labels": row["labels"]})
    return rows


def corpus_rows(tokenizer, records: list[dict], *, seed: int = 0) -> list[dict]:
    """Tokenized rows for function-calling corpus records (``lamforge collect fc-corpus``): the offered
    functions' documentation in a shuffled order, the request, and every call (or ``NO_CALL``)."""
    from lamforge.data.fc.checks import ident_calls
    from lamforge.tools.schema import specs_from_functions

    rng = random.Random(seed)
    rows = []
    for record in records:
        specs, _ = specs_from_functions(record["functions"])
        rng.shuffle(specs)
        messages = training_row(specs, [{"role": "user", "content": record["request"]}], ident_calls(record))
        row = conversation_row(tokenizer, messages)
        rows.append({"input_ids": row["input_ids"], "labels": row["labels"]})
    return rows


def corpus_file(data: Path) -> Path | None:
    """The corpus file ``data`` names: itself (a .jsonl), or ``corpus.jsonl`` in it; None for a store."""
    data = Path(data)
    if data.suffix == ".jsonl" and data.is_file():
        return data
    return data / "corpus.jsonl" if (data / "corpus.jsonl").is_file() else None


def verified_examples(data: Path) -> list[Trajectory]:
    from lamforge.training.phases import read_store

    if not Path(data).is_dir():
        raise LamforgeError(f"no tool-call data in {data}: run `lamforge collect tool-calls --out {data}` first")
    passed = [t for t in read_store(Path(data)) if t.outcome and t.outcome.verdict == "pass" and len(t.steps) == 1
              and t.steps[0].action.function]
    if not passed:
        raise LamforgeError(f"{data} holds no verified one-step tool calls (every candidate failed its checks?)")
    return passed


def train_tool_calls(recipe: dict, data: Path, out: Path, *, env: str = "service", base_model: str | None = None,
                     register_as: str | None = None, limit_examples: int | None = None) -> dict:
    """Fine-tune on the verified examples in ``data``; the model lands in OUT/model."""
    from lamforge.envs import action_set_of
    from lamforge.training.phases import _done, _finish, model_dir
    from lamforge.training.recipe import build_config
    from lamforge.training.sft import LamSFTConfig, load_for_training, train_sft

    if (done := _done(Path(out))) is not None:
        return {**done, "skipped": True}
    section = dict(recipe.get("tool_calls", {}))
    no_call_share = float(section.pop("no_call_share", 0.2))
    corpus = corpus_file(data)
    if corpus is not None:
        from lamforge.data.fc.leak import read_corpus

        examples = read_corpus(corpus)[:limit_examples]
    else:
        examples = verified_examples(data)[:limit_examples]
    start = base_model or recipe.get("base_model", "smollm2-135m")
    model, tokenizer = load_for_training(model_dir(start))
    if corpus is not None:  # the general corpus carries its own NO_CALL (irrelevance) records
        rows, no_call_share = corpus_rows(tokenizer, examples), None
    else:
        rows = tool_call_rows(tokenizer, examples, action_set_of(env), no_call_share=no_call_share)
    config = build_config(LamSFTConfig, section, output_dir=str(Path(out) / "checkpoints"))
    summary = {"phase": "tool_calls", "start": start, "examples": len(examples), "no_call_share": no_call_share,
               **train_sft(config, start, rows, out, model=model, tokenizer=tokenizer)}
    # the same summary file and registry entry as a phase's (the data folder stands for the run)
    return _finish(Path(out), summary, Path(data), env, register_as)
