"""``lamforge forge`` end to end on a tiny random model: every stage runs, every model is in the
comparison, and the JSON line carries the figures the issue promises. A second run resumes: every
finished stage is skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

TINY = ["data.expert=reference", "data.collect=4", "data.plan_rows=6", "data.trajectories=4", "data.explore_tasks=2",
        "data.explore_attempts=2", "data.explore_max_steps=2", "data.explore_workers=1", "data.replay=2",
        "data.reward_trajectories=2", "data.ppo_trajectories=2", "data.kto_examples=4", "data.plan_rehearsal=2",
        "data.collect_workers=1", "eval.tasks=2", "eval.workers=1",
        "phase1.max_length=512", "phase4_kto.per_device_train_batch_size=2", "phase4_kto.max_length=1024",
        "phase4_reward.lora_layers=0", "phase4_ppo.gradient_accumulation_steps=1"]


def longest_reference(env: str = "office", seeds: int = 40) -> int:
    """The most steps a reference solution takes in any family (the unavailable ones included) over
    ``seeds`` samples each: a step limit the expert can finish any held-out task in, whatever the draw
    (which follows this machine's family list: export_pdf only where LibreOffice is installed)."""
    import random

    from lamforge.envs.tasks import families

    return max(len(f.solution(f.sample(random.Random(s))))
               for f in families(env, available_only=False).values() for s in range(seeds))


def test_forge_runs_every_stage_and_reports_every_model(tiny_model_dir, tmp_path):
    from lamforge.data.taskfile import read_tasks

    out = tmp_path / "forge"
    steps = longest_reference()
    args = [sys.executable, "-m", "lamforge.cli", "forge", "--env", "office", "--out", str(out), "--base-model",
            str(tiny_model_dir), "--json", *[x for o in [*TINY, f"eval.max_steps={steps}"] for x in ("--set", o)]]
    env = {**os.environ, "LAMFORGE_HOME": str(tmp_path / "home")}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary["models"]) >= {"base", "lam1", "lam2", "lam3", "lam4", "expert"}
    # the reference expert solves its held-out tasks, given the steps any of them can take
    from lamforge.envs.tasks import family_of

    evaluated = read_tasks(out / "data" / "heldout_tasks.jsonl")[:2]
    assert all(len(family_of(t).solution(t)) <= steps for t in evaluated), (steps, evaluated)
    assert summary["models"]["expert"]["tsr"] == 1.0, (steps, [t.id for t in evaluated])
    for name, figures in summary["models"].items():
        assert 0.0 <= figures["tsr"] <= 1.0, name
    assert summary["seconds"] > 0 and set(summary["timings"]) >= {"collect", "phase 1", "phase 4", "evaluate"}
    assert "models" in summary["monitor"] and "kl_to_lam3" in summary["monitor"]["models"]["lam4"]
    assert (out / "eval" / "report.html").is_file()
    listed = subprocess.run([sys.executable, "-m", "lamforge.cli", "models", "--json"], capture_output=True,
                            text=True, env=env, timeout=120)
    forged = json.loads(listed.stdout.strip().splitlines()[-1])["forged"]
    assert {"office/lam1", "office/lam2", "office/lam3", "office/lam4"} <= set(forged)
