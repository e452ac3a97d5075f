"""ReAct vs DFSDT on the same held-out tool tasks, and the commands of the tool-use stage.

    lamforge bench tool-search --env service --model service/lam2 --limit 12 --json
    lamforge collect tool-calls --env service --n 200 --out runs/service/tool_calls --json
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar

console = output_console()


def heldout_tasks(env: str, run: Path, limit: int | None):
    """The run's own held-out tasks; a missing run or held-out file is :class:`NoRun` (no fresh pool)."""
    from lamforge.run import Run

    return Run(run).heldout(limit)


def compare_search(backend, tasks, *, env: str = "service", width: int = 2, budget: int = 16, max_steps: int = 8,
                   progress=None, memory=None) -> dict:
    """Success, steps, time, call accuracy and hallucinations of plain ReAct and of DFSDT. ``memory``:
    the model's experience memory (``factory.model_memory``), which both agents recall from."""
    from lamforge.agents.react import ReactAgent
    from lamforge.agents.runner import run_episode
    from lamforge.agents.tree_search import TreeSearchAgent
    from lamforge.envs import make
    from lamforge.envs.tasks import family_of
    from lamforge.evaluation.tool_metrics import tool_metrics

    environment = make(env, max_steps=max_steps)
    action_set = environment.unwrapped.action_set
    refs = {t.id: family_of(t).solution(t) for t in tasks}
    out: dict = {}
    try:
        for variant in ("react", "dfsdt"):
            trajs, nodes, seconds = [], [], []
            for k, task in enumerate(tasks):
                if variant == "react":
                    agent = ReactAgent(backend, action_set, planning="off", memory=memory)
                else:
                    agent = TreeSearchAgent(environment, backend, action_set, width=width, budget=budget,
                                            max_depth=max_steps - 1, memory=memory)
                t0 = time.perf_counter()
                traj = run_episode(environment, agent, task)
                seconds.append(time.perf_counter() - t0)
                nodes.append(agent.last_search.nodes if variant == "dfsdt" else len(traj.steps))
                trajs.append(traj)
                if progress:
                    progress(variant, k + 1)
            out[variant] = {"task_success_rate": sum(t.success for t in trajs) / max(len(trajs), 1),
                            "mean_steps": statistics.fmean(len(t.steps) for t in trajs) if trajs else 0.0,
                            "env_calls_per_task": statistics.fmean(nodes) if nodes else 0.0,
                            "seconds_per_task": round(statistics.fmean(seconds), 2) if seconds else 0.0,
                            **tool_metrics(trajs, refs, action_set)}
    finally:
        environment.close()
    out["tasks"] = len(tasks)
    return out


def bench_tool_search(
    model: str = typer.Option("smollm2-135m", help="Model: name, path, lamN of --run, forged name."),
    env: str = typer.Option("service", help="Environment with tool tasks."),
    run: Path = typer.Option(Path("runs/service"), help="Run folder (held-out tasks, phase models)."),
    limit: int | None = typer.Option(12, help="At most N held-out tasks."),
    width: int = typer.Option(2, help="DFSDT: children proposed per node."),
    budget: int = typer.Option(16, help="DFSDT: actions executed per task at most."),
    max_steps: int = typer.Option(8, help="Step limit per episode."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Plain ReAct vs DFSDT tree search on the same held-out tasks."""
    from lamforge.agents.factory import model_memory
    from lamforge.evaluation.compare import resolve_model
    from lamforge.models import load_backend

    tasks = heldout_tasks(env, run, limit)
    spec = resolve_model(model, run, "smollm2-135m", env)
    backend = load_backend(spec)
    with progress_bar() as bar:
        jobs = {v: bar.add_task(v, total=len(tasks)) for v in ("react", "dfsdt")}
        result = compare_search(backend, tasks, env=env, width=width, budget=budget, max_steps=max_steps,
                                progress=lambda v, k: bar.update(jobs[v], completed=k), memory=model_memory(spec))
    table = Table("agent", "task success", "call acc", "function acc", "hallucination", "steps", "env calls/task",
                  "s/task")
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"
    for v in ("react", "dfsdt"):
        r = result[v]
        table.add_row(v, pct(r["task_success_rate"]), pct(r["call_acc"]), pct(r["function_acc"]),
                      pct(r["hallucination_rate"]), f"{r['mean_steps']:.2f}", f"{r['env_calls_per_task']:.1f}",
                      str(r["seconds_per_task"]))
    console.print(f"{model} on {len(tasks)} held-out {env} tasks")
    console.print(table)
    if as_json:
        emit_json({**result, "model": model})


def collect_tool_calls(
    env: str = typer.Option("service", help="Environment whose catalog and database ground the calls."),
    n: int = typer.Option(200, help="Candidates to generate."),
    out: Path = typer.Option(Path("runs/service/tool_calls"), help="Output folder (crash-safe store)."),
    model: str | None = typer.Option(None, help="Word the requests with this model (default: templates)."),
    seed: int = typer.Option(0, help="Seed."),
    resume: bool = typer.Option(False, help="Continue a generation in --out."),
    heldout: Path | None = typer.Option(None, help="Held-out tasks (JSON lines) whose stores are never used "
                                                   "(default: the held-out split lamforge makes for --env)."),
    limit: int | None = typer.Option(None, help="Quick run: at most N candidates."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Self-instruct function-calling examples, kept when format, execution and outcome checks pass."""
    from lamforge.data.taskfile import read_tasks, split_pool
    from lamforge.data.tool_calls import generate

    if heldout:
        exclude = {t.template for t in read_tasks(heldout) if t.template}
    else:  # the default split's stores held out whole (its held-out instances span every store)
        exclude = set(split_pool(env, 200, 0)[2].get("heldout_templates", []))

    backend = None
    if model:
        from lamforge.models import load_backend

        backend = load_backend(model)
    total = min(n, limit) if limit else n
    with progress_bar() as bar:
        job = bar.add_task("tool calls", total=total)
        summary = generate(env, total, out, seed=seed, backend=backend, resume=resume, exclude_templates=exclude,
                           progress=lambda k, _n: bar.update(job, completed=k))
    summary["excluded_stores"] = sorted(exclude)
    console.print(f"{summary['candidates']} candidates: {summary['passed']} kept, {summary['failed']} rejected -> {out}")
    if as_json:
        emit_json(summary)
