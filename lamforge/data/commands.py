"""``lamforge collect ...`` and ``lamforge data ...``: the data stage's commands.

    lamforge collect plans --docs DIR --out runs/office/plans.jsonl --evolve 2
    lamforge collect trajectories --env office --n 2000 --expert reference --out runs/office/data
    lamforge data stats runs/office/data
    lamforge data export runs/office/data --out runs/office/export
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar
from lamforge.core.errors import TaskFileError
from lamforge.data.taskfile import read_tasks, split_pool, write_tasks

collect_app = typer.Typer(no_args_is_help=True, help="Collect task-plan pairs and verified trajectories.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect and export collected data.")
console = output_console()


@collect_app.command("plans")
def collect_plans(
    docs: Path | None = typer.Option(None, help="Folder of markdown/HTML help (default: --env's manual)."),
    env: str = typer.Option("office", help="Environment whose manual (lamforge/envs/<env>/manual) is read."),
    out: Path = typer.Option(Path("runs/office/plans.jsonl"), help="JSON-lines file of task-plan pairs."),
    evolve_rounds: int = typer.Option(1, "--evolve", help="Rounds of evolution (composites, rewording)."),
    model: str | None = typer.Option(None, help="Model backend for LLM extraction/evolution."),
    instantiate: int = typer.Option(0, help="Also bind N pairs to runnable tasks (written next to --out)."),
    limit: int | None = typer.Option(None, help="Use at most N documentation pairs."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Extract task-plan pairs from documentation, evolve them and remove duplicates."""
    from lamforge.data.dedup import dedup
    from lamforge.data.evolve import evolve
    from lamforge.data.plans import extract_plans, write_plans
    from lamforge.envs import manual_dir

    if docs is None and manual_dir(env) is None:
        raise typer.BadParameter(f"{env} ships no manual folder; pass --docs DIR", param_hint="--env")
    backend = None
    if model:
        from lamforge.models import load_backend

        backend = load_backend(model)
    pairs = extract_plans(docs or manual_dir(env), backend=backend)[:limit]
    evolved = evolve(pairs, evolve_rounds, backend=backend)
    kept = dedup(evolved)
    write_plans(kept, out)
    summary = {"extracted": len(pairs), "evolved": len(evolved), "kept": len(kept),
               "duplicates_removed": len(evolved) - len(kept), "out": str(out)}
    if instantiate:
        from lamforge.data.instantiate import Instantiator

        inst, rng = Instantiator(env), random.Random(0)
        bindings = [inst.bind(p, rng) for p in kept[:instantiate]]
        tasks = [b.task for b in bindings if b.task is not None]
        write_tasks(tasks, out.with_name(out.stem + "-tasks.jsonl"))
        summary.update(instantiated=len(tasks), filtered_out=len(bindings) - len(tasks))
    console.print(f"{len(pairs)} pairs extracted, {len(evolved)} after evolution, {len(kept)} after de-duplication"
                  f" -> {out}")
    if as_json:
        emit_json(summary)


