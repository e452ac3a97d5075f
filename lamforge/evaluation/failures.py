"""Why a held-out episode failed: each failed trajectory is walked beside the reference expert's
trajectory of the same task and given one cause, at the first step where the two part.

    causes = failure_causes(model_trajectories, reference_trajectories)   # {"wrong_control": 7, ...}

Causes, in the order they are tested at the first differing step:

* ``action_error``: the environment rejected the model's action (unknown label, bad argument, ...);
* ``loop``: the model repeated one action three times in a row, starting at or before the first
  difference;
* ``finish_early``: it declared FINISH (or a pure FINISH/FAIL) while the reference still had steps;
* ``wrong_operation``: another function than the reference's;
* ``wrong_control``: the reference's function on another control;
* ``wrong_argument``: the reference's function and control with other arguments (text, option, ...);
* ``no_finish``: it did everything the reference did but did not stop, up to the step limit;
* ``step_limit``: the episode ran out of steps with no earlier difference;
* ``other``: no difference from the reference was found (e.g. it followed another valid route that
  failed later), or there is no reference to compare with.

Comparison is by control *name* (labels of new controls depend on the order they appeared), and a
model's route that differs from the reference's but is also right is counted at its first difference:
the causes say where the model left the known solution, which is what training can fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from lamforge.core.schemas import Action, Status, Step, Trajectory

CAUSES = ("action_error", "loop", "finish_early", "wrong_operation", "wrong_control", "wrong_argument",
          "no_finish", "step_limit", "other")


def _control_name(step: Step) -> str | None:
    a = step.action
    if a.control_label is None:
        return None
    control = step.observation.control(a.control_label)
    return control.name if control is not None else f"#{a.control_label}"


def _norm_args(action: Action) -> dict:
    return {k: str(v).strip().lower() for k, v in action.args.items() if v is not None}


def failure_cause(traj: Trajectory, reference: Trajectory | None) -> str | None:
    """The cause of a failed episode (None for a success)."""
    if traj.success:
        return None
    steps = traj.steps
    for i in range(2, len(steps)):
        same = [steps[j].action.call_text() for j in (i - 2, i - 1, i)]
        if steps[i].action.function and len(set(same)) == 1:
            loop_at = i - 2  # where the repeating began: a loop that starts at a wrong step is a loop
            break
    else:
        loop_at = None
    ref = reference.steps if reference is not None and reference.success else None
    for i, step in enumerate(steps):
        if loop_at is not None and i >= loop_at:
            return "loop"
        if step.error:
            return "action_error"
        if ref is None:
            continue
        a = step.action
        if i >= len(ref):
            return "no_finish"
        r = ref[i].action
        if a.function is None:  # a pure FINISH / FAIL where the reference still acts
            return "finish_early"
        if a.function != r.function:
            return "wrong_operation"
        if _control_name(step) != _control_name(ref[i]):
            return "wrong_control"
        if _norm_args(a) != _norm_args(r):
            return "wrong_argument"
        if a.status == Status.FINISH and i < len(ref) - 1:
            return "finish_early"
    if traj.outcome.truncated:
        return "step_limit"
    return "other"


def failure_causes(trajectories: Iterable[Trajectory], references: Iterable[Trajectory]) -> dict[str, int]:
    """Counts of each cause over the failed ``trajectories`` (references matched by task id)."""
    by_task = {r.task.id: r for r in references}
    counts = Counter(c for t in trajectories if (c := failure_cause(t, by_task.get(t.task.id))) is not None)
    return {c: counts[c] for c in CAUSES if counts[c]}
