"""Evaluation metrics on hand-made trajectories with known answers; offline and online evaluation on
the real Office environment with the reference expert, including a worker process that dies."""

from __future__ import annotations

import functools
import os
import time

import pytest

from lamforge.agents.base import Decision
from lamforge.agents.expert import ReferenceExpert
from lamforge.core.schemas import Action, Control, Observation, Outcome, Status, Step, Task, TaskPlan, Trajectory
from lamforge.envs.tasks import sample_tasks
from lamforge.evaluation.metrics import (
    args_equal,
    normalise_step,
    offline_metrics,
    online_metrics,
    percentile,
    plan_metrics,
    planning_metrics,
    score_step,
    score_trajectory,
)
from lamforge.evaluation.offline import offline_eval, plan_eval
from lamforge.evaluation.online import online_eval

C, F, FAIL, PENDING = Status.CONTINUE, Status.FINISH, Status.FAIL, Status.PENDING
OBS = Observation(request="make it bold", state="file a.docx; tab Home",
                  controls=[Control(label=i, name=f"Control {i}", type="Button") for i in range(1, 11)])


def act(function: str | None, label: int | None = None, status: Status = C, **args) -> Action:
    return Action(function=function, control_label=label, status=status, args=args)


def traj(task_id: str, actions: list[Action], alternatives: dict[int, list[Action]] | None = None,
         family: str = "fam", **kw) -> Trajectory:
    steps = [Step(index=i, observation=OBS, action=a, alternatives=(alternatives or {}).get(i, []), **kw)
             for i, a in enumerate(actions)]
    task = Task(id=task_id, family=family, request=f"request {task_id}", env_id="lamforge/Office-v0")
    return Trajectory(id=f"{task_id}-t", task=task, agent="ref", steps=steps)


def one_step(reference: Action, alternatives: list[Action] | None = None) -> Step:
    return Step(index=0, observation=OBS, action=reference, alternatives=alternatives or [])


def parts(score) -> tuple[bool, bool, bool, bool]:
    return score.object, score.operation, score.status, score.arguments


# --- step scoring -----------------------------------------------------------------------------------


def test_each_component_is_judged_on_its_own():
    step = one_step(act("click", 5))
    assert parts(score_step(step, act("click", 5))) == (True, True, True, True)
    assert parts(score_step(step, act("click", 6))) == (False, True, True, True)
    assert parts(score_step(step, act("select_option", 5, option="x"))) == (True, False, True, False)
    assert parts(score_step(step, act("click", 5, F))) == (True, True, False, True)
    assert not score_step(step, act("click", 6)).success
    assert score_step(step, act("click", 5)).success_with_args


@pytest.mark.parametrize("status", [F, FAIL, PENDING])
def test_fail_and_pending_are_wrong_unless_the_reference_has_them(status):
    assert not score_step(one_step(act("click", 5, C)), act("click", 5, status)).status
    assert score_step(one_step(act("click", 5, status)), act("click", 5, status)).status


def test_actions_without_a_control():
    step = one_step(act("select_paragraph", index=2))
    assert score_step(step, act("select_paragraph", index=2)).success
    assert parts(score_step(step, act("select_paragraph", 3, index=2))) == (False, True, True, True)
    assert not score_step(one_step(act("click", 5)), act("click", None)).object
    assert score_step(one_step(act(None, status=F)), act(None, status=F)).success_with_args


def test_alternatives_widen_what_is_right():
    step = one_step(act("click", 5), [act("click", 7), act("type_keys", keys="ctrl+b"),
                                     act("click", 8, F)])
    assert score_step(step, act("click", 7)).success
    assert score_step(step, act("type_keys", keys=" Ctrl+B ")).success_with_args
    assert score_step(step, act("click", 8, F)).success  # its status comes with it
    assert not score_step(step, act("click", 5, F)).status
    # an alternative's function counts only on that alternative's control
    assert parts(score_step(step, act("type_keys", 5, keys="ctrl+b")))[:2] == (True, False)
    assert parts(score_step(step, act("click", None)))[:2] == (True, False)
    assert parts(score_step(step, act("click", 9)))[:2] == (False, True)


