"""``lamforge forge``: the whole pipeline in one command, from the base model to the comparison table.

    lamforge forge --env office --recipe quick --out runs/forge --json

1. plans: task-plan pairs from the environment's manual (``lamforge/envs/<env>/manual``), evolved
   and de-duplicated (skipped for an environment without a manual: phase 1 then uses the experts'
   plans of the collected tasks);
2. collect: the recipe's expert (``data.expert``: ``search`` knows only the success check and fails
   on part of the tasks, as the paper's GPT-4o did; ``reference`` never fails) on ``data.collect``
   training tasks; the held-out split is written next to them and never collected. An environment
   may set its own recipe defaults (``EnvSpec.forge_defaults``, e.g. the reference expert for
   ``service``, whose API catalog the search expert cannot enumerate); ``--set`` overrides them.
   With ``data.detour_share`` the detour expert also runs on training tasks (``RUN/detours``);
3. train: phases 1-4 (LAM1..LAM4, and LAM4-KTO beside LAM4), each registered as ``<env>/lamN``;
4. evaluate: every model side by side on the held-out tasks (``eval.tasks``), the HTML report, and
   the reward-hacking monitor (reward-model score against true success, KL to LAM3).

Every stage is resumable: run the same command again after a kill and finished stages are skipped.
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar

console = output_console()

MODELS = ["base", "lam1", "lam2", "lam3", "lam4", "lam4-kto", "expert"]


def manual_dir(env: str) -> Path | None:
    from lamforge.envs import env_class

    folder = Path(inspect.getfile(env_class(env))).parent / "manual"
    return folder if folder.is_dir() else None


def make_plans(env: str, out: Path, rounds: int) -> dict:
    from lamforge.data.dedup import dedup
    from lamforge.data.evolve import evolve
    from lamforge.data.plans import extract_plans, read_plans, write_plans

    if out.is_file():
        return {"plans": len(read_plans(out)), "skipped": True}
    folder = manual_dir(env)
    if folder is None:
        return {"plans": 0, "note": f"{env} has no manual: phase 1 learns from the experts' plans only"}
    kept = dedup(evolve(extract_plans(folder), rounds))
    write_plans(kept, out)
    return {"plans": len(kept)}


def collect(env: str, recipe: dict, run: Path, limit: int | None) -> dict:
    from lamforge.data.collect import collect_trajectories
    from lamforge.data.commands import split_pool, write_tasks

    sizes = recipe.get("data", {})
    n = int(sizes.get("collect", 160))
    n = min(n, limit) if limit else n
    n_val = int(sizes.get("validation", 30))
    data = run / "data"
    # one draw: training tasks, then validation tasks (training-side, never collected: where settings are
    # chosen), and the held-out split (never collected, never used to choose anything)
    pool, heldout, stats = split_pool(env, n + n_val, int(sizes.get("seed", 0)))
    train, validation = pool[:n], pool[n:]
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "heldout_tasks.jsonl").is_file():
        # families round-robin: the first N held-out tasks (eval.tasks) cover every family evenly
        write_tasks(by_family_round_robin(heldout), data / "heldout_tasks.jsonl")
        write_tasks(by_family_round_robin(validation), data / "validation_tasks.jsonl")
        (data / "split.json").write_text(json.dumps({k: v for k, v in stats.items() if k != "dropped_ids"}
                                                    | {"validation": len(validation)}, indent=2))
    expert = str(sizes.get("expert", "search"))
    workers = int(sizes.get("collect_workers", 2))

    def run_expert(name: str, tasks: list, folder: Path) -> dict:
        with progress_bar() as bar:
            job = bar.add_task(f"{name} expert on {env}", total=len(tasks))
            return collect_trajectories(tasks, folder, env_name=env, expert=name, resume=True, workers=workers,
                                        progress=lambda done, total: bar.update(job, completed=done, total=total))

    collected = run_expert(expert, train, data)
    share = float(sizes.get("detour_share", 0.0))
    if share > 0 and expert == "reference":
        # about half the detour expert's episodes give a detour with an error (multi-step families
        # whose skipped step matters), so twice the share of training tasks is run; RUN/detours
        detours = run_expert("detour", train[:round(2 * share * int(sizes.get("trajectories", n)))], run / "detours")
        collected["detours"] = detours["unsure"]  # the mistake's error keeps them from a plain pass
    return collected


def by_family_round_robin(tasks: list) -> list:
    """Tasks reordered one family at a time (families in first-seen order), so any prefix of the list
    is spread over the families instead of following the draw's order."""
    groups: dict[str, list] = {}
    for t in tasks:
        groups.setdefault(t.family, []).append(t)
    out, queues = [], list(groups.values())
    while queues:
        out += [q.pop(0) for q in queues]
        queues = [q for q in queues if q]
    return out


