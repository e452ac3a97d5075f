"""``lamforge forge``: the whole pipeline in one command, from the base model to the comparison table.

    lamforge forge --env office --recipe quick --out runs/forge --json

1. plans: task-plan pairs from the environment's manual (``lamforge/envs/<env>/manual``), evolved
   and de-duplicated (skipped for an environment without a manual: phase 1 then uses the experts'
   plans of the collected tasks);
2. collect: the recipe's expert (``data.expert``: ``search`` knows only the success check and fails
   on part of the tasks, as the paper's GPT-4o did; ``reference`` never fails) on ``data.collect``
   training tasks; the held-out split is written next to them and never collected. An environment
   may set its own recipe defaults (``recipes/env/<env>.yaml``, e.g. the reference expert for
   ``service``, whose API catalog the search expert cannot enumerate); ``--set`` overrides them.
   With ``data.detour_share`` the detour expert also runs on training tasks (``RUN/detours``);
3. train: phases 1-4 (LAM1..LAM4, and LAM4-KTO beside LAM4), each registered as ``<env>/lamN``;
4. evaluate: every model side by side on the held-out tasks (``eval.tasks``), the HTML report, and
   the reward-hacking monitor (reward-model score against true success, KL to LAM3).

Every stage is resumable: run the same command again after a kill and finished stages are skipped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from lamforge.console import emit_json, output_console
from lamforge.forge.pipeline import (MODELS, collect, make_plans, monitor_table, plan_to_budget,
                                     reward_hacking_monitor, scale_down)
from lamforge.run import Run

console = output_console()


def forge(
    env: str = typer.Option("office", help="Environment to forge a LAM for."),
    recipe: str = typer.Option("quick", help="Recipe name (quick, cpu, full) or a YAML file."),
    out: Path = typer.Option(Path("runs/forge"), help="Run folder: plans, data, one folder per phase, eval."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field: section.key=value."),
    base_model: str | None = typer.Option(None, help="Base model (overrides the recipe's base_model)."),
    models: str = typer.Option(",".join(MODELS), help="Models in the final comparison."),
    limit: int | None = typer.Option(None, help="Quick run: at most N tasks / trajectories per stage."),
    budget: str | None = typer.Option(None, help="Wall-clock budget (40m, 2.5h): measure this machine first, "
                                                 "then size the recipe's data and evaluation to fit."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Collect -> train phases 1-4 -> evaluate side by side, resumable, on one recipe."""
    from transformers.utils import logging as hf_logging

    from lamforge.evaluation.compare import compare_models, comparison_table, summary_of
    from lamforge.training.phases import describe_phase, run_phase
    from lamforge.training.recipe import DataConfig, EvalConfig, load_recipe

    hf_logging.disable_progress_bar()  # one line per loaded model, dozens of times: our bars say enough
    hf_logging.set_verbosity_error()
    t0 = time.perf_counter()
    from lamforge.training.recipe import env_overlay

    rec = load_recipe(recipe, list(set_), env=env)  # the environment's overlay, then the user's --set
    if overlay := env_overlay(env):
        console.print(f"{env} forges with its own settings " + ", ".join(
            f"{s}.{k}={v}" for s, keys in overlay.items() for k, v in (keys.items() if isinstance(keys, dict) else [])
        ) + " (recipes/env; override with --set)")
    if base_model:
        rec["base_model"] = base_model
    if limit:
        rec = scale_down(rec, limit)
    out.mkdir(parents=True, exist_ok=True)
    run = Run(out)
    timings: dict[str, float] = {}
    names = [m.strip() for m in models.split(",") if m.strip()]
    planned = None
    # a recipe may carry its own budget (cpu: 2.5h); a --limit smoke run skips the measurement
    recipe_budget = rec.pop("budget", None)
    budget = budget or (None if limit else recipe_budget)
    if budget:
        rec, planned = plan_to_budget(rec, env, run, budget, names)

    def stage(name: str, fn):
        start = time.perf_counter()
        console.rule(f"[bold]{name}")
        result = fn()
        timings[name] = round(time.perf_counter() - start, 1)
        return result

    plans = stage("plans", lambda: make_plans(env, run.plans, DataConfig.of(rec).plans_evolve))
    console.print(f"{plans['plans']} task-plan pairs" + (f" ({plans['note']})" if plans.get("note") else ""))
    collected = stage("collect", lambda: collect(env, rec, run, limit))
    console.print(f"{collected['passed']} verified trajectories, {collected['failed']} failed by the "
                  f"{collected['expert']} expert" + (f"; {collected['detours']} episodes with a detour"
                                                     if "detours" in collected else ""))
    phases = {}
    for phase in (1, 2, 3, 4):
        phases[f"lam{phase}"] = stage(f"phase {phase}", lambda p=phase: run_phase(p, rec, run.root, env=env,
                                                                                  register_as=f"{env}/lam{p}"))
        console.print(describe_phase(phases[f"lam{phase}"]))
    names = [n for n in names if n != "lam4-kto" or run.has_model("lam4-kto")]
    ev = EvalConfig.of(rec)
    done = stage("evaluate", lambda: compare_models(
        names, env=env, run=run.root, base_model=rec.get("base_model", "smollm2-135m"), limit=ev.tasks,
        workers=ev.workers, max_steps=ev.max_steps, out=run.eval, offline_limit=ev.offline_tasks))
    monitor = stage("monitor", lambda: reward_hacking_monitor(run, env, done, names))
    console.rule("[bold]result")
    console.print(f"{len(done['tasks'])} held-out tasks, env {env}; report {done['report']}")
    console.print(comparison_table(done["results"], names))
    console.print(monitor_table(monitor))
    console.print("wall time per stage (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()))
    seconds = round(time.perf_counter() - t0, 1)
    # which expert made the data
    data = {k: collected.get(k) for k in ("expert", "passed", "failed", "unsure", "detours") if k in collected}
    figures = summary_of(done["results"], names)
    if planned is not None:
        planned["actual_s"] = seconds
        console.print(f"budget {planned['budget_s'] / 60:.1f} min, estimate {planned['estimate_s'] / 60:.1f} min, "
                      f"actual {seconds / 60:.1f} min")
    run.forge_file.write_text(json.dumps({"models": figures, "monitor": monitor, "eval_tasks": len(done["tasks"]),
                                                "collect": data, "timings": timings, "phases": phases,
                                                "budget": planned, "seconds": seconds}, indent=2, default=str))
    if as_json:
        emit_json({"models": figures, "monitor": monitor, "collect": data, "timings": timings,
                   "eval_tasks": len(done["tasks"]), "tasks": len(done["tasks"]), "report": str(done["report"]),
                   "budget": planned, "seconds": seconds})
