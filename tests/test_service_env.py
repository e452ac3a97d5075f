"""The customer-service environment: real SQLite database, real label and e-mail services on
loopback (their own processes), 300+ distractor functions, task checks, faults, cloning."""

from __future__ import annotations

import random
import re
import socket

import httpx
import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.runner import run_episode
from lamforge.core.schemas import Action, Status, Step
from lamforge.envs import make
from lamforge.envs.service.functions import BUSINESS_NAMES, DISTRACTORS, SERVICE_ACTIONS
from lamforge.envs.tasks import families
from lamforge.evaluation.tool_metrics import hallucination, tool_metrics

FAMILIES = families("service")


@pytest.fixture(scope="module")
def env():
    e = make("service", timeout=3.0)
    yield e
    e.close()


def _task(name: str, seed: int = 0):
    return FAMILIES[name].sample(random.Random(seed))


def _reset(env, name="return_and_email_label", seed=0):
    task = _task(name, seed)
    obs, _ = env.reset(options={"task": task})
    return task, obs


def _step(env, function, **args):
    obs, *_ = env.step(Action(function=function, args=args))
    return obs


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def test_catalog_has_300_distractors_with_real_schemas():
    assert len(DISTRACTORS) >= 300 and len(FAMILIES) >= 10
    names = [s.name for s in SERVICE_ACTIONS]
    assert len(names) == len(set(names)) and BUSINESS_NAMES <= set(names)
    for spec in SERVICE_ACTIONS:
        schema = spec.tool_schema()["function"]["parameters"]
        assert schema["type"] == "object" and set(schema["required"]) <= set(schema["properties"])


def test_services_start_on_loopback_and_stop_on_close():
    e = make("service")
    _reset(e)
    services = dict(e.unwrapped.services)
    assert {n: _port_open(s.url) for n, s in services.items()} == {"labels": True, "email": True}
    assert httpx.get(f"{services['email'].url}/_health").json() == {"ok": True}
    e.close()
    assert all(not s.alive() for s in services.values())
    assert not any(_port_open(s.url) for s in services.values())


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_check_false_before_and_true_after_reference(env, name):
    for seed in (0, 1):
        task = _task(name, seed)
        env.reset(options={"task": task})
        assert not task.check(env.unwrapped.judge()), f"{name} passes untouched"
        traj = run_episode(env, ReferenceExpert(), task)
        assert traj.success, [s.error for s in traj.steps]


def test_observation_shows_retrieved_functions_and_last_result(env):
    task, obs = _reset(env)
    assert {c.type for c in obs.controls} == {"Function"} and "get_order" in {c.name for c in obs.controls}
    obs = _step(env, "get_order", order_id=task.params["order_id"])
    assert obs.last_action_error is None and f'"order_id": {task.params["order_id"]}' in obs.state
    assert str(task.params["item_id"]) in obs.state


def test_the_screen_lists_twelve_described_functions_and_the_pins_the_lean_one_eight_and_an_unlisted_one_still_runs():
    task = _task("store_credit", 0)
    lean = make("service", timeout=3.0, top_k=8, describe=False, pinned=())
    try:
        obs, _ = lean.reset(options={"task": task})
        assert len(obs.controls) == 8
        # "Give <name> store credit" never says "find customer": retrieval alone leaves out the first
        # call, and the model must be able to call it anyway (the grammar offers every function)
        assert "find_customer" not in {c.name for c in obs.controls}
        obs, *_ = lean.step(Action(function="find_customer", args={"name": task.params["name"]}))
        assert obs.last_action_error is None and str(task.params["customer_id"]) in obs.state
    finally:
        lean.close()
    default = make("service", timeout=3.0)
    try:
        obs, _ = default.reset(options={"task": task})
        names = [c.name for c in obs.controls]
        assert {"get_order", "find_customer", "get_customer", "run_python"} <= set(names)
        assert 12 <= len(names) <= 16 and [c.label for c in obs.controls] == sorted(c.label for c in obs.controls)
        find = next(c for c in obs.controls if c.name == "find_customer")
        assert find.value.startswith("(name: string = None, email: string = None) Search customer accounts")
    finally:
        default.close()
    with pytest.raises(ValueError, match="not in the catalog"):
        make("service", pinned=("get_order", "teleport"))


def test_every_reference_call_is_on_the_screen_of_its_step(env):
    """Retrieval + pins show the function each step needs, in every family (the model picks among
    what it sees: a missing function was the biggest cause of failed service episodes)."""
    missing = []
    for name in sorted(FAMILIES):
        for seed in (0, 1):
            traj = run_episode(env, ReferenceExpert(), _task(name, seed))
            missing += [(name, seed, s.action.function) for s in traj.steps
                        if s.action.function and s.action.function not in {c.name for c in s.observation.controls}]
    assert missing == []