def env_forge_defaults(env: str) -> list[str]:
    """The environment's own recipe overrides (``EnvSpec.forge_defaults``), e.g. the reference expert
    where the search expert cannot work; the user's ``--set`` is applied after them."""
    from lamforge.envs import spec

    return list(spec(env).forge_defaults)


def scale_down(recipe: dict, limit: int) -> dict:
    """``--limit N``: at most N of everything that is counted in tasks or trajectories."""
    data = dict(recipe.get("data", {}))
    for key in ("collect", "plan_rows", "trajectories", "explore_tasks", "explore_fresh", "replay", "reward_trajectories",
                "ppo_trajectories", "kto_examples", "plan_rehearsal"):
        if key in data:
            data[key] = min(int(data[key]), limit)
    return {**recipe, "data": data, "eval": {**recipe.get("eval", {}),
                                             "tasks": min(int(recipe.get("eval", {}).get("tasks", 24)), limit)}}


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

    from lamforge.evaluation.commands import compare_models, comparison_table, summary_of
    from lamforge.training.commands import describe_phase
    from lamforge.training.phases import run_phase
    from lamforge.training.recipe import load_recipe

    hf_logging.disable_progress_bar()  # one line per loaded model, dozens of times: our bars say enough
    hf_logging.set_verbosity_error()
    t0 = time.perf_counter()
    defaults = env_forge_defaults(env)
    rec = load_recipe(recipe, defaults + list(set_))  # the user's --set comes last and wins
    if defaults:
        console.print(f"{env} forges with " + ", ".join(defaults) + " (override with --set)")
    if base_model:
        rec["base_model"] = base_model
    if limit:
        rec = scale_down(rec, limit)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    names = [m.strip() for m in models.split(",") if m.strip()]
    planned = None
    # a recipe may carry its own budget (cpu: 2.5h); a --limit smoke run skips the measurement
    recipe_budget = rec.pop("budget", None)
    budget = budget or (None if limit else recipe_budget)
    if budget:
        rec, planned = plan_to_budget(rec, env, out, budget, len(names))

    def stage(name: str, fn):
        start = time.perf_counter()
        console.rule(f"[bold]{name}")
        result = fn()
        timings[name] = round(time.perf_counter() - start, 1)
        return result

    plans = stage("plans", lambda: make_plans(env, out / "plans.jsonl", int(rec.get("data", {}).get("plans_evolve", 1))))
    console.print(f"{plans['plans']} task-plan pairs" + (f" ({plans['note']})" if plans.get("note") else ""))
    collected = stage("collect", lambda: collect(env, rec, out, limit))
    console.print(f"{collected['passed']} verified trajectories, {collected['failed']} failed by the "
                  f"{collected['expert']} expert" + (f"; {collected['detours']} episodes with a detour"
                                                     if "detours" in collected else ""))
    phases = {}
    for phase in (1, 2, 3, 4):
        phases[f"lam{phase}"] = stage(f"phase {phase}", lambda p=phase: run_phase(p, rec, out, env=env,
                                                                                  register_as=f"{env}/lam{p}"))
        console.print(describe_phase(phases[f"lam{phase}"]))
    names = [n for n in names if n != "lam4-kto" or (out / "lam4-kto" / "model" / "config.json").is_file()]
    ev = rec.get("eval", {})
    done = stage("evaluate", lambda: compare_models(
        names, env=env, run=out, base_model=rec.get("base_model", "smollm2-135m"), limit=int(ev.get("tasks", 24)),
        workers=int(ev.get("workers", 2)), max_steps=int(ev.get("max_steps", 10)), out=out / "eval",
        offline_limit=int(ev["offline_tasks"]) if ev.get("offline_tasks") else None))
    monitor = stage("monitor", lambda: reward_hacking_monitor(out, env, done, names))
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
    (out / "forge.json").write_text(json.dumps({"models": figures, "monitor": monitor, "eval_tasks": len(done["tasks"]),
                                                "collect": data, "timings": timings, "phases": phases,
                                                "budget": planned, "seconds": seconds}, indent=2, default=str))
    if as_json:
        emit_json({"models": figures, "monitor": monitor, "collect": data, "timings": timings,
                   "eval_tasks": len(done["tasks"]), "tasks": len(done["tasks"]), "report": str(done["report"]),
                   "budget": planned, "seconds": seconds})


