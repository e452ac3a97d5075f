"""Phase 3, self-boosting exploration: LAM2 retries the tasks the expert failed.

Each such task gets ``data.explore_attempts`` attempts; an attempt is a ReAct episode whose actions
are sampled (``data.explore_temperature``) under the action grammar, so attempts differ. Every
attempt is verified like collected data (format, execution, outcome) and stored in the crash-safe
store ``RUN/explore`` keyed ``<task id>@<attempt>``: a killed exploration resumes where it stopped.
Successes become phase 3's new training data; failures feed phase 4 (reward model and PPO).

Where the expert failed on fewer tasks than ``data.explore_tasks`` (the reference expert never
fails), the rest are fresh training tasks the expert never ran, and ``data.explore_fresh`` more are
added in any case: the model then also boosts itself on new instances of what it half knows (the
search expert's failures are whole families LAM2 never saw; in the first quick forge LAM2 solved
0 of 72 attempts at them). Fresh tasks are checked against the run's held-out set (no id, twin, near-duplicate or
held-out template) and are never validation tasks: exploration must not see evaluation tasks.
"""

from __future__ import annotations

from pathlib import Path

from lamforge.core.schemas import Task, Trajectory
from lamforge.run import Run

ATTEMPT_SEP = "@"


def exploration_tasks(run: Path, env: str, n: int, seed: int = 0, fresh: int = 0) -> tuple[list[Task], int]:
    """(tasks to explore, how many of them the expert failed): up to ``n`` the expert failed, topped up
    to ``n`` and then ``fresh`` more with training tasks the expert never ran."""
    from lamforge.data.taskfile import read_tasks, split_pool
    from lamforge.data.splits import DataLeak, assert_no_leak
    from lamforge.training.phases import read_store

    run = Run(run)
    stored = read_store(run.data)
    failed = [t.task for t in stored if t.outcome.verdict != "pass"][:n]
    tasks = list(failed)
    n += fresh
    seen = {t.task.id for t in stored}
    if len(tasks) < n and run.explore_tasks_file.is_file():  # the forge's own draw: leak-free by its split
        tasks += [t for t in read_tasks(run.explore_tasks_file) if t.id not in seen][: n - len(tasks)]
    if len(tasks) < n:
        held_file = run.split_file("heldout")
        heldout = read_tasks(held_file) if held_file.is_file() else []
        # nor the validation split, where settings are chosen: this draw's pool is of another size than
        # the forge's, so its training part can hold the forge's validation tasks
        val_file = run.split_file("validation")
        validation = {t.id for t in read_tasks(val_file)} if val_file.is_file() else set()
        held_templates = {t.template for t in heldout if t.template} - {t.task.template for t in stored}
        train, _, _ = split_pool(env, len(seen) + 3 * n, seed)
        for task in train:
            if len(tasks) >= n:
                break
            if task.id in seen or task.id in validation:
                continue
            try:
                assert_no_leak([task], heldout, heldout_templates=held_templates)
            except DataLeak:
                continue
            tasks.append(task)
    return tasks, len(failed)


def explore(recipe: dict, run: Path, *, env: str = "office", progress: bool = True) -> dict:
    """Run LAM2's attempts (resuming a killed exploration); returns the exploration figures."""
    from lamforge.console import progress_bar
    from lamforge.data.collect import collect_trajectories

    from lamforge.training.recipe import DataConfig

    sizes = DataConfig.of(recipe)
    n, k = sizes.explore_tasks, sizes.explore_attempts
    tasks, from_expert = exploration_tasks(run, env, n, sizes.seed, sizes.explore_fresh)
    attempts = [t.model_copy(update={"id": f"{t.id}{ATTEMPT_SEP}{j}"}) for t in tasks for j in range(k)]
    run = Run(run)
    out = run.explore
    model = str(run.model("lam2"))

    def collect(update=None):
        return collect_trajectories(attempts, out, env_name=env, expert=model, resume=True,
                                    workers=sizes.explore_workers,
                                    max_steps=sizes.explore_max_steps,
                                    temperature=sizes.explore_temperature, progress=update)

    if progress:
        with progress_bar() as bar:
            job = bar.add_task(f"LAM2 exploring {len(tasks)} tasks x {k}", total=len(attempts))
            figures = collect(lambda done, total: bar.update(job, completed=done, total=total))
    else:
        figures = collect()
    found = new_successes(run)
    return {"explore_tasks": len(tasks), "expert_failed_tasks": from_expert, "attempts": len(attempts),
            "attempt_success_rate": round(figures["passed"] / max(figures["total"], 1), 3),
            "new_successes": len(found), "explore_seconds": figures["seconds"]}


def attempts(run: Path) -> list[Trajectory]:
    from lamforge.training.phases import read_store

    return read_store(Run(run).explore)


def base_task_id(traj: Trajectory) -> str:
    return traj.task.id.rsplit(ATTEMPT_SEP, 1)[0]


def new_successes(run: Path) -> list[Trajectory]:
    """One verified success per explored task (the shortest), with the task's own id back."""
    best: dict[str, Trajectory] = {}
    for t in attempts(run):
        if t.outcome.verdict != "pass":
            continue
        key = base_task_id(t)
        if key not in best or len(t.steps) < len(best[key].steps):
            best[key] = t
    return [t.model_copy(update={"task": t.task.model_copy(update={"id": key})}) for key, t in best.items()]


def failures(run: Path) -> list[Trajectory]:
    return [t for t in attempts(run) if t.outcome.verdict == "fail"]
