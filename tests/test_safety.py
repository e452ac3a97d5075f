"""Irreversible actions need a yes (issue #18, first part): the environment says which actions cannot be
undone, the runtime asks a policy before each, and a denied action does not run."""

from __future__ import annotations

import random

import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.runner import run_episode
from lamforge.core.safety import ConfirmPolicy
from lamforge.core.schemas import Action
from lamforge.envs import action_set_of, make
from lamforge.envs.tasks import families


@pytest.fixture
def office():
    env = make("office", max_steps=6)
    yield env
    env.close()


def _task(family: str, seed: int = 1):
    return families("office")[family].sample(random.Random(seed))


def test_the_office_says_what_cannot_be_undone(office):
    base = office.unwrapped
    obs, _ = office.reset(options={"task": _task("delete_paragraph")})
    label = {c.name: c.label for c in obs.controls}
    assert base.action_risk(Action(function="type_keys", args={"keys": "delete"})) == "deletes the selection"
    assert base.action_risk(Action(function="type_keys", args={"keys": "ctrl+b"})) is None
    assert "replaces the text" in base.action_risk(Action(function="set_text", control_label=label["Paragraph 1"],
                                                          args={"text": "x"}))
    assert base.action_risk(Action(function="click", control_label=label["Bold"])) is None
    assert base.action_risk(Action(function="save_as", args={"file_name": "new_name.docx"})) is None
    existing = base.app.path.name
    assert base.action_risk(Action(function="save_as", args={"file_name": existing})) == f"overwrites {existing}"


def test_the_service_declares_money_and_messages_irreversible():
    actions = action_set_of("service")
    assert {s.name for s in actions if s.irreversible} >= {"issue_refund", "cancel_order", "send_email"}
    assert not actions.get("get_order").irreversible


def test_a_denied_delete_does_not_run_and_the_agent_is_told(office):
    asked = []
    policy = ConfirmPolicy(lambda q: asked.append(q) or "no")
    traj = run_episode(office, ReferenceExpert(), _task("delete_paragraph"), policy=policy)
    assert len(asked) == 1 and "type_keys(keys='delete')" in asked[0] and asked[0].endswith("[y/N]")
    step = traj.steps[1]
    assert step.action.function is None and "denied: deletes the selection" in step.user_reply
    assert not traj.success  # the paragraph is still there


@pytest.mark.parametrize("policy, recorded", [
    (ConfirmPolicy(lambda q: "yes"), "yes"),
    (ConfirmPolicy(approve_all=True), "approved by --yes"),
    (ConfirmPolicy(allow=["type_keys"]), "approved by the allow-list"),
])
def test_an_approved_delete_runs_and_the_approval_is_recorded(office, policy, recorded):
    traj = run_episode(office, ReferenceExpert(), _task("delete_paragraph"), policy=policy)
    assert traj.success and traj.steps[1].user_reply.startswith(recorded)


def test_with_no_one_to_ask_nothing_irreversible_runs(office):
    traj = run_episode(office, ReferenceExpert(), _task("delete_comment"), policy=ConfirmPolicy())
    deleted = [s for s in traj.steps if s.user_reply]
    assert deleted and "no one was there to approve it" in deleted[0].user_reply and not traj.success


def test_safe_actions_never_ask(office):
    traj = run_episode(office, ReferenceExpert(), _task("bold_text"), policy=ConfirmPolicy(lambda q: pytest.fail(q)))
    assert traj.success


def test_a_persons_run_keeps_the_guard_even_under_yes():
    """`lamforge run --yes` (runtime_policy) approves a refund grounded in the request and the looked-up
    order, and still asks about an amount nobody stated or a refund to an order nobody named: with no
    one to ask, those do not run."""
    from lamforge.core.safety import runtime_policy
    from lamforge.envs import make
    from lamforge.envs.tasks import task_for

    env = make("service")
    try:
        task = task_for("service", family="refund_order", seed=2)
        env.reset(options={"task": task})
        policy = runtime_policy(env, None, yes=True, allow="")
        order, total = task.params["order_id"], task.params["total"]
        refund = Action(function="issue_refund", args={"order_id": order, "amount": total})
        ok, said = policy.review(refund, "issue_refund cannot be undone")
        assert not ok and "guard" in said  # the total is nowhere yet: the order was not looked up
        env.step(Action(function="get_order", args={"order_id": order}))
        ok, said = policy.review(refund, "issue_refund cannot be undone")
        assert ok and "--yes" in said
        ok, said = policy.review(Action(function="issue_refund", args={"order_id": 9999, "amount": 1.0}),
                                 "issue_refund cannot be undone")
        assert not ok and "guard" in said
    finally:
        env.close()
