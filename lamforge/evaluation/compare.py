"""Every model on the same held-out tasks in one run, side by side: the library behind ``lamforge eval``
and the forge's final comparison.

    lamforge eval --env office --run runs/office --models base,lam1,lam2,expert --limit 30 --json

Held-out tasks come from the run's own file (:meth:`lamforge.run.Run.tasks`: never collected, never
trained on; a run without one is refused, since a freshly drawn pool may hold training tasks).
Per model: planning (its plans against the reference plans), offline decisions (teacher forcing
along the expert's held-out trajectories) and online episodes (live, judged by each task's own
check), then a table like the paper's and a self-contained HTML report.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from rich.table import Table

from lamforge.console import output_console, progress_bar
from lamforge.core.errors import LamforgeError
from lamforge.run import Run

console = output_console()


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
        if Run(run).has_model(name):
            return str(Run(run).model(name))
        from lamforge.models.registry import resolve

        if resolve(f"{env}/{name}") is not None:
            return f"{env}/{name}"
        raise LamforgeError(f"{name} is neither in {run} nor registered; train it with `lamforge train --phase {name[3]}`")
    return name


def make_model_agent(spec: str, planning: str = "off", env: str = "office"):
    """Top-level (picklable) factory for worker processes: the one agent factory, for a model."""
    from lamforge.agents.factory import make_agent

    return make_agent(spec, env, planning=planning)


def lockstep_eval(spec: str, env: str, tasks: list, slots: int, max_steps: int, progress, shared: dict):
    """Online episodes of one transformers model, ``slots`` at a time in lock-step: (trajectories,
    speed), or None for a model this process does not run itself (a server, a GGUF through llama.cpp)."""
    import time

    from lamforge.agents.react import ReactAgent
    from lamforge.envs import action_set_of
    from lamforge.evaluation.online import online_eval_lockstep
    from lamforge.agents.factory import load_model, model_memory
    from lamforge.models.decoding import GrammarCache
    from lamforge.models.lockstep import Lockstep

    if str(spec).startswith("openai:"):
        return None
    backend = load_model(spec)
    if not getattr(backend, "local", False):
        return None
    if "grammars" not in shared:
        shared["grammars"] = GrammarCache(backend.model, backend.tokenizer)
    lock = Lockstep(backend.model, backend.tokenizer, slots, grammars=shared["grammars"])
    memory = model_memory(spec)
    agents = [ReactAgent(backend, action_set_of(env), planning="off", decoder=lock.slot(i), memory=memory)
              for i in range(slots)]
    started = time.perf_counter()
    trajs = online_eval_lockstep(agents, lock, tasks, env_name=env, max_steps=max_steps, progress=progress)
    seconds = time.perf_counter() - started
    return trajs, {"slots": slots, "seconds": round(seconds, 1),
                   "seconds_per_episode": round(seconds / max(len(tasks), 1), 2),
                   "batches": lock.batches, "mean_batch": round(lock.rows / max(lock.batches, 1), 2)}


def make_expert():
    from lamforge.agents.factory import make_agent

    return make_agent("reference")


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
    ``offline_limit``: offline decisions and plans on that many references and tasks, evenly spaced
    (the teacher-forced pass cost ~60% of a model's evaluation in the session-6 demo; online success on
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

    run = Run(run)
    tasks = run.tasks(split, limit)
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
    # planning is judged on the offline pass's sample too: plans of all 60 tasks were 18% of a model's
    # evaluation in the session-16 demo (31 of ~170 s), a diagnostic like the offline pass
    pairs = [TaskPlan(task_id=t.id, task=t.request, plan=family_of(t).plan(t), family=t.family)
             for t in evenly_spaced(tasks, offline_limit)]
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

    report = write_report(results, trajectories, out or (run.eval if split == "heldout" else run / f"eval-{split}"),
                          ablation=read_rows(run.ablation),
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
