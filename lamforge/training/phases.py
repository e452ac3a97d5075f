"""The four training phases, each handing over to the next only through a checkpoint on disk.

    lamforge train --phase 1 --recipe quick --run runs/office     # task -> plan SFT            -> office/lam1
    lamforge train --phase 2 --recipe quick --run runs/office     # imitation of the expert     -> office/lam2
    lamforge train --phase 3 --recipe quick --run runs/office     # self-boosting exploration   -> office/lam3
    lamforge train --phase 4 --recipe quick --run runs/office     # reward model + offline PPO  -> office/lam4

A run folder holds ``plans.jsonl`` (task-plan pairs), ``data/`` (the verified trajectory store from
``lamforge collect trajectories``), ``explore/`` (phase 3's attempts) and one folder per phase
(``lam1/model``, ...). A phase whose model is already there is skipped; one killed mid-way resumes
from its last checkpoint (SFT and PPO) or re-runs only what is missing (exploration is a
crash-safe store).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import TaskPlan, Trajectory
from lamforge.run import Run, save_model
from lamforge.training.recipe import DataConfig, build_config
from lamforge.training.rows import plan_row, trajectory_row
from lamforge.training.sft import LamSFTConfig, load_for_training, train_sft


def model_dir(spec: str) -> Path:
    """A trainable folder for a base model name, a forged model name or a path."""
    from lamforge.models.registry import resolve

    if (forged := resolve(spec)) is not None:
        return forged
    if spec == "smollm2-135m":
        from lamforge.models.local import resolve_default_model_dir

        return resolve_default_model_dir()
    path = Path(spec)
    if not (path / "config.json").is_file():
        raise LamforgeError(f"{spec!r} is not a model folder, a base model name or a forged model name")
    return path


def _done(out: Path) -> dict | None:
    summary = out / "summary.json"
    return json.loads(summary.read_text()) if (out / "model" / "config.json").is_file() and summary.is_file() else None


def read_store(folder: Path) -> list[Trajectory]:
    from lamforge.data.store import RecordStore

    return list(RecordStore(folder, Trajectory, readonly=True)) if (folder / "records.jsonl").is_file() else []


def phase1_rows(tokenizer, plans: list[TaskPlan], trajectories: list[Trajectory], n: int, env_id: str) -> list[dict]:
    """Documentation pairs (generic tasks) and concrete pairs from training trajectories (request ->
    the expert's plan), half and half when both exist."""
    concrete = [TaskPlan(task_id=t.task.id, task=t.task.request, plan=t.initial_plan, source="trajectory")
                for t in trajectories if t.initial_plan]
    rng = random.Random(0)
    rng.shuffle(concrete)
    docs = list(plans)
    rng.shuffle(docs)
    half = n // 2
    chosen = docs[:half] + concrete[: n - min(half, len(docs))]
    return [plan_row(tokenizer, env_id, p) for p in chosen[:n]]


def imitation_rows(tokenizer, trajectories: list[Trajectory], action_set, plan_dropout: float,
                   seed: int = 0, check_finish: float = 0.0) -> list[dict]:
    """One row per trajectory. With probability ``plan_dropout`` the plan is left out of the prompt:
    the agent acts both with a plan (``--planning start|dynamic``) and without one (evaluation and
    exploration run without), and should have seen both. With probability ``check_finish`` the row
    ends on the finished screen and a bare FINISH (``rows.trajectory_row``)."""
    rng = random.Random(seed)
    finish_rng = random.Random(seed + 1)
    rows = []
    for t in trajectories:
        if hides_target(t, action_set):
            continue  # the control filter hides a control the expert used: the model could not name it
        if t.initial_plan and rng.random() < plan_dropout:
            t = t.model_copy(update={"initial_plan": [],
                                     "steps": [s.model_copy(update={"plan": []}) for s in t.steps]})
        rows.append(trajectory_row(tokenizer, t, action_set, check_finish=finish_rng.random() < check_finish))
    return rows


def by_family_weight(trajectories: list[Trajectory], n: int, mode: str = "even") -> list[Trajectory]:
    """``n`` of ``trajectories`` (kept in their order within a family). ``even`` takes the first n;
    ``steps`` gives each family a share in proportion to its mean episode length, so a five-call
    family gets as many decisions to learn from per call as a one-call family: with even shares the
    service model learnt that two calls end a task, and stopped there in every 3- to 5-call family
    (session 14: 0 of 13 held-out episodes of those families, each ending in FINISH after at most two
    calls)."""
    if mode == "even":
        return trajectories[:n]
    if mode != "steps":
        raise LamforgeError(f"data.family_weights must be even or steps, not {mode!r}")
    groups: dict[str, list[Trajectory]] = {}
    for t in trajectories:
        groups.setdefault(t.task.family, []).append(t)
    weight = {f: sum(len(t.steps) for t in ts) / len(ts) for f, ts in groups.items()}
    quota = {f: 0 for f in groups}
    left = min(n, len(trajectories))
    while left > 0:  # shares in proportion to weight, a family that runs out passing its share on
        open_ = [f for f in groups if quota[f] < len(groups[f])]
        total = sum(weight[f] for f in open_)
        given = 0
        for f in open_:
            extra = min(len(groups[f]) - quota[f], max(1, int(left * weight[f] / total)), left - given)
            quota[f] += extra
            given += extra
        left -= given
    chosen = {id(t) for f, ts in groups.items() for t in ts[:quota[f]]}
    return [t for t in trajectories if id(t) in chosen]


def hides_target(traj: Trajectory, action_set) -> bool:
    """Whether a step of ``traj`` acts on a control the environment's screen filter does not show."""
    if action_set.screen_filter is None:
        return False
    for step in traj.steps:
        label = step.action.control_label
        if (label is not None and step.observation.control(label) is not None
                and action_set.view(step.observation, traj.task.request).control(label) is None):
            return True
    return False


def rehearsal_rows(tokenizer, run: Path, n: int, env_id: str) -> list[dict]:
    """A few task-plan rows mixed into later phases so the model does not forget how to plan (LAM2
    trained on actions alone lost all of LAM1's planning in the first quick forge)."""
    if n <= 0:
        return []
    from lamforge.data.plans import read_plans

    run = Run(run)
    plans = read_plans(run.plans) if run.plans.is_file() else []
    return phase1_rows(tokenizer, plans, read_store(run.data), n, env_id)[:n]


def run_phase(phase: int, recipe: dict, run: Path, *, env: str = "office", register_as: str | None = None,
              progress: bool = True) -> dict:
    """Train one phase of ``run`` with ``recipe``; returns the phase summary (also in RUN/lamN/summary.json)."""
    from lamforge.envs import action_set_of, spec

    if phase not in (1, 2, 3, 4):
        raise LamforgeError(f"there is no phase {phase}: phases are 1 (plans), 2 (imitation), 3 (self-boosting), "
                            "4 (reward model + offline PPO)")
    run = Run(run)
    out = run.phase_dir(f"lam{phase}")
    if (done := _done(out)) is not None:
        return {**done, "skipped": True}
    env_id, action_set = spec(env).id, action_set_of(env)
    passed = [t for t in read_store(run.data) if t.outcome.verdict == "pass"]
    start = recipe.get("base_model", "smollm2-135m") if phase == 1 else str(run.model(f"lam{phase - 1}"))
    if phase > 1 and not (Path(start) / "config.json").is_file():
        raise LamforgeError(f"phase {phase} starts from LAM{phase - 1}, which is not in {run}; "
                            f"run `lamforge train --phase {phase - 1}` first")
    if phase == 4:
        from lamforge.training.phase4 import run_phase4

        summary = run_phase4(recipe, run, env=env, progress=progress)
    else:
        extra: dict = {}
        if phase == 3:
            from lamforge.training.explore import explore

            extra = explore(recipe, run, env=env, progress=progress)
            if extra["new_successes"] == 0:
                return _finish(out, {"phase": 3, "start": start, **extra, "copied_from": start,
                                     "note": "exploration found no new successes: LAM3 is LAM2"},
                               run, env, register_as, copy_from=Path(start))
        model, tokenizer = load_for_training(model_dir(start))
        config = build_config(LamSFTConfig, recipe.get(f"phase{phase}", {}), output_dir=str(out / "checkpoints"),
                              disable_tqdm=not progress)
        rows = _sft_rows(phase, tokenizer, recipe, run, passed, action_set, env_id, extra)
        summary = {"phase": phase, "start": start, **extra,
                   **train_sft(config, start, rows, out, model=model, tokenizer=tokenizer)}
    return _finish(out, summary, run, env, register_as)


def _finish(out: Path, summary: dict, run: Path, env: str, register_as: str | None,
            copy_from: Path | None = None) -> dict:
    import shlex
    import sys

    out.mkdir(parents=True, exist_ok=True)
    # the command that made this model, so an ablation row can say how to reproduce it
    summary.setdefault("command", shlex.join(["lamforge", *sys.argv[1:]]))
    if copy_from is not None:
        save_model(out / "model", copy_from=copy_from)
    if summary["phase"] in (2, 3, 4):  # tool-call SFT passes its own name
        keep_memory(run, out / "model")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if register_as:
        from lamforge.models.registry import register

        register(register_as, out / "model", {"phase": summary["phase"], "run": str(run), "env": env})
    return summary


def detour_trajectories(run: Path) -> list[Trajectory]:
    """``RUN/detours``'s episodes of the detour expert whose mistake raised an error and that still
    succeeded, every other step without one (``lamforge.agents.expert.DetourExpert``)."""
    run = Run(run)
    if not run.detours.is_dir():
        return []
    out = []
    for t in read_store(run.detours):
        at = t.meta.get("detour_step")
        if (at is not None and t.outcome.success and at < len(t.steps) and t.steps[at].error
                and all(s.error is None for i, s in enumerate(t.steps) if i != at)):
            out.append(t)
    return out


def _sft_rows(phase: int, tokenizer, recipe: dict, run: Path, passed: list[Trajectory], action_set, env_id: str,
              explored: dict) -> list[dict]:
    sizes = DataConfig.of(recipe)
    dropout, check_finish = sizes.plan_dropout, sizes.check_finish
    if phase == 1:
        from lamforge.data.plans import read_plans

        plans = read_plans(run.plans) if run.plans.is_file() else []
        if not plans and not any(t.initial_plan for t in passed):
            raise LamforgeError(f"phase 1 has no task-plan pairs: {run.plans} is missing or empty and no "
                                f"verified trajectory in {run.data} has a plan (did the collection expert "
                                "fail every task? try --set data.expert=reference)")
        return phase1_rows(tokenizer, plans, passed, sizes.plan_rows, env_id)
    if not passed:
        raise LamforgeError(f"no verified trajectories in {run.data}: run "
                            f"`lamforge collect trajectories --out {run.data}` first")
    n = sizes.trajectories
    rehearsal = rehearsal_rows(tokenizer, run, sizes.plan_rehearsal, env_id)
    if phase == 2:
        detours = detour_trajectories(run)[:round(n * sizes.detour_share)]
        chosen = by_family_weight(passed, n - len(detours), sizes.family_weights)
        # memory holds every verified trajectory of the training pool, also those phase 2 has no time to
        # train on: recalling one costs a few prompt tokens, training on it a whole row
        chosen = _recalling(run, sizes, passed, action_set, chosen + detours, seed=2)
        return imitation_rows(tokenizer, chosen, action_set, dropout, check_finish=check_finish) + rehearsal
    # phase 3: the new successes of exploration, plus a replay of the imitation data so the
    # families LAM2 already knew are not forgotten
    from lamforge.training.explore import new_successes

    found = new_successes(run)
    imitated = by_family_weight(passed, n, sizes.family_weights)
    replay = random.Random(1).sample(imitated, min(sizes.replay, len(imitated)))
    rows = _recalling(run, sizes, passed + found, action_set, found + replay, seed=4)
    return imitation_rows(tokenizer, rows, action_set, dropout, seed=3, check_finish=check_finish) + rehearsal


def _recalling(run: Run, sizes: DataConfig, known: list[Trajectory], action_set, rows: list[Trajectory],
               seed: int) -> list[Trajectory]:
    """``rows`` as the agent would see them with a memory of ``known`` (kept as the run's memory, which
    each model of the run carries): each recalls the nearest other request. Without ``data.memory``,
    unchanged."""
    if not sizes.memory or not known:
        return rows
    from lamforge.agents.memory import Memory

    memory = Memory.of(known, action_set)
    memory.save(run.root)
    return memory.annotate(rows, dropout=sizes.memory_dropout, seed=seed)


def keep_memory(run: Path, model_folder: Path) -> None:
    """Give a model of ``run`` the run's memory (phases 2-4), so it recalls what it was trained to."""
    from lamforge.agents.memory import FILE

    source = Run(run).root / FILE
    if source.is_file() and Path(model_folder).is_dir():
        shutil.copyfile(source, Path(model_folder) / FILE)


def describe_phase(summary: dict) -> str:
    """One line per phase for people: what was trained on what, how fast, and the loss."""
    phase = summary["phase"]
    if summary.get("note"):
        return f"LAM{phase}: {summary['note']}"
    verb = "already trained (skipped)" if summary.get("skipped") else f"trained in {summary.get('seconds')} s"
    line = (f"LAM{phase} {verb}: {summary.get('rows')} rows, {summary.get('tokens')} tokens "
            f"({summary.get('tokens_per_s')} tokens/s), loss {summary.get('first_loss')} -> {summary.get('last_loss')}")
    if phase == 3 and "attempts" in summary:
        line += (f"; exploration: {summary['attempts']} attempts on {summary['explore_tasks']} tasks "
                 f"({summary['expert_failed_tasks']} the expert failed), {summary['new_successes']} new successes")
    if phase == 4 and "ppo" in summary:
        rm, ppo = summary.get("reward_model", {}), summary["ppo"]
        line += (f"; reward model {rm.get('successes')}+/{rm.get('failures')}- trajectories, loss "
                 f"{rm.get('first_loss')} -> {rm.get('last_loss')}; PPO final KL {ppo.get('final_kl')}")
        if "kto" in summary:
            line += f"; KTO {summary['kto'].get('examples')} examples, loss {summary['kto'].get('last_loss')}"
    return line
