"""The forge's stages as functions: plans, collection, the budget plan, the reward-hacking monitor
(``lamforge forge`` in :mod:`lamforge.forge.commands` runs them in order; this is what it and the tests import).

    lamforge forge --env office --recipe quick --out runs/forge --json
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from lamforge.console import output_console, progress_bar
from lamforge.run import Run
from lamforge.training.recipe import DataConfig, EvalConfig

console = output_console()

MODELS = ["base", "lam1", "lam2", "lam3", "lam4", "lam4-kto", "expert"]


def make_plans(env: str, out: Path, rounds: int) -> dict:
    from lamforge.data.dedup import dedup
    from lamforge.data.evolve import evolve
    from lamforge.data.plans import extract_plans, read_plans, write_plans

    if out.is_file():
        return {"plans": len(read_plans(out)), "skipped": True}
    from lamforge.envs import manual_dir

    folder = manual_dir(env)
    if folder is None:
        return {"plans": 0, "note": f"{env} has no manual: phase 1 learns from the experts' plans only"}
    kept = dedup(evolve(extract_plans(folder), rounds))
    write_plans(kept, out)
    return {"plans": len(kept)}


def collect(env: str, recipe: dict, run: Run, limit: int | None) -> dict:
    from lamforge.data.collect import collect_trajectories
    from lamforge.data.taskfile import split_pool, write_tasks

    sizes = DataConfig.of(recipe)
    n = sizes.to_collect()
    n = min(n, limit) if limit else n
    n_val = sizes.validation
    data = run.data
    fresh_run = not run.split_file("heldout").is_file()
    # phase 3's fresh tasks come from this same draw, so the split has already kept them apart from the
    # held-out and validation tasks: drawn later from a pool of another size (the session-10 2-hour forge,
    # 2,457 collected), all 801 unseen candidates were twins or near-duplicates of this run's held-out
    # tasks, and phase 3 explored nothing. A run begun before this slice existed keeps its own draw.
    n_explore = sizes.explore_tasks + sizes.explore_fresh if fresh_run or run.explore_tasks_file.is_file() else 0
    # one draw: training tasks, validation tasks (training-side, never collected: where settings are
    # chosen), exploration tasks, and the held-out split (never collected, never used to choose anything)
    pool, heldout, stats = split_pool(env, n + n_val + n_explore, sizes.seed)
    train, validation, explore = pool[:n], pool[n:n + n_val], pool[n + n_val:]
    data.mkdir(parents=True, exist_ok=True)
    if fresh_run:
        # families round-robin: the first N held-out tasks (eval.tasks) cover every family evenly
        write_tasks(by_family_round_robin(heldout), run.split_file("heldout"))
        write_tasks(by_family_round_robin(validation), run.split_file("validation"))
        write_tasks(explore, run.explore_tasks_file)
        (data / "split.json").write_text(json.dumps({k: v for k, v in stats.items() if k != "dropped_ids"}
                                                    | {"validation": len(validation)}, indent=2))
    expert, workers = sizes.expert, sizes.collect_workers

    def run_expert(name: str, tasks: list, folder: Path) -> dict:
        with progress_bar() as bar:
            job = bar.add_task(f"{name} expert on {env}", total=len(tasks))
            return collect_trajectories(tasks, folder, env_name=env, expert=name, resume=True, workers=workers,
                                        progress=lambda done, total: bar.update(job, completed=done, total=total))

    collected = run_expert(expert, train, data)
    share = sizes.detour_share
    if share > 0 and expert == "reference":
        # about half the detour expert's episodes give a detour with an error (multi-step families
        # whose skipped step matters), so twice the share of training tasks is run; RUN/detours
        detours = run_expert("detour", train[:round(2 * share * sizes.trajectories)], run.detours)
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


def scale_down(recipe: dict, limit: int) -> dict:
    """``--limit N``: at most N of everything that is counted in tasks or trajectories."""
    data, sizes = dict(recipe.get("data") or {}), DataConfig.of(recipe)
    for key in ("collect", "plan_rows", "trajectories", "explore_tasks", "explore_fresh", "replay", "reward_trajectories",
                "ppo_trajectories", "kto_examples", "plan_rehearsal"):
        data[key] = min(getattr(sizes, key), limit)
    return {**recipe, "data": data, "eval": {**recipe.get("eval", {}),
                                             "tasks": min(EvalConfig.of(recipe).tasks, limit)}}


def plan_to_budget(rec: dict, env: str, run: Run, budget: str, models: list[str]) -> tuple[dict, dict]:
    """Measure this machine, size ``rec`` to ``budget`` and print the plan (kept in RUN/budget.json,
    so a resumed forge trains on the same sizes instead of re-measuring a machine now busy)."""
    from lamforge.forge.budget import BudgetError, Speed, describe, fit, measure, parse_budget, speed_dict

    budget_s = parse_budget(budget)
    saved = run.budget_file
    if saved.is_file():
        kept = json.loads(saved.read_text())
        if kept.get("budget_s") == budget_s:
            console.print(f"budget plan from {saved} (delete it to measure again)")
            return kept["recipe"], {k: kept[k] for k in ("budget_s", "estimate_s", "stages", "speed")}
    console.rule("[bold]measure this machine")
    speed: Speed = measure(rec, env, run.root)
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


def reward_hacking_monitor(run: Run, env: str, done: dict, names: list[str]) -> dict:
    """Per model: the reward model's mean step score on its held-out online trajectories next to
    its true success rate, and its KL to LAM3 along the held-out expert references. A model whose
    reward-model score climbs while true success does not is hacking the reward model. It reads the
    first ``COSTS["monitor_sample"]`` trajectories and references of each model (the budget's estimate
    counts the same sample): all 60 of 7 models took over 5 minutes
    of a 40-minute demo (session 6), a sample tells the trend."""
    from lamforge.envs import action_set_of
    from lamforge.forge.budget import COSTS
    from lamforge.training.monitor import action_logprobs, policy_kl
    from lamforge.training.reward import RewardModel

    rm_dir = run.phase_dir("lam4") / "reward_model"
    if not (rm_dir / "lamforge_reward.json").is_file():
        return {"note": "no reward model in this run"}
    sample = int(COSTS["monitor_sample"])
    actions = action_set_of(env)
    rm = RewardModel.load(rm_dir, actions)
    result: dict = {"models": {}}
    scored: list[tuple[float, bool]] = []
    references = done["references"][:sample]
    lam3_logprobs = None  # LAM3's log-probabilities along the references, computed once for every model
    for name in names:
        trajs = [t for t in done["trajectories"].get(name, []) if t.steps][:sample]
        scores = [sum(s) / len(s) for s in (rm.score(t) for t in trajs)]
        scored += [(s, t.outcome.success) for s, t in zip(scores, trajs)]
        entry = {"rm_score": round(sum(scores) / len(scores), 4) if scores else None,
                 "true_tsr": done["results"][name]["online"].get("task_success_rate")}
        model = run.model(name)
        if name == "lam3":
            entry["kl_to_lam3"] = 0.0  # by definition
        elif name.startswith("lam") and model.is_dir() and references:
            if lam3_logprobs is None:
                lam3_logprobs = action_logprobs(run.model("lam3"), references, actions, sample)
            entry["kl_to_lam3"] = policy_kl(model, references, actions, reference=lam3_logprobs, limit=sample)
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
