"""``lamforge forge`` on the environments beyond Office (issues #7 and #8: "the forge pipeline runs on
it unchanged"): the customer-service API environment and the food-ordering web site, end to end on
a tiny random model, plus the two shared pieces they needed: an environment's own forge defaults
(``recipes/env/<env>.yaml``) and a held-out split for tasks without templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# every stage at its smallest: 3 collected tasks, one exploration attempt of 2 steps per task, 2 held-out
# tasks in the evaluation (data.expert is deliberately NOT set: the environment's default decides)
TINY = ["data.collect=3", "data.plan_rows=4", "data.trajectories=3", "data.explore_tasks=1", "data.explore_fresh=1",
        "data.explore_attempts=1", "data.explore_max_steps=2", "data.explore_workers=1", "data.replay=2",
        "data.reward_trajectories=2", "data.ppo_trajectories=2", "data.kto_examples=4", "data.plan_rehearsal=2",
        "data.collect_workers=1", "eval.tasks=2", "eval.workers=1",
        "phase1.max_length=512", "phase4_kto.per_device_train_batch_size=2", "phase4_kto.max_length=1024",
        "phase4_reward.lora_layers=0", "phase4_ppo.gradient_accumulation_steps=1"]


def _forge(env_name: str, model_dir, tmp_path, eval_steps: int) -> tuple[dict, dict]:
    out = tmp_path / "forge"
    sets = [*TINY, f"eval.max_steps={eval_steps}"]
    args = [sys.executable, "-m", "lamforge.cli", "forge", "--env", env_name, "--recipe", "quick", "--out", str(out),
            "--base-model", str(model_dir), "--limit", "3", "--json", *[x for o in sets for x in ("--set", o)]]
    env = {**os.environ, "LAMFORGE_HOME": str(tmp_path / "home")}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1500, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    listed = subprocess.run([sys.executable, "-m", "lamforge.cli", "models", "--json"], capture_output=True,
                            text=True, env=env, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return summary, json.loads(listed.stdout.strip().splitlines()[-1])["forged"]


def _assert_forged(env_name: str, summary: dict, forged: dict) -> None:
    assert set(summary["models"]) >= {"base", "lam1", "lam2", "lam3", "lam4", "expert"}
    for name, figures in summary["models"].items():
        assert 0.0 <= figures["tsr"] <= 1.0, name
    assert summary["tasks"] == 2 and summary["seconds"] > 0
    assert set(summary["timings"]) >= {"collect", "phase 1", "phase 2", "phase 3", "phase 4", "evaluate"}
    assert {f"{env_name}/lam{p}" for p in (1, 2, 3, 4)} <= set(forged)


@pytest.mark.slow  # 19 min on the shared 2-core CPU (mostly 7 models x xgrammar set-up over 345 functions)
def test_service_forges_end_to_end_with_the_reference_expert(tiny_model_dir, tmp_path):
    # 5 steps: the longest reference solution of a service family, so the expert can finish every task
    summary, forged = _forge("service", tiny_model_dir, tmp_path, eval_steps=5)
    _assert_forged("service", summary, forged)
    # the search expert has no moves in a 345-function API catalog: the env's forge default picked the
    # reference expert, which solves every collected task and every held-out one
    assert summary["collect"]["expert"] == "reference" and summary["collect"]["passed"] == 3
    assert summary["models"]["expert"]["tsr"] == 1.0


@pytest.mark.slow
def test_food_forges_end_to_end_in_a_real_browser(tiny_model_dir, tmp_path):
    pytest.importorskip("playwright")
    from lamforge.envs.web import chromium_path

    if chromium_path() is None:
        pytest.skip("no system Chromium (make chromium)")
    summary, forged = _forge("food", tiny_model_dir, tmp_path, eval_steps=2)
    _assert_forged("food", summary, forged)
    assert summary["collect"]["passed"] + summary["collect"]["failed"] == 3


def test_env_overlays_come_before_the_users_set():
    from lamforge.training.recipe import env_overlay, load_recipe

    assert env_overlay("office") is None
    searching = load_recipe("quick", ["data.expert=search"])
    assert load_recipe("quick", env="service")["data"]["expert"] == "reference"
    assert load_recipe("quick", ["data.expert=search"], env="service")["data"]["expert"] == "search"  # --set wins
    assert searching["data"]["collect"] == load_recipe("quick", env="service")["data"]["collect"]


def test_split_pool_holds_out_instances_when_tasks_have_no_template(monkeypatch):
    """An environment whose tasks name no template (or only one) cannot hold out whole templates:
    the split is by instance, still leak-free, instead of a crash."""
    import lamforge.envs.tasks as tasks_mod
    from lamforge.data.taskfile import split_pool
    from lamforge.data.splits import assert_no_leak

    real = tasks_mod.sample_tasks
    monkeypatch.setattr(tasks_mod, "sample_tasks", lambda env, n, seed=0, family=None: [
        t.model_copy(update={"template": None}) for t in real(env, n, seed=seed, family=family)])
    train, heldout, stats = split_pool("service", 20, seed=0)
    assert len(train) == 20 and heldout and stats["heldout_templates"] == []
    assert all(t.template is None for t in train + heldout)
    assert_no_leak(train, heldout)
