"""Active learning: which tasks to collect or explore next, by the current model's uncertainty.

    lamforge collect active --model office/lam2 --pool 120 --budget 30 --json

Uncertainty of a task = entropy (nats) of the model's first action under constrained decoding,
summed over its choice points (function, control label, argument tokens), i.e. the chain-rule
entropy along the decoded action; it costs no extra forward pass. Selection mixes the most
uncertain tasks with random picks, 50:50 by default (the seed documents found such a mix beat pure
uncertainty sampling, which keeps picking near-identical hard cases).

The comparison at equal budget reports, per strategy, how many selected tasks the model gets wrong
at its first step (what new data can teach it) and how many task families the selection covers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from lamforge.agents.react import ReactAgent
from lamforge.core.schemas import Task
from lamforge.envs.tasks import family_of


@dataclass
class Probe:
    task: Task
    entropy: float
    wrong: bool  # the model's first action differs from the reference's (function or control)


def probe(agent: ReactAgent, env, tasks: list[Task], progress: Callable[[int], None] | None = None) -> list[Probe]:
    out = []
    for i, task in enumerate(tasks):
        obs, _ = env.reset(options={"task": task})
        agent.start(task, obs)
        action = agent.act(obs, []).action
        ref = family_of(task).solution(task)[0]
        ref_label = obs.find(ref.control_name).label if ref.control_name else None
        out.append(Probe(task, agent.last_entropy or 0.0,
                         (action.function, action.control_label) != (ref.function, ref_label)))
        if progress:
            progress(i + 1)
    return out


def select(probes: list[Probe], budget: int, mix: float = 0.5, seed: int = 0) -> list[int]:
    """Indices: ``mix`` of the budget by highest entropy, the rest at random from the others."""
    rng = random.Random(seed)
    by_entropy = sorted(range(len(probes)), key=lambda i: -probes[i].entropy)
    top = by_entropy[: round(budget * mix)]
    rest = [i for i in range(len(probes)) if i not in set(top)]
    return top + rng.sample(rest, min(budget - len(top), len(rest)))


def compare(probes: list[Probe], budget: int, seed: int = 0, repeats: int = 20) -> dict:
    """Random vs uncertainty vs the 50:50 mix at the same budget (random parts averaged over repeats)."""
    def stats(picks_list: list[list[int]]) -> dict:
        wrong = [sum(probes[i].wrong for i in p) / len(p) for p in picks_list]
        families = [len({probes[i].task.family for i in p}) for p in picks_list]
        return {"model_wrong_rate": round(sum(wrong) / len(wrong), 3),
                "families_covered": round(sum(families) / len(families), 1)}

    return {"budget": budget, "pool": len(probes),
            "pool_model_wrong_rate": round(sum(p.wrong for p in probes) / len(probes), 3),
            "random": stats([select(probes, budget, 0.0, seed + r) for r in range(repeats)]),
            "uncertainty": stats([select(probes, budget, 1.0, seed)]),
            "mixed_50_50": stats([select(probes, budget, 0.5, seed + r) for r in range(repeats)])}