def test_argument_comparison():
    assert args_equal({"text": " Hello World "}, {"text": "hello world"})
    assert args_equal({"size": 12.0}, {"size": 12})
    assert args_equal({"size": "12"}, {"size": 12})  # a quoted number is the number
    assert args_equal({"keys": ["Ctrl", "B"]}, {"keys": ["ctrl", "b"]})
    assert not args_equal({"text": "hello"}, {"text": "hello", "index": 1})  # missing key
    assert not args_equal({"text": "hello", "x": 1}, {"text": "hello"})  # extra key
    assert not args_equal({"text": "hello"}, {"text": "help"})
    assert not args_equal({"flag": True}, {"flag": 1})
    assert not args_equal({"size": 12}, {"size": 12.5})
    assert args_equal({}, {})


# --- offline aggregation ------------------------------------------------------------------------------

REF_A = [act("click", 1), act("set_text", 2, text="Hi"), act("click", 3, F)]
REF_B = [act("click", 1), act("click", 4), act("select_option", 10, option="Yellow"), act("click", 3, F)]
PRED_B = [act("click", 1), act("click", 5), act("select_option", 10, option="Green"), act("click", 3, C)]


def test_offline_metrics_known_values():
    pred_a = [act("click", 1), act("set_text", 2, text="hi "), act("click", 3, F)]
    m = offline_metrics([(traj("A", REF_A), pred_a), (traj("B", REF_B), PRED_B)])
    # B: step 1 wrong control, step 2 wrong argument only, step 3 wrong status
    assert m["object_acc"] == pytest.approx(6 / 7)
    assert m["operation_acc"] == 1.0
    assert m["status_acc"] == pytest.approx(6 / 7)
    assert m["argument_acc"] == pytest.approx(6 / 7)
    assert m["step_success_rate"] == pytest.approx(5 / 7)
    assert m["step_success_with_args"] == pytest.approx(4 / 7)
    assert m["task_success_rate"] == 0.5
    assert m["counts"] == {"steps": 7, "trajectories": 2, "tasks": 2, "excluded_tasks": 0,
                           "missing_steps": 0, "extra_steps": 0}


def test_task_success_is_averaged_per_task_first():
    pairs = [(traj("A", REF_A), REF_A), (traj("A", REF_A), REF_A[:2] + [act("click", 3)]),
             (traj("B", REF_B), REF_B)]
    assert offline_metrics(pairs)["task_success_rate"] == 0.75  # A: 1/2, B: 1 (micro would be 2/3)


def test_empty_reference_is_excluded():
    m = offline_metrics([(traj("E", []), []), (traj("A", REF_A), REF_A)])
    assert m["task_success_rate"] == 1.0 and m["step_success_rate"] == 1.0
    assert m["counts"]["excluded_tasks"] == 1 and m["counts"]["steps"] == 3
    only_empty = offline_metrics([(traj("E", []), [act("click", 1)])])
    assert only_empty["step_success_rate"] is None and only_empty["task_success_rate"] is None
    assert only_empty["counts"]["extra_steps"] == 1


def test_extra_predictions_after_finish_are_ignored_but_counted():
    pred = REF_A + [act("click", 9), act(None, status=F)]
    assert len(score_trajectory(traj("A", REF_A), pred)) == 3
    m = offline_metrics([(traj("A", REF_A), pred)])
    assert m["task_success_rate"] == 1.0 and m["counts"]["extra_steps"] == 2


def test_missing_predictions_count_wrong():
    scores = score_trajectory(traj("B", REF_B), REF_B[:1])
    assert [s.success for s in scores] == [True, False, False, False]
    assert [s.missing for s in scores] == [False, True, True, True]
    m = offline_metrics([(traj("B", REF_B), REF_B[:1])])
    assert m["step_success_rate"] == 0.25 and m["task_success_rate"] == 0.0
    assert m["counts"]["missing_steps"] == 3


# --- planning ----------------------------------------------------------------------------------------


