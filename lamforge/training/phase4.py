"""Phase 4: reward model, then offline PPO on the failed exploration trajectories (LAM4), and KTO
next to it (LAM4-KTO), all starting from LAM3 and none touching the environment.

Data, all already on disk: successes = the imitation data (a sample) + exploration's new successes;
failures = exploration's failed attempts + the expert's failed collections. The reward model sees
both (+1 / -1 per step); PPO trains on the failed exploration attempts only (the model's own
mistakes, as the paper's PPO ran on LAM3's failures); KTO on per-step examples of both.

Recipe sections: ``phase4_reward`` (:class:`~lamforge.training.reward.RewardConfig`), ``phase4_ppo``
(:class:`~lamforge.training.ppo.OfflinePPOConfig`), ``phase4_kto`` (TRL's ``KTOConfig`` plus
``freeze_layers`` and ``threads``); sizes under ``data``: ``reward_trajectories`` (per side),
``ppo_trajectories``, ``kto_examples`` (0 skips KTO).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from lamforge.core.errors import LamforgeError
from lamforge.run import Run, save_model
from lamforge.training.recipe import DataConfig, build_config


def run_phase4(recipe: dict, run: Path, *, env: str = "office", progress: bool = True) -> dict:
    from lamforge.agents.memory import Memory
    from lamforge.envs import action_set_of
    from lamforge.training.explore import failures, new_successes
    from lamforge.training.phases import read_store
    from lamforge.training.ppo import OfflinePPOConfig, ppo_rows, train_ppo
    from lamforge.training.reward import RewardConfig, RewardModel, train_reward_model
    from lamforge.training.rows import trajectory_row
    from lamforge.training.sft import load_for_training

    t0 = time.perf_counter()
    run = Run(run)
    sizes = DataConfig.of(recipe)
    lam3 = run.model("lam3")
    out = run.phase_dir("lam4")
    out.mkdir(parents=True, exist_ok=True)
    action_set = action_set_of(env)
    rng = random.Random(sizes.seed)
    stored, explored_fail, found = read_store(run.data), failures(run), new_successes(run)
    memory = Memory.load(run.root)  # phases 2-3's, when the recipe keeps one
    if memory is not None:
        # rows show what the agent recalled; exploration's attempts keep what LAM2 did recall. Without
        # this, only exploration's rows (mostly failures) would show a recollection, and the reward
        # model could score that line instead of the actions
        stored, explored_fail, found = memory.annotate(stored), memory.annotate(explored_fail), memory.annotate(found)
    successes = found + [t for t in stored if t.outcome.verdict == "pass"]
    fails = explored_fail + [t for t in stored if t.outcome.verdict == "fail"]
    per_side = sizes.reward_trajectories
    if not successes or not explored_fail:
        what = "successes" if not successes else "failed exploration attempts"
        save_model(out / "model", copy_from=lam3)
        return {"phase": 4, "start": str(lam3), "copied_from": str(lam3), "seconds": 0.0,
                "note": f"no {what} to learn from: LAM4 is LAM3"}
    rm_data = rng.sample(successes, min(per_side, len(successes))) + rng.sample(fails, min(per_side, len(fails)))
    rm_dir = out / "reward_model"
    rm_summary_file = out / "reward_summary.json"
    if not (rm_dir / "lamforge_reward.json").is_file():
        config = build_config(RewardConfig, recipe.get("phase4_reward", {}), output_dir=str(out / "rm-checkpoints"),
                              disable_tqdm=not progress)
        try:
            rm_summary = train_reward_model(config, lam3, rm_data, action_set, out)
        except LamforgeError as e:  # nothing the reward model can read: phase 4 cannot run, say why
            save_model(out / "model", copy_from=lam3)
            return {"phase": 4, "start": str(lam3), "copied_from": str(lam3), "seconds": 0.0,
                    "note": f"{e}: LAM4 is LAM3"}
        rm_summary_file.write_text(json.dumps(rm_summary, indent=2))
    rm_summary = json.loads(rm_summary_file.read_text()) if rm_summary_file.is_file() else {}
    rm = RewardModel.load(rm_dir, action_set)
    ppo_data = explored_fail[: sizes.ppo_trajectories]
    step_rewards = [rm.score(t) for t in ppo_data]
    rm_on_ppo = [r for rs in step_rewards for r in rs]
    del rm
    model, tokenizer = load_for_training(lam3)
    config = build_config(OfflinePPOConfig, recipe.get("phase4_ppo", {}), output_dir=str(out / "checkpoints"),
                          disable_tqdm=not progress)
    rows = [trajectory_row(tokenizer, t, action_set) for t in ppo_data]
    keep = [i for i, r in enumerate(rows) if len(r["input_ids"]) <= config.max_length and r["action_spans"]]
    rows, step_rewards = [rows[i] for i in keep], [step_rewards[i] for i in keep]
    rows, reward_stats = ppo_rows(model, rows, step_rewards, config.reward_scale)
    ppo = train_ppo(config, model, tokenizer, rows, out)
    summary = {"phase": 4, "start": str(lam3), "reward_model": rm_summary,
               "ppo": {**ppo, **reward_stats, "rm_mean_on_failures": round(sum(rm_on_ppo) / len(rm_on_ppo), 4)}}
    if sizes.kto_examples > 0:
        summary["kto"] = run_kto(recipe, run, env=env, successes=successes, fails=fails, progress=progress)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    # the headline figures of the PPO model, as for the SFT phases
    summary.update({k: ppo.get(k) for k in ("rows", "tokens", "tokens_per_s", "first_loss", "last_loss")})
    return summary


def run_kto(recipe: dict, run: Path, *, env: str, successes, fails, progress: bool = True) -> dict:
    from lamforge.envs import action_set_of
    from lamforge.models.registry import register
    from lamforge.training.kto import kto_examples, train_kto
    from lamforge.training.phases import _done, keep_memory
    from lamforge.training.sft import load_for_training

    run = Run(run)
    out = run.phase_dir("lam4-kto")
    if (done := _done(out)) is not None:
        return {**done, "skipped": True}
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_for_training(run.model("lam3"))
    n = DataConfig.of(recipe).kto_examples
    examples = kto_examples(tokenizer, successes + fails, action_set_of(env), n)
    if not examples:  # said, not crashed on: the forge then compares the models it has
        import warnings

        warnings.warn("KTO skipped: exploration left no step to label as good or bad (data.kto_examples="
                      f"{n}); LAM4-KTO is left out of the comparison", stacklevel=2)
        return {"rows": 0, "not_trained": "no KTO examples"}
    summary = train_kto(recipe.get("phase4_kto", {}), model, tokenizer, examples, out, progress=progress)
    keep_memory(run, out / "model")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    register(f"{env}/lam4-kto", out / "model", {"phase": 4, "method": "kto", "run": str(run), "env": env})
    return summary