@collect_app.command("trajectories")
def collect_trajectories_cmd(
    env: str = typer.Option("office", help="Environment."),
    n: int = typer.Option(200, help="Number of training tasks to run."),
    expert: str = typer.Option("reference", help="reference | search | a model name/path/openai:NAME."),
    out: Path = typer.Option(Path("runs/office/data"), help="Output folder (crash-safe store)."),
    tasks_file: Path | None = typer.Option(None, "--tasks", help="JSON-lines task file instead of sampling."),
    workers: int = typer.Option(2, help="Worker processes."),
    seed: int = typer.Option(0, help="Seed of the task pool."),
    max_steps: int = typer.Option(20, help="Step limit per episode."),
    resume: bool = typer.Option(False, help="Continue a collection in --out (after a crash or kill)."),
    limit: int | None = typer.Option(None, help="Run at most N tasks."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Run an expert on training tasks; verify (format, execution, outcome) and store each trajectory."""
    from lamforge.data.collect import collect_trajectories

    if tasks_file is not None:
        tasks, heldout, stats = read_tasks(tasks_file), [], {}
    else:
        tasks, heldout, stats = split_pool(env, n, seed)
        out.mkdir(parents=True, exist_ok=True)
        write_tasks(heldout, out / "heldout_tasks.jsonl")
        (out / "split.json").write_text(json.dumps({k: v for k, v in stats.items() if k != "dropped_ids"}, indent=2))
    tasks = tasks[:limit] if limit else tasks
    with progress_bar() as bar:
        job = bar.add_task(f"{expert} on {env}", total=len(tasks))
        summary = collect_trajectories(tasks, out, env_name=env, expert=expert, workers=workers,
                                       max_steps=max_steps, resume=resume,
                                       progress=lambda done, total: bar.update(job, completed=done, total=total))
    console.print(f"{summary['total']} trajectories in {out}: {summary['passed']} passed, {summary['failed']} failed,"
                  f" {summary['unsure']} unsure; {summary['collected']} new in {summary['seconds']} s")
    if heldout:
        console.print(f"{len(heldout)} held-out tasks (never collected) in {out / 'heldout_tasks.jsonl'}")
    if as_json:
        emit_json(summary)


@data_app.command("stats")
def stats(folder: Path = typer.Argument(..., help="A trajectory store folder."),
          as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line.")) -> None:
    """Counts per family, template, verdict and agent."""
    from lamforge.core.schemas import Trajectory
    from lamforge.data.export import datasheet
    from lamforge.data.store import RecordStore

    if not (folder / "records.jsonl").is_file():
        raise TaskFileError(folder, None, "no records.jsonl here: not a trajectory store")
    records = list(RecordStore(folder, Trajectory, readonly=True))
    sheet = datasheet(records, lambda t: "train")
    for key in ("family", "template", "verdict"):
        table = Table(key, "count")
        for name, count in sheet[key].items():
            table.add_row(str(name), str(count))
        console.print(table)
    steps = sum(len(t.steps) for t in records)
    console.print(f"{len(records)} trajectories, {steps} steps")
    if as_json:
        emit_json({"trajectories": len(records), "steps": steps,
                   **{k: sheet[k] for k in ("family", "template", "verdict")}})


@data_app.command("export")
def export(folder: Path = typer.Argument(..., help="A trajectory store folder."),
           out: Path = typer.Option(..., help="Where the Parquet files and the datasheet go."),
           as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line.")) -> None:
    """Export as Hugging Face datasets / Parquet with a datasheet."""
    from lamforge.core.schemas import Trajectory
    from lamforge.data.export import datasheet, export_parquet, write_datasheet
    from lamforge.data.store import RecordStore

    records = list(RecordStore(folder, Trajectory, readonly=True))
    split_of = lambda t: "train" if t.outcome.verdict == "pass" else "rejected"
    export_parquet(records, out, split_of)
    sheet = datasheet(records, split_of)
    path = write_datasheet(sheet, out)
    console.print(f"{len(records)} trajectories exported to {out}; datasheet {path}")
    if as_json:
        emit_json({"exported": len(records), "out": str(out)})


@collect_app.command("active")
def collect_active(
    model: str = typer.Option("smollm2-135m", help="The current model (name, path or forged name)."),
    env: str = typer.Option("office", help="Environment."),
    pool: int = typer.Option(120, help="Candidate training tasks to score."),
    budget: int = typer.Option(30, help="Tasks to select."),
    mix: float = typer.Option(0.5, help="Share of the budget chosen by uncertainty (rest random)."),
    seed: int = typer.Option(0, help="Seed of the task pool."),
    out: Path | None = typer.Option(None, help="Write the selected tasks (JSON lines) here."),
    limit: int | None = typer.Option(None, help="Quick run: score at most N tasks."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Select tasks by model uncertainty mixed with random picks; compare with random at the same budget."""
    from lamforge.agents.react import ReactAgent
    from lamforge.data.active import compare, probe, select
    from lamforge.envs import make
    from lamforge.models import load_backend

    tasks, _, _ = split_pool(env, limit or pool, seed)
    environment = make(env)
    agent = ReactAgent(load_backend(model), environment.unwrapped.action_set, planning="off")
    with progress_bar() as bar:
        job = bar.add_task(f"scoring tasks with {model}", total=len(tasks))
        probes = probe(agent, environment, tasks, progress=lambda k: bar.update(job, completed=k))
    chosen = select(probes, min(budget, len(probes)), mix, seed)
    if out:
        write_tasks([probes[i].task for i in chosen], out)
    result = compare(probes, min(budget, len(probes)), seed)
    table = Table("strategy", "model wrong on selected", "families covered")
    for name in ("random", "uncertainty", "mixed_50_50"):
        table.add_row(name, str(result[name]["model_wrong_rate"]), str(result[name]["families_covered"]))
    console.print(f"{model}: pool {len(probes)} tasks (model wrong on {result['pool_model_wrong_rate']} of them), "
                  f"budget {result['budget']}")
    console.print(table)
    if as_json:
        emit_json(result)
