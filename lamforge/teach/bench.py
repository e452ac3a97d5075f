"""``lamforge bench teach-replay``: one demonstration per Office family, recorded through the recorder's
conversion (the reference solution stands in for the person), replayed on new parameterisations across
templates and judged by the family's own check.

    lamforge bench teach-replay --seeds 10 --json

A new task's values come from its request when it is worded as the demonstration's was (the skill's
request with its parameters); otherwise from the task's own parameters the recording shows. A
parameter the recording cannot map keeps its recorded value, as a person who gave no --param would.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def replay_bench(env_name: str = "office", seeds: int = 10, families_: list[str] | None = None,
                 progress: Callable[[str, float], None] | None = None) -> dict:
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import families
    from lamforge.teach.record import skill_from_trajectory
    from lamforge.teach.replay import SkillAgent

    fams = families(env_name)
    out: dict[str, dict] = {}
    env = make(env_name, max_steps=10)
    try:
        for name in families_ or sorted(fams):
            fam = fams[name]
            shown = fam.sample(random.Random(1))
            skill = skill_from_trajectory(run_episode(env, ReferenceExpert(), shown), f"t-{name}", env_name)
            keys = [next((k for k, v in shown.params.items() if str(v).lower() == value.lower()), None)
                    for value in skill.params.values()]
            ok, worded, templates = 0, 0, set()
            for seed in range(100, 100 + seeds):
                task = fam.sample(random.Random(seed))
                templates.add(task.template)
                values = skill.values_in(task.request)
                worded += values is not None
                if values is None:
                    values = {p: str(task.params[k]) for p, k in zip(skill.params, keys) if k is not None}
                ok += run_episode(env, SkillAgent(skill, values), task).success
            out[name] = {"replay_success": ok / seeds, "same_wording": worded / seeds, "templates": len(templates),
                         "params": list(skill.params)}
            if progress:
                progress(name, ok / seeds)
    finally:
        env.close()
    return {"families": len(out), "replay_success": round(sum(v["replay_success"] for v in out.values()) / max(len(out), 1), 4),
            "per_family": out}
