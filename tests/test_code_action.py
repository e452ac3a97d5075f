"""The code action (issue #18, PAL): the service's run_python runs model-written code in the bubblewrap
sandbox, and the partial_refund family needs it (the amount is a share of the order's total)."""

from __future__ import annotations

import random
import shutil

import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.runner import run_episode
from lamforge.core.safety import runtime_policy
from lamforge.core.schemas import Action
from lamforge.envs import make
from lamforge.envs.tasks import families

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bubblewrap: make bubblewrap")


@pytest.fixture(scope="module")
def service():
    env = make("service")
    yield env
    env.close()


def _task(seed: int):
    return families("service")["partial_refund"].sample(random.Random(seed))


def test_the_expert_computes_the_share_in_the_sandbox_and_refunds_it(service):
    for seed in range(3):
        task = _task(seed)
        traj = run_episode(service, ReferenceExpert(), task)
        assert traj.success, traj.outcome.reason
        code_step = next(s for s in traj.steps if s.action.function == "run_python")
        assert code_step.error is None
        assert f'"result": {task.params["amount"]}' in traj.steps[2].observation.state  # what the model reads


def test_code_errors_and_hostile_code_come_back_as_the_calls_error(service):
    service.reset(options={"task": _task(5)})
    def run(code: str) -> str | None:
        return service.step(Action(function="run_python", args={"code": code}))[0].last_action_error

    assert "ZeroDivisionError" in run("result = 1 / 0")
    error = run("result = open('/etc/passwd').read()")  # the sandbox has no /etc
    assert error and "root:" not in error
    assert "timed out" in run("while True: pass")
    assert run("result = 2 + 2") is None


def test_the_guard_trusts_a_share_of_a_looked_up_total_and_nothing_made_up(service):
    task = _task(7)
    order, amount = task.params["order_id"], task.params["amount"]
    service.reset(options={"task": task})
    policy = runtime_policy(service, None, yes=True)
    refund = lambda value: Action(function="issue_refund", args={"order_id": order, "amount": value})  # noqa: E731
    assert not policy.review(refund(amount), "issue_refund cannot be undone")[0]  # nothing computed yet
    service.step(Action(function="get_order", args={"order_id": order}))
    code = f"result = round({task.params['total']} * {task.params['percent']} / 100, 2)"
    service.step(Action(function="run_python", args={"code": code}))
    assert policy.review(refund(amount), "issue_refund cannot be undone")[0]
    # an amount the code made up from nothing grounded, or larger than what it was computed from
    service.step(Action(function="run_python", args={"code": "result = 100 + 100 + 100"}))
    assert not policy.review(refund(300), "issue_refund cannot be undone")[0]
    service.step(Action(function="run_python", args={"code": f"result = {task.params['total']} * 3"}))
    assert not policy.review(refund(round(task.params["total"] * 3, 2)), "issue_refund cannot be undone")[0]