def test_distractor_runs_harmlessly(env):
    _reset(env)
    before = env.unwrapped._db_path.read_bytes()
    obs = _step(env, "list_campaigns", status="active")
    assert obs.last_action_error is None and '"count": 2' in obs.state
    assert env.unwrapped._db_path.read_bytes() == before


@pytest.mark.parametrize("mode, message", [("error", "failed: HTTP 500"), ("slow", "did not answer within"),
                                           ("garbage", "not JSON")])
def test_label_service_fault_is_a_clear_action_error(env, mode, message):
    task, _ = _reset(env)
    _step(env, "create_return", order_id=task.params["order_id"], item_id=task.params["item_id"])
    url = env.unwrapped.services["labels"].url
    httpx.post(f"{url}/_fault", json={"mode": mode, "delay": 6})
    try:
        obs = _step(env, "create_return_label", return_id=f"RMA-{task.params['order_id']}-1")
    finally:
        httpx.post(f"{url}/_fault", json={"mode": "none"})
    assert obs.last_action_error and message in obs.last_action_error
    assert env.unwrapped.judge().rows("labels") == []  # nothing half-written
    obs = _step(env, "create_return_label", return_id=f"RMA-{task.params['order_id']}-1")
    assert obs.last_action_error is None  # the service recovered, the episode went on


def test_killed_email_service_is_reported_and_restarted_at_reset():
    e = make("service", timeout=1.0)
    try:
        task, _ = _reset(e, "order_status_email")
        e.unwrapped.services["email"].kill()
        obs = _step(e, "send_email", to=task.params["email"], subject="x", body="y")
        assert "unreachable" in obs.last_action_error
        _reset(e, "order_status_email")
        obs = _step(e, "send_email", to=task.params["email"], subject="x", body="y")
        assert obs.last_action_error is None
    finally:
        e.close()


def test_bad_values_and_business_rules_are_errors(env):
    task, _ = _reset(env, "cancel_order")
    assert "no order 1" in _step(env, "get_order", order_id=1).last_action_error
    assert "not an e-mail address" in _step(env, "send_email", to="nobody", subject="s", body="b").last_action_error
    assert "must be integer" in _step(env, "get_order", order_id="four").last_action_error
    _step(env, "cancel_order", order_id=task.params["order_id"])
    assert "only pending" in _step(env, "cancel_order", order_id=task.params["order_id"]).last_action_error
    assert "at most" in _step(env, "issue_refund", order_id=task.params["order_id"], amount=99999).last_action_error


def test_unknown_function_and_parameter_are_errors_and_hallucinations(env):
    task, obs0 = _reset(env)
    obs = _step(env, "refund_everything", order_id=1)
    assert "unknown function" in obs.last_action_error
    obs = _step(env, "get_order", order_id=task.params["order_id"], customer="x")
    assert "has no argument" in obs.last_action_error
    made_up = Step(index=0, observation=obs0, action=Action(function="refund_everything", args={"order_id": 1}))
    bad_param = Step(index=1, observation=obs0, action=Action(function="get_order", args={"order_id": 1, "customer": 2}))
    unparsed = Step(index=2, observation=obs0, action=Action(), raw_output='lookup_order(order=4417)')
    good = Step(index=3, observation=obs0, action=Action(function="get_order", args={"order_id": 1}))
    assert [hallucination(s, SERVICE_ACTIONS) for s in (made_up, bad_param, unparsed, good)] == \
        ["function", "parameter", "function", None]


def test_tool_metrics_against_the_reference(env):
    task = _task("refund_item", 3)
    ref = FAMILIES["refund_item"].solution(task)
    traj = run_episode(env, ReferenceExpert(), task)
    m = tool_metrics([traj], {task.id: ref}, SERVICE_ACTIONS)
    assert (m["call_acc"], m["function_acc"], m["hallucination_rate"]) == (1.0, 1.0, 0.0)
    wrong = traj.model_copy(deep=True)
    wrong.steps[2].action.args["amount"] = 1.0  # get_order, run_python right; issue_refund's amount wrong
    m = tool_metrics([wrong], {task.id: ref}, SERVICE_ACTIONS)
    assert (m["call_acc"], m["function_acc"]) == (pytest.approx(2 / 3), 1.0)


