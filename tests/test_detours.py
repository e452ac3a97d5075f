"""Detours: expert episodes with one skipped step and its repair, trained with no loss on the mistake
(session 9 on issue #20: a forged model pressed Numbering without a selection, saw the error, and
pressed it again)."""

from __future__ import annotations

import pytest

from lamforge.agents.expert import DetourExpert, ReferenceExpert
from lamforge.agents.runner import run_episode
from lamforge.data.collect import collect_trajectories
from lamforge.envs import make
from lamforge.envs.office.actions import OFFICE_ACTIONS
from lamforge.envs.tasks import sample_tasks
from lamforge.training.phases import detour_trajectories
from lamforge.training.rows import IGNORE, trajectory_row


def _task(family: str):
    return next(t for t in sample_tasks("office", 400, seed=5) if t.family == family)


def _play(agent, task):
    env = make("office", max_steps=10)
    try:
        return run_episode(env, agent, task)
    finally:
        env.close()


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_a_detour_makes_the_mistake_sees_the_error_and_repairs_it():
    task = _task("numbered_list")
    plain = _play(ReferenceExpert(), task)
    agent = DetourExpert()
    detour = _play(agent, task)
    at = agent.at
    assert at is not None and detour.success
    # the mistake is the step after the skipped one, played first, and the real environment refused it
    assert detour.steps[at].action.control_name == plain.steps[at + 1].action.control_name
    assert "select" in detour.steps[at].error
    # then the whole solution, from the skipped step on
    repaired = [(s.action.function, s.action.control_name) for s in detour.steps[at + 1:]]
    assert repaired == [(s.action.function, s.action.control_name) for s in plain.steps[at:]]
    assert _play(DetourExpert(), task).steps[at].error == detour.steps[at].error  # the same draw again


def test_a_one_step_task_has_no_detour():
    agent = DetourExpert()
    traj = _play(agent, _task("save_as"))
    if len(traj.steps) == 1:
        assert agent.at is None and traj.success


def test_the_mistake_carries_no_loss_and_its_repair_does(tokenizer, tmp_path):
    task = _task("numbered_list")
    collect_trajectories([task], tmp_path / "detours", expert="detour", workers=1, max_steps=10)
    [traj] = detour_trajectories(tmp_path)
    at = traj.meta["detour_step"]
    row = trajectory_row(tokenizer, traj, OFFICE_ACTIONS)
    learnt = tokenizer.decode([t for t in row["labels"] if t != IGNORE])
    mistake = traj.steps[at].action.control_name
    repair = [s.action.control_name or s.action.function for s in traj.steps[at + 1:]]
    assert all(r in learnt for r in repair)
    assert learnt.count(mistake) == repair.count(mistake)  # only where the repair presses it
    assert len(row["action_spans"]) == len(traj.steps) - 1
    # without the mark every action would be a target
    traj.meta.pop("detour_step")
    full = tokenizer.decode([t for t in trajectory_row(tokenizer, traj, OFFICE_ACTIONS)["labels"] if t != IGNORE])
    assert full.count(mistake) == repair.count(mistake) + 1


def test_only_repaired_detours_with_an_error_are_kept(tmp_path):
    tasks = [_task("numbered_list"), _task("page_break"), _task("add_comment")]
    collect_trajectories(tasks, tmp_path / "detours", expert="detour", workers=1, max_steps=10)
    kept = detour_trajectories(tmp_path)
    for t in kept:
        at = t.meta["detour_step"]
        assert t.success and t.steps[at].error
        assert all(s.error is None for i, s in enumerate(t.steps) if i != at)
    assert "numbered_list" in {t.task.family for t in kept}
    assert detour_trajectories(tmp_path / "nowhere") == []


def test_rows_with_no_target_inside_max_length_are_left_out_and_none_left_is_an_error():
    """A row whose targets all lie past max_length trains on nothing (the service forge's rows once
    did: its system prompt alone outgrew the limit); it is dropped, and a trainer given only such
    rows stops with a clear error."""
    from lamforge.core.errors import TrainingDataError
    from lamforge.training.sft import rows_with_targets

    late = {"input_ids": list(range(10)), "labels": [IGNORE] * 8 + [8, 9]}
    early = {"input_ids": list(range(10)), "labels": [0, 1] + [IGNORE] * 8}
    with pytest.warns(UserWarning, match="1 of 2 rows"):
        assert rows_with_targets([late, early], 6) == [early]
    assert rows_with_targets([late, early], 10) == [late, early]
    with pytest.raises(TrainingDataError, match="max_length=6"):
        rows_with_targets([late], 6)


def test_the_service_prompt_does_not_list_the_catalog():
    """The service actions are the whole catalog; the system prompt points at the functions on
    screen instead of listing hundreds of signatures."""
    from lamforge.agents.prompting import episode_messages
    from lamforge.envs.service.functions import SERVICE_ACTIONS

    system = episode_messages("lamforge/Service-v0", SERVICE_ACTIONS, "Cancel order 1036.", [], None, [])[0]
    assert len(SERVICE_ACTIONS) > 100 and len(system["content"]) < 1500
    assert "get_order(order_id=4417)" in system["content"]
