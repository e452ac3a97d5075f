"""Offline evaluation: an agent's decisions along held-out expert trajectories (the paper's Table 3),
and a planner's plans against reference plans (Table 2).

    from lamforge.evaluation.offline import offline_eval, plan_eval
    offline_eval(agent, reference_trajectories)   # -> offline_metrics(...) + per_family
    plan_eval(lambda request: planner(request), task_plan_pairs)

Teacher forcing, as in ``lamforge.evaluation.agent_step``: at every reference step the agent decides
on the reference observation with the reference history before it, whatever it predicted earlier.
It is asked at every step, even after it has said FINISH or FAIL, so one early wrong status costs one
step, not the rest of the trajectory; every prediction is recorded. An agent that leaves FINISH off
the last action is asked once more, on the screen that action produced: a bare FINISH there counts
as finishing with the action (both end the task).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from lamforge.agents.base import Agent
from lamforge.core.schemas import Action, Status, TaskPlan, Trajectory
from lamforge.core.workers import worker_map
from lamforge.evaluation.metrics import offline_metrics, planning_metrics


def predict_along(agent: Agent, reference: Trajectory) -> list[Action]:
    """The agent's action at each step of ``reference`` (teacher forcing); ``[]`` for an empty one."""
    if not reference.steps:
        return []
    agent.start(reference.task, reference.steps[0].observation)
    actions = [agent.act(step.observation, reference.steps[:i]).action for i, step in enumerate(reference.steps)]
    last = actions[-1]
    if (last.status == Status.CONTINUE and last.function is not None and reference.final_observation is not None
            and reference.steps[-1].action.status == Status.FINISH):
        # an agent that checks its work runs the last action, sees the finished screen and then says
        # FINISH (``data.check_finish``): that ends the task as well as FINISH on the action itself
        ran = reference.steps[-1].model_copy(update={"action": reference.steps[-1].action.model_copy(
            update={"status": Status.CONTINUE})})
        then = agent.act(reference.final_observation, [*reference.steps[:-1], ran]).action
        if then.function is None and then.status == Status.FINISH:
            actions[-1] = last.model_copy(update={"status": Status.FINISH})
    return actions


_WORKER_AGENT: Agent | None = None


def _start_worker(make_agent: Callable[[], Agent], threads: int) -> None:
    import torch

    torch.set_num_threads(threads)  # each worker its share of the cores (lamforge.evaluation.online)
    global _WORKER_AGENT
    _WORKER_AGENT = make_agent()


def _predict_in_worker(reference: Trajectory) -> list[Action]:
    assert _WORKER_AGENT is not None
    return predict_along(_WORKER_AGENT, reference)


def predict_all(agent: Agent | None, references: list[Trajectory], *,
                make_agent: Callable[[], Agent] | None = None, workers: int = 1) -> list[list[Action]]:
    """:func:`predict_along` for every reference, in this process with ``agent``, or with ``workers``
    spawned processes that each build their agent with ``make_agent`` (picklable, as for
    :func:`~lamforge.evaluation.online.online_eval`; scripts need the ``__main__`` guard). On 2 cores,
    two one-thread workers took 87.9 s where one process with both threads took 118.3 s (60 validation
    references, the same predictions; session 7): a 135M model does not spread well over threads."""
    if make_agent is None or workers <= 1 or len(references) < 2:
        agent = agent if agent is not None else make_agent()  # type: ignore[misc]
        return [predict_along(agent, ref) for ref in references]
    from lamforge.evaluation.online import threads_per_worker

    workers = min(workers, len(references))
    # spawned, as online_eval's workers: each builds its agent from the pickled make_agent in a fresh
    # interpreter, safe whatever threads or CUDA state this process holds, on every OS
    with worker_map(_predict_in_worker, references, workers=workers, initializer=_start_worker,
                    initargs=(make_agent, threads_per_worker(workers)), start_method="spawn", ordered=True) as results:
        return list(results)


def offline_eval(agent: Agent | None, references: list[Trajectory], *,
                 make_agent: Callable[[], Agent] | None = None, workers: int = 1) -> dict[str, Any]:
    """:func:`~lamforge.evaluation.metrics.offline_metrics` over all references, plus ``per_family``:
    the same step and task success rates for each task family. ``make_agent`` and ``workers``: see
    :func:`predict_all`."""
    pairs = list(zip(references, predict_all(agent, references, make_agent=make_agent, workers=workers),
                     strict=True))
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