def test_cloning_restores_database_and_outbox(env):
    task, _ = _reset(env, "cancel_and_notify")
    base = env.unwrapped
    saved = base.clone_state()
    for a in FAMILIES["cancel_and_notify"].solution(task):
        env.step(a.model_copy(update={"status": Status.CONTINUE}))
    assert task.check(base.judge())
    obs = base.restore_state(saved)
    state = base.judge()
    assert not task.check(state) and state.emails() == [] and obs.state == "No calls yet."
    assert {o["status"] for o in state.rows("orders") if o["id"] == task.params["order_id"]} == {"pending"}


def test_database_url_path_dump_and_load(tmp_path):
    """A database given by URL (as for PostgreSQL) is seeded per episode and cloned by rows."""
    e = make("service", db_url=f"sqlite:///{tmp_path / 'server.sqlite'}")
    try:
        task, _ = _reset(e, "store_credit")
        saved = e.unwrapped.clone_state()
        traj = run_episode(e, ReferenceExpert(), task)
        assert traj.success
        e.unwrapped.restore_state(saved)
        assert not task.check(e.unwrapped.judge())
    finally:
        e.close()


def test_dfsdt_searches_with_backoff_and_leaves_env_as_found(env, tiny_backend):
    from lamforge.agents.tree_search import TreeSearchAgent

    task = _task("refund_order", 0)
    agent = TreeSearchAgent(env, tiny_backend, SERVICE_ACTIONS, width=2, budget=4, max_depth=3)
    obs, _ = env.reset(options={"task": task})
    before = env.unwrapped._db_path.read_bytes()
    agent.start(task, obs)
    stats = agent.last_search
    assert 0 < stats.nodes <= 4 and stats.proposals >= 1
    assert env.unwrapped._db_path.read_bytes() == before and env.unwrapped.results == []
    traj = run_episode(env, TreeSearchAgent(env, tiny_backend, SERVICE_ACTIONS, budget=3, max_depth=2), task)
    assert len(traj.steps) >= 1


def test_self_instruct_tool_calls_pass_three_checks(tmp_path):
    from lamforge.data.store import RecordStore
    from lamforge.core.schemas import Trajectory
    from lamforge.data.tool_calls import generate, outcome_ok

    summary = generate("service", 6, tmp_path / "tc")
    records = list(RecordStore(tmp_path / "tc", Trajectory, readonly=True))
    assert summary["candidates"] == len(records) == 6
    assert all(set(r.outcome.checks) == {"format", "execution", "outcome"} for r in records)
    assert all(r.outcome.verdict == ("pass" if all(r.outcome.checks.values()) else "fail") for r in records)
    # a request that does not state the call's values fails the outcome check
    assert not outcome_ok("cancel_order", {"order_id": 4417}, "", (1,), (2,), "Cancel the order.")
    assert outcome_ok("cancel_order", {"order_id": 4417}, "", (1,), (2,), "Cancel order 4417.")


def test_self_instruct_never_draws_from_held_out_stores(tmp_path):
    from lamforge.core.errors import LamforgeError
    from lamforge.core.schemas import Trajectory
    from lamforge.data.taskfile import split_pool
    from lamforge.data.store import RecordStore
    from lamforge.data.tool_calls import generate
    from lamforge.envs.tasks import families

    held = set(split_pool("service", 200, 0)[2]["heldout_templates"])
    assert held  # the service split holds out whole stores
    generate("service", 8, tmp_path / "tc", exclude_templates=held)
    used = {r.task.template for r in RecordStore(tmp_path / "tc", Trajectory, readonly=True)}
    assert used and not used & held
    every = {t for f in families("service").values() for t in f.templates}
    with pytest.raises(LamforgeError, match="held out"):
        generate("service", 1, tmp_path / "none", exclude_templates=every)


def test_a_service_does_not_outlive_a_killed_parent():
    """The label/e-mail services run in their own session; when the process that started them is
    killed (no close, no atexit), they must still go away instead of piling up as orphans."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = ("from lamforge.envs.service.services import ServiceProcess; import time; "
            "s = ServiceProcess('labels'); print(s.proc.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:  # gone, or a zombie waiting for an init that does not reap: either way it has exited
            if open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.2)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the service outlived its killed parent")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_plan_names_only_numbers_and_addresses_the_request_gives(name):
    # the agent plans before its first call: a customer id or e-mail found by a lookup cannot be in it
    for seed in range(4):
        task = _task(name, seed)
        for step in FAMILIES[name].plan(task):
            for value in re.findall(r"[\w.+-]+@[\w.-]+|\b\d{2,}\b", step):
                assert value in task.request, (task.request, step)
