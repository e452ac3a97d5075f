"""The training phases, each handing over to the next only through a checkpoint on disk.

    lamforge train --phase 1 --recipe quick --run runs/office     # task -> plan SFT      -> office/lam1
    lamforge train --phase 2 --recipe quick --run runs/office     # imitation of experts  -> office/lam2

A run folder holds ``plans.jsonl`` (task-plan pairs), ``data/`` (the verified trajectory store from
``lamforge collect trajectories``) and one folder per phase (``lam1/model``, ...). A phase whose
model is already there is skipped; one killed mid-way resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import TaskPlan, Trajectory
from lamforge.training.recipe import build_config
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


def run_phase(phase: int, recipe: dict, run: Path, *, register_as: str | None = None,
              progress: bool = True) -> dict:
    from lamforge.data.plans import read_plans
    from lamforge.data.store import RecordStore
    from lamforge.envs import make

    run = Path(run)
    out = run / f"lam{phase}"
    if (done := _done(out)) is not None:
        return {**done, "skipped": True}
    env = make("office").unwrapped
    data = run / "data"
    trajectories = [t for t in RecordStore(data, Trajectory, readonly=True)] if (data / "records.jsonl").is_file() else []
    passed = [t for t in trajectories if t.outcome.verdict == "pass"]
    start = recipe.get("base_model", "smollm2-135m") if phase == 1 else str(run / f"lam{phase - 1}" / "model")
    if phase > 1 and not (Path(start) / "config.json").is_file():
        raise LamforgeError(f"phase {phase} starts from LAM{phase - 1}, which is not in {run}; "
                            f"run `lamforge train --phase {phase - 1}` first")
    model, tokenizer = load_for_training(model_dir(start))
    section = recipe.get(f"phase{phase}", {})
    config = build_config(LamSFTConfig, section, output_dir=str(out / "checkpoints"), disable_tqdm=not progress)
    sizes = recipe.get("data", {})
    if phase == 1:
        plans_file = run / "plans.jsonl"
        plans = read_plans(plans_file) if plans_file.is_file() else []
        rows = phase1_rows(tokenizer, plans, passed, int(sizes.get("plan_rows", 160)), env.env_id)
    elif phase == 2:
        if not passed:
            raise LamforgeError(f"no verified trajectories in {data}: run `lamforge collect trajectories --out {data}`")
        chosen = passed[: int(sizes.get("trajectories", len(passed)))]
        rows = [trajectory_row(tokenizer, t, env.action_set) for t in chosen]
    else:
        raise LamforgeError(f"phase {phase} is not available yet; phases 1 and 2 are")
    summary = {"phase": phase, "start": start, **train_sft(config, start, rows, out, model=model, tokenizer=tokenizer)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if register_as:
        from lamforge.models.registry import register

        register(register_as, out / "model", {"phase": phase, "run": str(run)})
    return summary
