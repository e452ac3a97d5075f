"""Check-then-FINISH: the screen after the last action is recorded, shows what the action did, and
training rows can end on it with a bare FINISH (session 7 on issue #20: models pressed a toggle a
second time because the screen after it read "No change")."""

from __future__ import annotations

import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.runner import read_log, run_episode
from lamforge.core.schemas import Status
from lamforge.envs import make
from lamforge.envs.office.actions import OFFICE_ACTIONS
from lamforge.envs.tasks import sample_tasks
from lamforge.training.rows import IGNORE, trajectory_row


def _expert_episode(family: str, log=None):
    task = next(t for t in sample_tasks("office", 400, seed=5) if t.family == family)
    env = make("office", max_steps=8)
    try:
        return run_episode(env, ReferenceExpert(), task, log=log)
    finally:
        env.close()


def _labelled(tokenizer, row) -> str:
    return tokenizer.decode([t for t in row["labels"] if t != IGNORE])


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_episode_keeps_the_screen_after_its_last_action_through_the_log(tmp_path):
    traj = _expert_episode("bulleted_list", log=tmp_path / "run.jsonl")
    assert traj.success and traj.final_observation is not None
    bullets = traj.final_observation.find("Bullets")
    assert bullets is not None and bullets.value == "on"
    assert read_log(tmp_path / "run.jsonl").final_observation == traj.final_observation


def test_list_buttons_show_their_state_and_a_second_press_turns_it_off():
    traj = _expert_episode("numbered_list")
    env = make("office", max_steps=8)
    try:
        obs, _ = env.reset(options={"task": traj.task})
        for step in traj.steps:
            obs, *_ = env.step(step.action.model_copy(update={"status": Status.CONTINUE}))
        assert obs.find("Numbering").value == "on"
        again = obs.find("Numbering")
        obs, *_ = env.step(traj.steps[-1].action.model_copy(update={"control_label": again.label,
                                                                     "status": Status.CONTINUE}))
        assert obs.find("Numbering").value in (None, "")
    finally:
        env.close()


def test_check_finish_row_ends_on_the_finished_screen_with_a_bare_finish(tokenizer):
    traj = _expert_episode("bulleted_list")
    plain = trajectory_row(tokenizer, traj, OFFICE_ACTIONS)
    checked = trajectory_row(tokenizer, traj, OFFICE_ACTIONS, check_finish=True)
    assert _labelled(tokenizer, plain).count("FINISH") == 1
    text = tokenizer.decode(checked["input_ids"])
    # the last action runs without FINISH, its result is shown, then the model says FINISH alone
    assert 'click(control="Bullets")' in _labelled(tokenizer, checked)
    assert 'Bullets") FINISH' not in text
    assert text.rstrip().rsplit("Bullets: on", 1)[1].count("FINISH") == 1
    assert len(checked["action_spans"]) == len(traj.steps) + 1


def test_check_finish_falls_back_to_the_plain_row_without_a_recorded_final_screen(tokenizer):
    traj = _expert_episode("bold_text").model_copy(update={"final_observation": None})
    assert trajectory_row(tokenizer, traj, OFFICE_ACTIONS, check_finish=True) == \
        trajectory_row(tokenizer, traj, OFFICE_ACTIONS)


class _CheckingExpert(ReferenceExpert):
    """The reference expert, but it leaves FINISH off its last action and says it once it sees the
    finished screen (what a model trained with ``data.check_finish`` does)."""

    def act(self, observation, history):
        if history and history[-1].action.status == Status.CONTINUE and not self._todo:
            from lamforge.agents.base import Decision
            from lamforge.core.schemas import Action

            return Decision(Action(status=Status.FINISH))
        decision = super().act(observation, history)
        if decision.action.status == Status.FINISH and decision.action.function is not None:
            decision.action.status = Status.CONTINUE
        return decision


def test_offline_eval_counts_act_then_finish_as_finishing_and_workers_agree():
    from lamforge.evaluation.offline import offline_eval

    refs = [_expert_episode(f) for f in ("bulleted_list", "bold_text", "add_comment")]
    checked = offline_eval(_CheckingExpert(), refs)
    assert checked["task_success_rate"] == 1.0
    unseen = [r.model_copy(update={"final_observation": None}) for r in refs]
    assert offline_eval(_CheckingExpert(), unseen)["task_success_rate"] == 0.0
    assert offline_eval(None, refs, make_agent=_CheckingExpert, workers=2) == checked
