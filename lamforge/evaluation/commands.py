"""``lamforge eval``: every model on the same held-out tasks in one run, side by side.

    lamforge eval --env office --run runs/office --models base,lam1,lam2,expert --limit 30 --json

Held-out tasks come from the run's ``data/heldout_tasks.jsonl`` (never collected, never trained on);
a ``--run`` that does not exist, or has no such file, is refused before any model loads (drawing a
fresh pool instead would evaluate on tasks that may have been trained on, and on another machine's
family list).
Per model: planning (its plans against the reference plans), offline decisions (teacher forcing
along the expert's held-out trajectories) and online episodes (live, judged by each task's own
check), then a table like the paper's and a self-contained HTML report.
"""

from __future__ import annotations

import functools
import re
import shlex
import time
from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar
from lamforge.core.errors import LamforgeError

console = output_console()


class NoRun(LamforgeError):
    """``--run`` names no run folder, or a run without its own held-out tasks."""


HELDOUT = Path("data") / "heldout_tasks.jsonl"
VALIDATION = Path("data") / "validation_tasks.jsonl"
SPLITS = {"heldout": HELDOUT, "validation": VALIDATION}


def run_heldout_tasks(run: Path, limit: int | None = None, split: str = "heldout") -> list:
    """The run's own held-out tasks (``RUN/data/heldout_tasks.jsonl``), or with ``split="validation"``
    its validation tasks (training-side tasks never trained on, where settings are chosen), or
    :class:`NoRun`."""
    from lamforge.data.commands import read_tasks

    if split not in SPLITS:
        raise LamforgeError(f"unknown split {split!r}: evaluation runs on 'heldout' (final figures) or "
                            "'validation' (choosing settings); training tasks never are")

    run = Path(run)
    if not run.is_dir():
        what = "is not a folder" if run.exists() else "does not exist"
        raise NoRun(f"no run at {run}: it {what}. Pass --run with a run folder, as made by `lamforge forge "
                    f"--out RUN` or `lamforge collect trajectories --out RUN/data`")
    held = run / SPLITS[split]
    if split == "validation" and not held.is_file():
        raise NoRun(f"{run} has no validation tasks ({held} is missing); `lamforge forge --out {run}` writes them")
    if not held.is_file():
        raise NoRun(f"{run} has no held-out tasks of its own ({held} is missing). They are written when the "
                    f"run's data is collected (`lamforge collect trajectories --out {run / 'data'}`, or "
                    f"`lamforge forge --out {run}`); evaluating on a freshly drawn pool could reuse training tasks")
    tasks = read_tasks(held)
    return tasks[:limit] if limit else tasks


def unavailable_here(tasks: list) -> dict[str, str]:
    """Families of ``tasks`` that this machine cannot run (e.g. ``export_pdf`` without LibreOffice),
    with what they need: the run was drawn on a machine with another family list."""
    from lamforge.envs.tasks import family_of

    out = {}
    for t in tasks:
        family = family_of(t)
        if t.family not in out and not family.available():
            out[t.family] = family.description or "not available on this machine"
    return out


def resolve_model(name: str, run: Path, base_model: str, env: str = "office") -> str:
    """``base`` -> the base model, ``lamN`` -> the run's phase-N model (or the registered ENV/lamN)."""
    if name == "base":
        return base_model
    if re.fullmatch(r"lam\d+(-[a-z]+)?", name):
        local = run / name / "model"
        if (local / "config.json").is_file():
            return str(local)
        from lamforge.models.registry import resolve

        if resolve(f"{env}/{name}") is not None:
            return f"{env}/{name}"
        raise LamforgeError(f"{name} is neither in {run} nor registered; train it with `lamforge train --phase {name[3]}`")
    return name


def make_model_agent(spec: str, planning: str = "off", env: str = "office"):
    """Top-level (picklable) factory for worker processes; the backend is loaded once per process."""
    from lamforge.agents.react import ReactAgent
    from lamforge.envs import action_set_of
    from lamforge.models import load_backend

    cache = make_model_agent.__dict__.setdefault("_backends", {})
    if spec not in cache:
        cache[spec] = load_backend(spec)
    return ReactAgent(cache[spec], action_set_of(env), planning=planning)


