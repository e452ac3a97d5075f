"""Verification of a trajectory in three recorded stages (the paper's filter before training):

1. format: every action is a known function with well-typed arguments on a control that was on
   screen, and its text line parses back to the same action;
2. execution: no action returned an error;
3. outcome: the task's own success check on the final saved state (``Trajectory.outcome.success``),
   with an optional LLM judge on top.

Verdict: ``pass`` (all three hold), ``fail`` (the outcome check says no), ``unsure`` (format or
execution problems while the outcome holds, a task with no check, or a judge that disagrees).
Only ``pass`` trajectories become imitation data.
"""

from __future__ import annotations

from collections.abc import Callable

from lamforge.agents.react import is_valid
from lamforge.core.actions import ActionSet
from lamforge.core.calls import format_action, parse_action
from lamforge.core.errors import ActionError
from lamforge.core.prompts import prompt
from lamforge.core.schemas import Trajectory
from lamforge.envs.tasks import FreeRequest

Judge = Callable[[Trajectory], str]  # returns "yes", "no" or "unsure"


def format_ok(traj: Trajectory, action_set: ActionSet) -> bool:
    for step in traj.steps:
        a = step.action
        if a.function is None:
            continue
        if not is_valid(a, step.observation, action_set):
            return False
        try:
            back = parse_action(format_action(a, action_set, observation=step.observation), action_set, step.observation)
        except ActionError:
            return False
        same_args = {k: v for k, v in a.args.items() if v is not None} == back.args
        if (back.function, back.control_label, back.status) != (a.function, a.control_label, a.status) or not same_args:
            return False
    return True


def verify(traj: Trajectory, action_set: ActionSet, judge: Judge | None = None) -> Trajectory:
    """Fill ``outcome.checks`` and ``outcome.verdict`` (returns the same object)."""
    checks = {"format": format_ok(traj, action_set),
              "execution": all(s.error is None for s in traj.steps),
              "outcome": bool(traj.outcome.success)}
    checkable = traj.task.family != FreeRequest.name
    if judge is not None:
        answer = judge(traj)
        checks["judge"] = answer == "yes"
        if not checkable:
            checks["outcome"] = answer == "yes"
    traj.outcome.checks = checks
    if checkable and not checks["outcome"]:
        verdict = "fail"
    elif all(checks.values()) and (checkable or judge is not None):
        verdict = "pass"
    else:
        verdict = "unsure"
    traj.outcome.verdict = verdict
    return traj


def llm_judge(backend) -> Judge:
    """A judge asking a configured model whether the final state does what was asked."""
    def judge(traj: Trajectory) -> str:
        last = traj.steps[-1].observation if traj.steps else None
        actions = "\n".join(s.action.call_text() for s in traj.steps)
        asked = prompt("data", "judge_outcome").format(request=traj.task.request, actions=actions,
                                                       screen=last.state if last else "(none)")
        text = backend.chat([{"role": "user", "content": asked}], max_tokens=4).text.strip().lower()
        return next((w for w in ("yes", "no", "unsure") if text.startswith(w)), "unsure")
    return judge