def plan_to_budget(rec: dict, env: str, out: Path, budget: str, models: int) -> tuple[dict, dict]:
    """Measure this machine, size ``rec`` to ``budget`` and print the plan (kept in RUN/budget.json,
    so a resumed forge trains on the same sizes instead of re-measuring a machine now busy)."""
    from lamforge.training.budget import (COSTS, BudgetError, Speed, describe, estimate, fit, measure, parse_budget,
                                         speed_dict)

    budget_s = parse_budget(budget)
    saved = out / "budget.json"
    if saved.is_file():
        kept = json.loads(saved.read_text())
        if kept.get("budget_s") == budget_s:
            console.print(f"budget plan from {saved} (delete it to measure again)")
            return kept["recipe"], {k: kept[k] for k in ("budget_s", "estimate_s", "stages", "speed")}
    console.rule("[bold]measure this machine")
    speed: Speed = measure(rec, env, out)
    try:
        sized, stages = fit(rec, speed, budget_s - speed.measured_s, models)
    except BudgetError:
        # a slow machine: fewer held-out tasks (wider intervals) rather than no demo at all
        sized, stages = fit(rec, speed, budget_s - speed.measured_s, models, min_eval_tasks=10)
        console.print(f"[yellow]this machine is slow for a {budget} budget: only {sized['eval']['tasks']} held-out "
                      "tasks fit (wider intervals); a larger --budget evaluates more")
    stages = {"measure": speed.measured_s, **stages}
    console.print(describe(speed, stages, sized, budget_s))
    planned = {"budget_s": budget_s, "estimate_s": round(sum(stages.values()), 1), "stages": stages,
               "speed": speed_dict(speed)}
    saved.write_text(json.dumps({**planned, "recipe": sized}, indent=2))
    return sized, planned


def reward_hacking_monitor(run: Path, env: str, done: dict, names: list[str]) -> dict:
    """Per model: the reward model's mean step score on its held-out online trajectories next to
    its true success rate, and its KL to LAM3 along the held-out expert references. A model whose
    reward-model score climbs while true success does not is hacking the reward model. It reads the
    first ``COSTS["monitor_sample"]`` trajectories and references of each model (the budget's estimate
    counts the same sample): all 60 of 7 models took over 5 minutes
    of a 40-minute demo (session 6), a sample tells the trend."""
    from lamforge.envs import action_set_of
    from lamforge.training.budget import COSTS
    from lamforge.training.monitor import policy_kl
    from lamforge.training.reward import RewardModel

    rm_dir = run / "lam4" / "reward_model"
    if not (rm_dir / "lamforge_reward.json").is_file():
        return {"note": "no reward model in this run"}
    sample = int(COSTS["monitor_sample"])
    rm = RewardModel.load(rm_dir, action_set_of(env))
    result: dict = {"models": {}}
    scored: list[tuple[float, bool]] = []
    for name in names:
        trajs = [t for t in done["trajectories"].get(name, []) if t.steps][:sample]
        scores = [sum(s) / len(s) for s in (rm.score(t) for t in trajs)]
        scored += [(s, t.outcome.success) for s, t in zip(scores, trajs)]
        entry = {"rm_score": round(sum(scores) / len(scores), 4) if scores else None,
                 "true_tsr": done["results"][name]["online"].get("task_success_rate")}
        model = run / name / "model"
        if name.startswith("lam") and model.is_dir() and done["references"]:
            entry["kl_to_lam3"] = policy_kl(model, run / "lam3" / "model", done["references"][:sample],
                                            action_set_of(env))
        result["models"][name] = entry
    # does the reward model tell held-out successes from failures? (sign of the mean step score)
    if scored:
        result["rm_sign_accuracy"] = round(sum((s > 0) == ok for s, ok in scored) / len(scored), 4)
        result["held_out_trajectories"] = len(scored)
    return result


def monitor_table(monitor: dict) -> Table | str:
    if "models" not in monitor:
        return monitor.get("note", "")
    table = Table("model", "reward-model score", "true online TSR", "KL to LAM3 (nats/token)",
                  title=f"reward-hacking monitor (RM sign accuracy on held-out trajectories: "
                        f"{monitor.get('rm_sign_accuracy')})")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    for name, m in monitor["models"].items():
        table.add_row(name, fmt(m.get("rm_score")), fmt(m.get("true_tsr")), fmt(m.get("kl_to_lam3")))
    return table
