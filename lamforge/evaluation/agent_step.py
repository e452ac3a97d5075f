"""Benchmark of one agent decision: ``lamforge bench agent-step``.

    lamforge bench agent-step --steps 100 --json

Steps come from expert trajectories on Office tasks, replayed: at each step the model decides on the
real observation with the real history before it (teacher forcing), so every measured step sits in a
realistic multi-step episode whatever the model would have done. Variants run side by side on the
same steps: grammar-constrained decoding, free-form decoding + parsing (the baseline), and
constrained decoding without the prefix cache (what the cache buys).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.react import ReactAgent, is_valid
from lamforge.agents.runner import run_episode
from lamforge.core.schemas import Trajectory
from lamforge.envs import make
from lamforge.envs.tasks import sample_tasks


@dataclass
class VariantResult:
    latencies: list[float] = field(default_factory=list)
    valid: int = 0
    function_match: int = 0
    new_tokens: int = 0
    chosen_tokens: int = 0
    decode_seconds: float = 0.0
    prompt_tokens: int = 0
    reused_tokens: int = 0

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        n = len(lat)
        q = statistics.quantiles(lat, n=20, method="inclusive") if n >= 2 else lat * 19
        return {"steps": n, "p50_s": round(statistics.median(lat), 4) if n else None,
                "p95_s": round(q[18], 4) if n else None, "mean_s": round(sum(lat) / n, 4) if n else None,
                "valid_rate": round(self.valid / n, 4) if n else None,
                "function_match": round(self.function_match / n, 4) if n else None,
                "tokens_per_s": round(self.new_tokens / self.decode_seconds, 1) if self.decode_seconds else None,
                "chosen_tokens_per_step": round(self.chosen_tokens / n, 2) if n else None,
                "prompt_tokens_per_step": round(self.prompt_tokens / n, 1) if n else None,
                "prefix_reuse": round(self.reused_tokens / self.prompt_tokens, 3) if self.prompt_tokens else None}


def expert_trajectories(n_steps: int, seed: int = 0) -> list[Trajectory]:
    env = make("office")
    trajs, total = [], 0
    for task in sample_tasks("office", 10 * n_steps, seed=seed):
        traj = run_episode(env, ReferenceExpert(), task)
        trajs.append(traj)
        total += len(traj.steps)
        if total >= n_steps:
            break
    env.close()
    return trajs


VARIANTS = {
    "constrained": {"decoding": "constrained", "prefix_cache": True},
    "freeform": {"decoding": "freeform", "prefix_cache": True},
    "constrained_no_cache": {"decoding": "constrained", "prefix_cache": False},
}


def run_bench(backend, n_steps: int = 100, variants: list[str] | None = None, seed: int = 0,
              progress: Callable[[str, int], None] | None = None) -> dict[str, dict]:
    trajs = expert_trajectories(n_steps, seed)
    action_set = make("office").unwrapped.action_set
    results = {}
    for name in variants or list(VARIANTS):
        cfg = VARIANTS[name]
        agent = ReactAgent(backend, action_set, decoding=cfg["decoding"], planning="off",
                           prefix_cache=cfg["prefix_cache"])
        res, done = VariantResult(), 0
        for traj in trajs:
            agent.start(traj.task, traj.steps[0].observation)
            for i, step in enumerate(traj.steps):
                if done >= n_steps:
                    break
                before = dict(agent.stats)
                t0 = time.perf_counter()
                decision = agent.act(step.observation, traj.steps[:i])
                res.latencies.append(time.perf_counter() - t0)
                res.valid += decision.error is None and is_valid(decision.action, step.observation, action_set)
                res.function_match += decision.action.function == step.action.function
                for k in ("new_tokens", "chosen_tokens", "prompt_tokens", "reused_tokens"):
                    setattr(res, k, getattr(res, k) + agent.stats[k] - before[k])
                res.decode_seconds += agent.stats["decode_seconds"] - before["decode_seconds"]
                done += 1
                if progress:
                    progress(name, done)
        results[name] = res.summary()
    return results