def lockstep_eval(spec: str, env: str, tasks: list, slots: int, max_steps: int, progress, shared: dict):
    """Online episodes of one transformers model, ``slots`` at a time in lock-step: (trajectories,
    speed), or None for a model this process does not run itself (a server, a GGUF through llama.cpp)."""
    import time

    from lamforge.agents.react import ReactAgent
    from lamforge.envs import action_set_of
    from lamforge.evaluation.online import online_eval_lockstep
    from lamforge.models import load_backend
    from lamforge.models.decoding import GrammarCache
    from lamforge.models.lockstep import Lockstep

    if str(spec).startswith("openai:"):
        return None
    backend = load_backend(spec)
    if not (hasattr(backend, "model") and hasattr(backend, "tokenizer")):
        return None
    if "grammars" not in shared:
        shared["grammars"] = GrammarCache(backend.model, backend.tokenizer)
    lock = Lockstep(backend.model, backend.tokenizer, slots, grammars=shared["grammars"])
    agents = [ReactAgent(backend, action_set_of(env), planning="off", decoder=lock.slot(i)) for i in range(slots)]
    started = time.perf_counter()
    trajs = online_eval_lockstep(agents, lock, tasks, env_name=env, max_steps=max_steps, progress=progress)
    seconds = time.perf_counter() - started
    return trajs, {"slots": slots, "seconds": round(seconds, 1),
                   "seconds_per_episode": round(seconds / max(len(tasks), 1), 2),
                   "batches": lock.batches, "mean_batch": round(lock.rows / max(lock.batches, 1), 2)}


def make_expert():
    from lamforge.agents.expert import ReferenceExpert

    return ReferenceExpert()


def evenly_spaced(items: list, limit: int | None) -> list:
    """``limit`` items spread over ``items`` (every family of an ordered list keeps its share)."""
    if limit is None or limit >= len(items):
        return list(items)
    step = len(items) / max(limit, 1)
    return [items[int(i * step)] for i in range(limit)]


def compare_models(names: list[str], *, env: str = "office", run: Path = Path("runs/office"),
                   base_model: str = "smollm2-135m", limit: int | None = 30, workers: int = 2,
                   max_steps: int = 10, out: Path | None = None, progress: bool = True,
                   split: str = "heldout", online_only: bool = False, offline_limit: int | None = None,
                   lockstep: int = 1) -> dict:
    """Every model in ``names`` on the same held-out tasks: planning, offline and online metrics, the
    HTML report; returns ``{"results", "trajectories", "tasks", "references", "report"}``.
    ``offline_limit``: offline decisions on that many references, evenly spaced over the tasks (the
    teacher-forced pass cost ~60% of a model's evaluation in the session-6 demo; online success on
    every task is what the forge is judged on). ``lockstep``: a local model's online episodes run that
    many at a time in one process, their actions decoded in one batch (``models/lockstep.py``); 1
    runs them one at a time in ``workers`` processes."""
    from contextlib import nullcontext

    from lamforge.agents.runner import run_episode
    from lamforge.core.schemas import TaskPlan
    from lamforge.envs import make
    from lamforge.envs.tasks import family_of
    from lamforge.evaluation.failures import failure_causes
    from lamforge.evaluation.metrics import online_metrics
    from lamforge.evaluation.offline import offline_eval, plan_eval
    from lamforge.evaluation.online import online_eval
    from lamforge.evaluation.report import write_report

    tasks = run_heldout_tasks(run, limit, split)
    for family, needs in unavailable_here(tasks).items():
        n = sum(t.family == family for t in tasks)
        console.print(f"warning: {n} held-out task(s) of {family} cannot be done on this machine ({needs}): "
                      "every model, the expert included, will fail them")
    environment = make(env)
    env_id = environment.unwrapped.env_id
    references = [run_episode(environment, make_expert(), t) for t in tasks]
    references = [r for r in references if r.success]
    environment.close()
    offline_refs = evenly_spaced(references, offline_limit)
    pairs = [TaskPlan(task_id=t.id, task=t.request, plan=family_of(t).plan(t), family=t.family) for t in tasks]
    results, trajectories = {}, {}
    shared: dict = {}  # one grammar cache for every model of the comparison (same tokenizer)
    with (progress_bar() if progress else nullcontext()) as bar:
        for name in names:
            job = bar.add_task(f"{name}", total=len(tasks)) if bar else None
            done = (lambda k, *_, job=job: bar.update(job, completed=k)) if bar else None
            if name == "expert":
                agent_factory = make_expert
                results[name] = {} if online_only else {"offline": offline_eval(make_expert(), offline_refs)}
            else:
                spec = resolve_model(name, run, base_model, env)
                agent_factory = functools.partial(make_model_agent, spec, env=env)
                # validation chooses settings on task success alone
                results[name] = {} if online_only else {
                    "offline": offline_eval(None, offline_refs, make_agent=agent_factory, workers=workers),
                    "planning": plan_eval(None, pairs, plan_many=functools.partial(
                        make_model_agent(spec, planning="start", env=env).plans_for, env_id))}
            together = (lockstep_eval(spec, env, tasks, lockstep, max_steps, done, shared)
                        if name != "expert" and lockstep > 1 else None)
            if together:
                trajs, results[name]["lockstep"] = together
            else:
                trajs = online_eval(agent_factory, tasks, env_name=env, workers=workers, max_steps=max_steps,
                                    progress=done)
            results[name]["online"] = online_metrics(trajs)
            # why each failed episode failed: its first difference from the expert's held-out route
            results[name]["failure_causes"] = failure_causes(trajs, references)
            trajectories[name] = trajs
    from lamforge.evaluation.ablation import read_rows

    report = write_report(results, trajectories, out or run / ("eval" if split == "heldout" else f"eval-{split}"),
                          ablation=read_rows(run / "ablation.jsonl"),
                          title=f"lamforge evaluation: {env}, {len(tasks)} {split} tasks")
    return {"results": results, "trajectories": trajectories, "tasks": tasks, "references": references,
            "report": report}


