"""Offline evaluation: an agent's decisions along held-out expert trajectories (the paper's Table 3),
and a planner's plans against reference plans (Table 2).

    from lamforge.evaluation.offline import offline_eval, plan_eval
    offline_eval(agent, reference_trajectories)   # -> offline_metrics(...) + per_family
    plan_eval(lambda request: planner(request), task_plan_pairs)

Teacher forcing, as in ``lamforge.evaluation.agent_step``: at every reference step the agent decides
on the reference observation with the reference history before it, whatever it predicted earlier.
It is asked at every step, even after it has said FINISH or FAIL, so one early wrong status costs one
step, not the rest of the trajectory; every prediction is recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from lamforge.agents.base import Agent
from lamforge.core.schemas import Action, TaskPlan, Trajectory
from lamforge.evaluation.metrics import offline_metrics, planning_metrics


def predict_along(agent: Agent, reference: Trajectory) -> list[Action]:
    """The agent's action at each step of ``reference`` (teacher forcing); ``[]`` for an empty one."""
    if not reference.steps:
        return []
    agent.start(reference.task, reference.steps[0].observation)
    return [agent.act(step.observation, reference.steps[:i]).action for i, step in enumerate(reference.steps)]


def offline_eval(agent: Agent, references: list[Trajectory]) -> dict[str, Any]:
    """:func:`~lamforge.evaluation.metrics.offline_metrics` over all references, plus ``per_family``:
    the same step and task success rates for each task family."""
    pairs = [(ref, predict_along(agent, ref)) for ref in references]
    by_family: dict[str, list[tuple[Trajectory, list[Action]]]] = defaultdict(list)
    for ref, pred in pairs:
        by_family[ref.task.family].append((ref, pred))
    result = offline_metrics(pairs)
    result["per_family"] = {}
    for family, fam_pairs in sorted(by_family.items()):
        m = offline_metrics(fam_pairs)
        result["per_family"][family] = {"step_success_rate": m["step_success_rate"],
                                        "task_success_rate": m["task_success_rate"],
                                        "steps": m["counts"]["steps"]}
    return result


def plan_eval(plan_fn: Callable[[str], list[str]] | None, pairs: list[TaskPlan], *,
              plan_many: Callable[[list[str]], list[list[str]]] | None = None) -> dict[str, Any]:
    """:func:`~lamforge.evaluation.metrics.planning_metrics` of ``plan_fn(request)`` against each
    pair's reference plan, plus ``per_family`` plan success (pairs without a family go under
    ``"unknown"``). ``plan_many`` plans all requests in one call (batched decoding) instead."""
    plans = plan_many([p.task for p in pairs]) if plan_many is not None else [plan_fn(p.task) for p in pairs]
    rows = [(plan, p.plan, p.family or "unknown") for plan, p in zip(plans, pairs, strict=True)]
    result = planning_metrics([(pred, ref) for pred, ref, _ in rows])
    by_family: dict[str, list[tuple[list[str], list[str]]]] = defaultdict(list)
    for pred, ref, family in rows:
        by_family[family].append((pred, ref))
    result["per_family"] = {f: {"task_success_rate": planning_metrics(v)["task_success_rate"], "tasks": len(v)}
                            for f, v in sorted(by_family.items())}
    return result
