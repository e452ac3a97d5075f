"""Failure causes of held-out episodes, on hand-made trajectories beside a reference, and the Wilson
interval of a success rate at known values."""

from __future__ import annotations

import pytest

from lamforge.core.schemas import Action, Control, Observation, Outcome, Status, Step, Task, Trajectory
from lamforge.evaluation.failures import failure_cause, failure_causes
from lamforge.evaluation.metrics import wilson_interval

C, F = Status.CONTINUE, Status.FINISH
OBS = Observation(request="highlight it", state="tab Home",
                  controls=[Control(label=1, name="Bold", type="Button"), Control(label=2, name="Italic", type="Button"),
                            Control(label=7, name="Paragraph 1", type="Paragraph"),
                            Control(label=9, name="Paragraph 3", type="Paragraph")])
TASK = Task(id="t1", env_id="lamforge/Office-v0", family="bold_text", request="Bold 'quarterly results'.")


def act(function, label=None, status=C, **args):
    return Action(function=function, control_label=label, status=status, args=args)


def traj(actions, success=False, truncated=False, errors=None):
    steps = [Step(index=i, observation=OBS, action=a, error=(errors or {}).get(i)) for i, a in enumerate(actions)]
    return Trajectory(id="x", task=TASK, agent="a", steps=steps, outcome=Outcome(success=success, truncated=truncated))


REF = traj([act("drag_select", 7, text="quarterly results"), act("click", 1, F)], success=True)


@pytest.mark.parametrize("actions, kw, cause", [
    ([act("drag_select", 7, text="quarterly results"), act("click", 1, F)], {"success": True}, None),
    ([act("drag_select", 7, F, text="quarterly results")], {}, "finish_early"),
    ([act(None, None, F)], {}, "finish_early"),
    ([act("select_text", text="quarterly results"), act("click", 1, F)], {}, "wrong_operation"),
    ([act("drag_select", 9, text="quarterly results"), act("click", 1, F)], {}, "wrong_control"),
    ([act("drag_select", 7, text="quarterly"), act("click", 1, F)], {}, "wrong_argument"),
    ([act("drag_select", 7, text="Quarterly Results "), act("click", 2, F)], {}, "wrong_control"),
    ([act("drag_select", 7, text="quarterly results"), act("click", 5)], {"errors": {1: "no control 5"}}, "action_error"),
    ([act("click", 2)] * 4, {"truncated": True}, "loop"),
    ([act("drag_select", 7, text="quarterly results"), act("click", 1), act("click", 2)], {"truncated": True}, "no_finish"),
])
def test_first_difference_from_the_reference_names_the_cause(actions, kw, cause):
    assert failure_cause(traj(actions, **kw), REF) == cause


def test_without_a_reference_only_errors_loops_and_the_step_limit_are_named():
    assert failure_cause(traj([act("click", 2), act("click", 1)], truncated=True), None) == "step_limit"
    assert failure_cause(traj([act("click", 2)]), None) == "other"
    assert failure_cause(traj([act("click", 2)], errors={0: "bad"}), None) == "action_error"


def test_counts_match_references_by_task_and_skip_successes():
    other = Task(id="t2", env_id="lamforge/Office-v0", family="bold_text", request="Bold 'x'.")
    t2 = traj([act("click", 2, F)]).model_copy(update={"task": other})
    counts = failure_causes([traj([act("click", 1, F)]), t2, REF], [REF])
    assert counts == {"wrong_operation": 1, "other": 1}


@pytest.mark.parametrize("k, n, lo, hi", [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0),
                                          (30, 60, 0.3773, 0.6227)])
def test_wilson_interval_known_values(k, n, lo, hi):
    assert wilson_interval(k, n) == pytest.approx([lo, hi], abs=1e-4)
    assert wilson_interval(0, 0) is None