def comparison_table(results: dict, names: list[str]) -> Table:
    """The paper's Tables 2-4 in one: planning, offline decisions, online episodes."""
    table = Table("model", "plan TSR", "plan P/R", "object", "operation", "status", "args", "SSR", "offline TSR",
                  "online TSR", "steps", "step latency s")
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"
    for name in names:
        r = results[name]
        p, o, n = r.get("planning", {}), r.get("offline", {}), r["online"]
        table.add_row(name, pct(p.get("task_success_rate")),
                      f"{pct(p.get('step_precision'))}/{pct(p.get('step_recall'))}" if p else "-",
                      pct(o.get("object_acc")), pct(o.get("operation_acc")), pct(o.get("status_acc")),
                      pct(o.get("argument_acc")), pct(o.get("step_success_rate")), pct(o.get("task_success_rate")),
                      pct(n.get("task_success_rate")), f"{n.get('mean_steps') or 0:.2f}",
                      f"{n.get('mean_step_latency_s') or 0:.3f}")
    return table


def summary_of(results: dict, names: list[str]) -> dict:
    """The figures of each model for the JSON summary line."""
    out = {}
    for n in names:
        r = results[n]
        o, on, p = r.get("offline", {}), r["online"], r.get("planning", {})
        out[n] = {"tsr": on.get("task_success_rate"), "online_steps": on.get("mean_steps"),
                  "step_latency_s": on.get("mean_step_latency_s"),
                  "object_acc": o.get("object_acc"), "operation_acc": o.get("operation_acc"),
                  "status_acc": o.get("status_acc"), "argument_acc": o.get("argument_acc"),
                  "offline_ssr": o.get("step_success_rate"), "offline_tsr": o.get("task_success_rate"),
                  "plan_tsr": p.get("task_success_rate"), "plan_precision": p.get("step_precision"),
                  "plan_recall": p.get("step_recall"), "tsr_ci95": on.get("task_success_ci95"),
                  "failure_causes": r.get("failure_causes")}
    return out


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
    run_heldout_tasks(run, split=split)  # no run, or no tasks of its own: stop before any model loads
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