def test_normalise_step():
    assert normalise_step("1. Go to **Design** > Page Borders.") == {"go", "design", "page", "borders"}
    assert normalise_step("Step 2: Click 'OK'") == {"click", "ok"}
    assert normalise_step("- Set the font size to 12") == {"set", "font", "size", "12"}


def test_plan_matching():
    ref = ["1. Click 'Review'.", "2. Click **New Comment**", "3. Enter 'Fix' in 'Comment text'", "4. Click 'OK'"]
    m = plan_metrics(["Click 'Review'", "click new comment", "Type the comment"], ref)
    assert (m["matched"], m["step_precision"], m["step_recall"], m["task_success"]) == (2, 2 / 3, 0.5, False)
    assert [p[:2] for p in m["pairs"]] == [(0, 0), (1, 1)]
    # greedy by similarity, one to one: the exact match wins, the duplicate stays unmatched
    m = plan_metrics(["bold selected text", "bold text"], ["bold text"])
    assert m["pairs"] == [(1, 0, 1.0)] and m["step_precision"] == 0.5 and m["task_success"]
    # the threshold: token-set F1 0.5 matches, 0.4 does not
    assert plan_metrics(["open menu"], ["open file"])["matched"] == 1
    assert plan_metrics(["open menu"], ["open file dialog"])["matched"] == 0


def test_plan_success_allows_two_extra_steps():
    ref = ["Click 'Bold'", "Click 'Save'"]
    assert plan_metrics(ref + ["look around", "wait a bit"], ref)["task_success"]
    assert not plan_metrics(ref + ["look around", "wait a bit", "sigh"], ref)["task_success"]
    assert plan_metrics([], [])["task_success"]
    empty = plan_metrics(["", "  "], ref)
    assert (empty["step_precision"], empty["step_recall"], empty["task_success"]) == (0.0, 0.0, False)


def test_planning_metrics_are_macro_averages():
    good = (["Click 'Bold'"], ["Click 'Bold'"])
    half = (["Click 'Bold'", "dance"], ["Click 'Bold'", "Click 'Italic' now", "Save the file"])
    m = planning_metrics([good, half])
    assert m["task_success_rate"] == 0.5
    assert m["step_precision"] == pytest.approx(0.75)
    assert m["step_recall"] == pytest.approx((1 + 1 / 3) / 2)


# --- online metrics -----------------------------------------------------------------------------------


def _live(task_id: str, family: str, success: bool, seconds: float, latencies: list[float | None],
          errors: list[str | None] | None = None) -> Trajectory:
    t = traj(task_id, [act("click", 1)] * len(latencies), family=family)
    for s, lat, err in zip(t.steps, latencies, errors or [None] * len(latencies)):
        s.latency_s, s.error = lat, err
    t.outcome = Outcome(success=success, reason="agent finished" if success else "agent gave up")
    t.seconds = seconds
    return t


def test_online_metrics_known_values():
    m = online_metrics([_live("1", "a", True, 2.0, [0.1, 0.3]), _live("2", "a", False, 4.0, [0.2], ["boom"]),
                        _live("3", "b", True, 3.0, [0.4, None, 0.5])])
    assert m["task_success_rate"] == pytest.approx(2 / 3)
    assert m["mean_completion_s"] == 3.0 and m["mean_completion_s_success"] == 2.5
    assert m["mean_steps"] == 2.0
    assert m["mean_step_latency_s"] == pytest.approx(0.3)
    assert m["p95_step_latency_s"] == pytest.approx(0.48)  # between 0.4 and 0.5 at rank 3.8
    assert m["error_step_rate"] == pytest.approx(1 / 6)
    assert m["per_family"] == {"a": {"tasks": 2, "success_rate": 0.5}, "b": {"tasks": 1, "success_rate": 1.0}}
    assert m["failure_reasons"] == {"agent gave up": 1}
    assert online_metrics([])["task_success_rate"] is None
    assert percentile([7.0], 95) == 7.0 and percentile([], 95) is None


# --- offline and online evaluation on the Office environment -----------------------------------------


