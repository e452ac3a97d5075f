"""``lamforge eval``: every model on the same held-out tasks in one run, side by side (the work is
:mod:`lamforge.evaluation.compare`; this module is the command line, and nothing imports it).

    lamforge eval --env office --run runs/office --models base,lam1,lam2,expert --limit 30 --json

A ``--run`` that does not exist, or has no held-out file of its own, is refused before any model
loads (drawing a fresh pool instead would evaluate on tasks that may have been trained on, and on
another machine's family list).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import typer

from lamforge.console import emit_json, output_console
from lamforge.evaluation.compare import compare_models, comparison_table, resolve_model, summary_of
from lamforge.run import SPLITS, Run

console = output_console()


def evaluate(
    models: str = typer.Option("base,lam1,lam2,expert", help="Comma-separated: base, lamN, expert, names, paths, openai:NAME."),
    env: str = typer.Option("office", help="Environment."),
    run: Path = typer.Option(Path("runs/office"), help="Run folder (held-out tasks, phase models)."),
    split: str = typer.Option("heldout", help="heldout (final figures) or validation (choosing settings: online "
                              "success only); training tasks never are."),
    base_model: str = typer.Option("smollm2-135m", help="What 'base' means."),
    limit: int | None = typer.Option(30, help="At most N held-out tasks."),
    workers: int = typer.Option(2, help="Worker processes for online episodes."),
    lockstep: int = typer.Option(1, help="Run a local model's episodes N at a time in one process, their "
                                 "actions decoded in one batch (1: one at a time in --workers processes, "
                                 "faster on a 2-core CPU; see the README's evaluation speed)."),
    max_steps: int = typer.Option(10, help="Step limit of online episodes."),
    out: Path | None = typer.Option(None, help="Report folder (default RUN/eval)."),
    ablation: Path | None = typer.Option(None, help="Append each model's validation figures to this ablation "
                                         "file (JSON lines, shown in the report as RUN/ablation.jsonl)."),
    row: str | None = typer.Option(None, help="The ablation row's name (the lever tried); default the model."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Evaluate models side by side on held-out tasks: planning, offline and online metrics + report."""
    if ablation is not None and split != "validation":
        raise typer.BadParameter("ablation rows are measured on the validation split (--split validation): "
                                 "settings are never chosen on the held-out tasks")
    started = time.time()
    if split not in SPLITS:
        raise typer.BadParameter("evaluation runs on held-out tasks (--split heldout) or on the validation "
                                 "split (--split validation); training tasks never are")
    names = [m.strip() for m in models.split(",") if m.strip()]
    Run(run).tasks(split)  # no run, or no tasks of its own: stop before any model loads
    done = compare_models(names, env=env, run=run, base_model=base_model, limit=limit, workers=workers,
                          max_steps=max_steps, out=out, split=split, online_only=split == "validation",
                          lockstep=lockstep)
    console.print(f"{len(done['tasks'])} {split} tasks ({len(done['references'])} with expert references), env {env}")
    console.print(comparison_table(done["results"], names))
    console.print(f"report: {done['report']}")
    if ablation is not None:
        from lamforge.evaluation.ablation import record_row

        figures = summary_of(done["results"], names)
        for name in names:
            command = shlex.join(["lamforge", "eval", "--env", env, "--run", str(run), "--split", split,
                                  "--models", name, "--limit", str(limit), "--max-steps", str(max_steps)])
            record_row(ablation, row or name, name, resolve_model(name, run, base_model, env), figures[name],
                       len(done["tasks"]), time.time() - started, command)
        console.print(f"ablation rows appended to {ablation}")
    if as_json:
        emit_json({"models": summary_of(done["results"], names), "tasks": len(done["tasks"]),
                   "report": str(done["report"])})
