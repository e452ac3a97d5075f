"""The ``lamforge bench miniwob`` command (the work is in :mod:`lamforge.evaluation.miniwob_bench`)."""

from __future__ import annotations

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar

console = output_console()


def bench_miniwob(
    model: str | None = typer.Option(None, help="Model name, path, forged name or openai:NAME."),
    agent: str = typer.Option("model", help="expert (scripted + search) | model (with --model)."),
    tasks: str | None = typer.Option(None, help="Comma-separated MiniWoB++ tasks (default: all 125)."),
    seeds: int = typer.Option(5, help="Evaluation seeds per task (0..N-1)."),
    max_steps: int = typer.Option(10, help="Step limit per episode (the protocol's is 10)."),
    workers: int = typer.Option(2, help="Worker processes, each with its own browser."),
    budget: int = typer.Option(25, help="Search expert: actions tried per task."),
    log: str | None = typer.Option(None, help="Append one JSON line per episode to this file."),
    planning: str = typer.Option("dynamic", help="Model agents: off | start | dynamic (re-plan on errors)."),
    limit: int | None = typer.Option(None, help="Quick run: only the first N tasks."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """MiniWoB++ with the public protocol (125 tasks x 5 seeds, 10 steps, binary reward)."""
    from lamforge.evaluation.miniwob_bench import PUBLISHED, run_bench
    from lamforge.envs.web.miniwob.site import core_tasks

    if model is None and agent != "expert":
        raise typer.BadParameter("give --model NAME, or --agent expert")
    who = "expert" if model is None else model
    names = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else list(core_tasks())
    names = names[:limit] if limit else names
    with progress_bar() as bar:
        job = bar.add_task(f"{who} on MiniWoB++", total=len(names) * seeds)
        summary = run_bench(who, names, seeds, max_steps=max_steps, workers=workers, budget=budget, planning=planning, log=log,
                            progress=lambda done, total: bar.update(job, completed=done, total=total))
    table = Table("task", "success", "expert" if who == "expert" else "")
    for name, rate in summary["per_task"].items():
        table.add_row(name, f"{rate:.2f}", summary.get("task_expert", {}).get(name, ""))
    console.print(table)
    console.print(f"{who}: {summary['success_rate']:.3f} over {summary['episodes']} episodes "
                  f"({summary['tasks']} tasks x {seeds} seeds, <= {max_steps} steps) in {summary['wall_seconds']} s")
    console.print("published (125 tasks x 5 seeds): " + ", ".join(f"{k} {v:.3f}" for k, v in PUBLISHED.items()))
    if as_json:
        emit_json(summary)
