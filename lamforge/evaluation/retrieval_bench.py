"""``lamforge bench tool-retrieval``: how well the catalog retriever finds the functions a task needs.

    lamforge bench tool-retrieval --methods bm25,embedding,hybrid --k 1,5,10 --json

The catalog is the customer-service environment's whole API (14 business functions and 331
distractors). Two held-out query sets, both from the held-out side of the split that training
data comes from (``--run``'s ``data/heldout_tasks.jsonl``, else ``split_pool("service", 200, 0)``),
and checked against every task the run trained on before anything is scored:

* ``tasks``: one query per held-out task, its request, labelled with every function its reference
  solution calls (a return-and-label task needs five).
* ``steps``: the query the environment itself builds at each step of the reference solution (the
  request, or with ``follow_results`` the request plus the last result's field names, see
  ``ServiceEnv.retrieval_query``), labelled with the one
  function the reference calls at that step: what the agent actually retrieves with. The real
  environment runs the reference calls (database and loopback services), so the result fields are
  the real ones. The share of steps whose function is among the environment's own on-screen
  controls is reported next to it.

Metrics, macro over queries: recall@k (share of the needed functions in the top k), hit@k (at
least one needed function in the top k), MRR (1 / rank of the first needed function).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar

console = output_console()
ENV = "service"
QUERY_SETS = ("tasks", "steps")
# every store a training run reads tasks from (data: expert trajectories, explore: phase 3's
# self-boosting attempts, tool_calls: self-instruct function-calling data)
TRAIN_STORES = ("data", "explore", "tool_calls")


@dataclass(frozen=True)
class Query:
    text: str
    needed: tuple[str, ...]  # function names, in the order the reference calls them, no repeats
    task_id: str


# --- metrics ----------------------------------------------------------------------------------------

def recall_at(ranking: Sequence[str], needed: Sequence[str], k: int) -> float:
    """Share of the needed functions among the first ``k`` of ``ranking`` (k past its end = all of it)."""
    need = set(needed)
    if not need:
        raise ValueError("a query needs at least one function")
    return len(need & set(ranking[:k])) / len(need)


def hit_at(ranking: Sequence[str], needed: Sequence[str], k: int) -> float:
    """1.0 when at least one needed function is among the first ``k``."""
    return float(bool(set(needed) & set(ranking[:k])))


def reciprocal_rank(ranking: Sequence[str], needed: Sequence[str]) -> float:
    """1 / (1-based rank of the first needed function); 0.0 when none is ranked."""
    need = set(needed)
    for i, name in enumerate(ranking):
        if name in need:
            return 1.0 / (i + 1)
    return 0.0


def score(rankings: Sequence[Sequence[str]], queries: Sequence[Query], ks: Sequence[int]) -> dict[str, float]:
    """Macro averages over queries: ``recall@k`` and ``hit@k`` for each k, and ``mrr``."""
    if len(rankings) != len(queries):
        raise ValueError(f"{len(rankings)} rankings for {len(queries)} queries")
    n = max(len(queries), 1)
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at(r, q.needed, k) for r, q in zip(rankings, queries)) / n
    for k in ks:
        out[f"hit@{k}"] = sum(hit_at(r, q.needed, k) for r, q in zip(rankings, queries)) / n
    out["mrr"] = sum(reciprocal_rank(r, q.needed) for r, q in zip(rankings, queries)) / n
    return {key: round(v, 4) for key, v in out.items()}


# --- held-out queries ---------------------------------------------------------------------------------

def _store_tasks(folder: Path) -> list:
    from lamforge.core.schemas import Trajectory
    from lamforge.data.store import RecordStore

    if not (folder / "records.jsonl").is_file():
        return []
    return [t.task for t in RecordStore(folder, Trajectory, readonly=True)]


def heldout_and_train(run: Path | None, env: str = ENV):
    """(held-out tasks, training tasks, held-out templates) of the split training data comes from: the
    run's recorded split when it has one (and every task its stores hold as training tasks), else
    the default pool ``split_pool(env, 200, 0)`` that ``eval`` and ``bench tool-search`` use too."""
    import json

    from lamforge.data.taskfile import read_tasks, split_pool

    held_file = run / "data" / "heldout_tasks.jsonl" if run else None
    if held_file is not None and held_file.is_file():
        split_file = run / "data" / "split.json"
        templates = json.loads(split_file.read_text()).get("heldout_templates", []) if split_file.is_file() else []
        train = [t for name in TRAIN_STORES for t in _store_tasks(run / name)]
        return read_tasks(held_file), train, templates
    train, heldout, stats = split_pool(env, 200, 0)
    if run is not None:  # a run without a recorded split may still hold training data
        train = train + [t for name in TRAIN_STORES for t in _store_tasks(run / name)]
    return heldout, train, stats.get("heldout_templates", [])


def check_no_training(queries: Sequence[Query], heldout, train, templates=()) -> None:
    """Raise ``DataLeak`` when a query comes from a task that is (or repeats) a training task."""
    from lamforge.data.splits import assert_no_leak

    by_id = {t.id: t for t in heldout}
    missing = sorted({q.task_id for q in queries} - set(by_id))
    if missing:
        raise ValueError(f"queries from tasks outside the held-out set: {', '.join(missing[:5])}")
    assert_no_leak(train, [by_id[i] for i in dict.fromkeys(q.task_id for q in queries)],
                   heldout_templates=templates)


def task_queries(tasks) -> list[Query]:
    from lamforge.envs.tasks import family_of

    out = []
    for t in tasks:
        names = tuple(dict.fromkeys(a.function for a in family_of(t).solution(t) if a.function))
        if names:
            out.append(Query(t.request, names, t.id))
    return out


def env_query(env, obs) -> str:
    """The retrieval query exactly as ``ServiceEnv._observe`` builds it, from what is on screen
    (``state`` holds the last result's text, or "No calls yet.")."""
    last = "" if obs.state == "No calls yet." else obs.state
    return env.unwrapped.retrieval_query(obs.request, last)


def step_queries(tasks, progress: Callable[[int], None] | None = None) -> tuple[list[Query], float]:
    """The environment's own retrieval query at each reference step, and the share of steps whose
    function was among the controls the environment showed."""
    from lamforge.envs import make
    from lamforge.envs.tasks import family_of

    env = make(ENV, max_steps=40)
    out, shown = [], 0
    try:
        for n, task in enumerate(tasks, 1):
            obs, _ = env.reset(options={"task": task})
            for action in family_of(task).solution(task):
                if not action.function:
                    continue
                out.append(Query(env_query(env, obs), (action.function,), task.id))
                shown += any(c.name == action.function for c in obs.controls)
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
            if progress:
                progress(n)
    finally:
        env.close()
    return out, shown / max(len(out), 1)


# --- ranking ---------------------------------------------------------------------------------------

def rank_all(method: str, queries: Sequence[Query], progress: Callable[[int], None] | None = None,
             catalog=None) -> list[list[str]]:
    """Every query's full ranking of the catalog (names, best first) by ``method``."""
    from lamforge.envs.service.functions import SERVICE_ACTIONS
    from lamforge.tools.retriever import ToolRetriever

    specs = list(catalog if catalog is not None else SERVICE_ACTIONS)
    retriever = ToolRetriever(specs, method=method)
    out = []
    for n, q in enumerate(queries, 1):
        out.append([s.name for s, _ in retriever.search(q.text, k=len(specs))])
        if progress:
            progress(n)
    return out


def run_bench(methods: Sequence[str], ks: Sequence[int], limit: int | None = None, run: Path | None = None,
              sets: Sequence[str] = QUERY_SETS, bar=None) -> dict:
    from lamforge.envs.service.functions import SERVICE_ACTIONS

    t0 = time.perf_counter()
    heldout, train, templates = heldout_and_train(run)
    tasks = heldout[:limit] if limit else heldout
    queries: dict[str, list[Query]] = {}
    extra: dict[str, dict] = {}
    if "tasks" in sets:
        queries["tasks"] = task_queries(tasks)
    if "steps" in sets:
        job = bar.add_task("reference steps in the env", total=len(tasks)) if bar else None
        queries["steps"], shown = step_queries(tasks, (lambda n: bar.update(job, completed=n)) if bar else None)
        extra["steps"] = {"env_controls_recall": round(shown, 4)}
    for qs in queries.values():
        check_no_training(qs, heldout, train, templates)
    results: dict[str, dict] = {name: {"methods": {}, "queries": len(qs), **extra.get(name, {})}
                                for name, qs in queries.items()}
    for method in methods:
        for name, qs in queries.items():
            job = bar.add_task(f"{method} on {name}", total=len(qs)) if bar else None
            ranks = rank_all(method, qs, (lambda n, job=job: bar.update(job, completed=n)) if bar else None)
            results[name]["methods"][method] = score(ranks, qs, ks)
    return {"sets": results, "tasks": len(tasks), "catalog": len(SERVICE_ACTIONS),
            "seconds": round(time.perf_counter() - t0, 1)}


def _ints(text: str, option: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"a comma-separated list of integers, not {text!r}", param_hint=option) from None
    if not ks or min(ks) < 1:
        raise typer.BadParameter("every k must be at least 1", param_hint=option)
    return ks


def bench_tool_retrieval(
    methods: str = typer.Option("bm25,embedding,hybrid", help="Comma-separated: bm25, embedding, hybrid."),
    k: str = typer.Option("1,5,10", "--k", help="Comma-separated cut-offs for recall@k and hit@k."),
    queries: str = typer.Option("tasks,steps", help="Query sets: tasks (requests), steps (the env's per-step queries)."),
    run: str = typer.Option("runs/service", help="Run folder whose held-out split is used (if it has one)."),
    limit: int | None = typer.Option(None, help="Use at most N held-out tasks."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Recall@k / hit@k / MRR of the catalog retriever on held-out customer-service queries."""
    from lamforge.core.retrieval import METHODS

    names = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise typer.BadParameter(f"unknown method(s) {', '.join(bad) or '(none)'}; known: {', '.join(METHODS)}",
                                 param_hint="--methods")
    sets = [s.strip() for s in queries.split(",") if s.strip()]
    if not sets or set(sets) - set(QUERY_SETS):
        raise typer.BadParameter(f"query sets are {', '.join(QUERY_SETS)}", param_hint="--queries")
    ks = _ints(k, "--k")
    if {"embedding", "hybrid"} & set(names):
        import torch

        # one MiniLM query at a time is all overhead: with torch's default 2 threads on a busy
        # 2-core machine each query took 1.4-2.4 s of wall time, with 1 thread 0.09 s (measured)
        torch.set_num_threads(1)
    with progress_bar() as bar:
        result = run_bench(names, ks, limit, Path(run), sets, bar)
    cols = [f"recall@{x}" for x in ks] + [f"hit@{x}" for x in ks] + ["mrr"]
    for name, res in result["sets"].items():
        table = Table(title=f"tool retrieval, {name} queries: {res['queries']} from {result['tasks']} held-out "
                            f"tasks, catalog of {result['catalog']}")
        table.add_column("method")
        for c in cols:
            table.add_column(c, justify="right")
        for method, m in res["methods"].items():
            table.add_row(method, *(f"{m[c]:.3f}" for c in cols))
        console.print(table)
        if "env_controls_recall" in res:
            console.print(f"the env's own top-12 controls held the needed function at "
                          f"{res['env_controls_recall']:.3f} of the steps")
    console.print(f"{result['seconds']} s")
    if as_json:
        first = result["sets"][sets[0]]
        summary = {"methods": first["methods"], "queries": first["queries"], "query_set": sets[0],
                   "catalog": result["catalog"], "seconds": result["seconds"]}
        summary.update({f"{s}_queries": result["sets"][s] for s in sets[1:]})
        emit_json(summary)