class _QuitsEarly(ReferenceExpert):
    def act(self, observation, history):
        decision = super().act(observation, history)
        return Decision(decision.action.model_copy(update={"status": F}))


def test_offline_eval_with_teacher_forcing(expert_refs):
    m = offline_eval(ReferenceExpert(), expert_refs)
    assert m["step_success_rate"] == 1.0 and m["task_success_rate"] == 1.0
    assert set(m["per_family"]) == {r.task.family for r in expert_refs}
    # asked at every step although it says FINISH at once: only the status is wrong, and only before the end
    quits = offline_eval(_QuitsEarly(), expert_refs)
    n_steps = sum(len(r.steps) for r in expert_refs)
    assert quits["counts"]["steps"] == n_steps and quits["object_acc"] == 1.0
    assert quits["status_acc"] == pytest.approx(len(expert_refs) / n_steps)


def test_plan_eval(expert_refs):
    pairs = [TaskPlan(task_id=r.task.id, task=r.task.request, plan=r.initial_plan, family=r.task.family)
             for r in expert_refs]
    plans = {p.task: [f"{i}. {s}" for i, s in enumerate(p.plan, 1)] for p in pairs}
    m = plan_eval(plans.__getitem__, pairs)
    assert (m["task_success_rate"], m["step_precision"], m["step_recall"]) == (1.0, 1.0, 1.0)
    assert plan_eval(lambda request: [], pairs)["task_success_rate"] == 0.0


class _DiesOn(ReferenceExpert):
    """Kills its own process (as the OOM killer would) on the second step of one task family."""

    def __init__(self, family: str, how: str = "exit"):
        super().__init__()
        self.family, self.how, self._current = family, how, ""

    def start(self, task, observation):
        self._current = task.family
        return super().start(task, observation)

    def act(self, observation, history):
        if self._current == self.family and len(history) == 1:
            if self.how == "exit":
                os._exit(3)
            time.sleep(60)
        return super().act(observation, history)


def test_online_eval_in_worker_processes_keeps_order():
    tasks = sample_tasks("office", 6)
    seen: list[tuple[int, int]] = []
    trajs = online_eval(ReferenceExpert, tasks, workers=2, progress=lambda d, n, t: seen.append((d, n)))
    assert [t.task.id for t in trajs] == [t.id for t in tasks]
    assert online_metrics(trajs)["task_success_rate"] == 1.0
    assert seen == [(i, 6) for i in range(1, 7)]
    assert all(t.agent == "expert" for t in trajs)


def test_online_eval_survives_a_killed_worker():
    tasks = sample_tasks("office", 6)  # one task per family; bold_text is the 4th
    trajs = online_eval(functools.partial(_DiesOn, "bold_text"), tasks, workers=2)
    assert [t.task.id for t in trajs] == [t.id for t in tasks]
    lost = [t for t in trajs if not t.success]
    assert [t.task.family for t in lost] == ["bold_text"]
    assert "worker process died (exit code 3)" in lost[0].outcome.reason
    assert len(lost[0].steps) == 1 and lost[0].meta["lost"]  # the step logged before it died
    assert sum(t.success for t in trajs) == 5


def test_online_eval_times_out_a_stuck_task():
    tasks = sample_tasks("office", 3)  # add_comment, align_paragraph, apply_style
    start = time.perf_counter()
    trajs = online_eval(functools.partial(_DiesOn, "align_paragraph", "hang"), tasks, workers=2,
                        task_timeout_s=1.5)
    assert time.perf_counter() - start < 30
    assert [t.success for t in trajs] == [True, False, True]
    assert trajs[1].outcome.reason.startswith("timed out after 1.5 s")


def test_online_eval_in_process_and_unpicklable_factory():
    tasks = sample_tasks("office", 2)
    trajs = online_eval(lambda: ReferenceExpert(), tasks, workers=1)
    assert [t.success for t in trajs] == [True, True]
    with pytest.raises(TypeError, match="picklable"):
        online_eval(lambda: ReferenceExpert(), tasks, workers=2)
