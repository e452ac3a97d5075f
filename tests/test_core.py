"""Shared schemas and the one action definition rendered three ways."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.human import HumanAgent
from lamforge.agents.runner import read_log, run_episode
from lamforge.core.errors import BadArguments, TaskFileError, UnknownFunction
from lamforge.core.schemas import SCHEMAS, Action, Status, Trajectory
from lamforge.envs import make
from lamforge.envs.office.actions import OFFICE_ACTIONS
from lamforge.envs.tasks import families


def test_every_schema_exports_json_schema():
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema()
        assert schema["type"] == "object", name


def test_trajectory_round_trips_through_json_and_validates(tmp_path):
    env = make("office")
    task = families("office")["insert_table"].sample(random.Random(1))
    traj = run_episode(env, ReferenceExpert(), task)
    text = traj.model_dump_json()
    assert Trajectory.model_validate_json(text) == traj
    jsonschema.validate(json.loads(text), Trajectory.model_json_schema())


def test_action_renders_as_prompt_text_tool_schema_and_call():
    spec = OFFICE_ACTIONS.get("set_text")
    assert spec.prompt_text().startswith("set_text(control: integer, text: string)")
    tool = spec.tool_schema()
    assert tool["type"] == "function" and tool["function"]["parameters"]["required"] == ["control", "text"]
    jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])
    action = OFFICE_ACTIONS.from_tool_call("set_text", {"control": 4, "text": "hi"})
    assert action.control_label == 4 and action.args == {"text": "hi"}
    assert OFFICE_ACTIONS.to_tool_call(action) == {"name": "set_text", "arguments": {"control": 4, "text": "hi"}}

    calls = []

    class Target:
        def set_text(self, control, text):
            calls.append((control, text))

    OFFICE_ACTIONS.execute(action, Target())
    assert calls == [(4, "hi")]


def test_argument_coercion_and_rejection():
    spec = OFFICE_ACTIONS.get("insert_table")
    assert spec.validate_args(Action(function="insert_table", args={"rows": "3", "columns": 2.0})) == {
        "rows": 3, "columns": 2}
    with pytest.raises(BadArguments):
        spec.validate_args(Action(function="insert_table", args={"rows": "three", "columns": 2}))
    with pytest.raises(UnknownFunction):
        OFFICE_ACTIONS.get("teleport")


def test_human_agent_parses_terminal_input():
    human = HumanAgent(OFFICE_ACTIONS, read=lambda _: "", write=lambda _: None)
    assert human.parse("click 12") == Action(function="click", control_label=12)
    assert human.parse('set_text 5 "Hello world"').args == {"text": "Hello world"}
    assert human.parse("select_paragraph index=3").args == {"index": "3"}
    assert human.parse("finish").status == Status.FINISH
    with pytest.raises(ValueError):
        human.parse("click")


def test_human_agent_drives_an_episode_from_typed_lines():
    env = make("office")
    task = families("office")["track_changes"].sample(random.Random(0))
    obs, _ = env.reset(options={"task": task})
    review, track = obs.find("Review").label, None
    lines = iter([f"click {review}", "not a command", "CLICK_LATER"])

    def read(_prompt):
        nonlocal track
        line = next(lines)
        if line == "CLICK_LATER":
            return f"click {env.unwrapped._last_obs.find('Track Changes').label}"
        return line

    class Finisher(HumanAgent):
        def act(self, observation, history):
            d = super().act(observation, history)
            if len(history) == 1:
                d.action = d.action.model_copy(update={"status": Status.FINISH})
            return d

    traj = run_episode(env, Finisher(OFFICE_ACTIONS, read=read, write=lambda _: None), task)
    assert traj.success and len(traj.steps) == 2


def test_run_log_survives_a_cut(tmp_path):
    env = make("office")
    task = families("office")["add_comment"].sample(random.Random(0))
    log = tmp_path / "run.jsonl"
    full = run_episode(env, ReferenceExpert(), task, log=log)
    assert read_log(log).outcome.success and len(read_log(log).steps) == len(full.steps)
    lines = log.read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # killed mid-write
    partial = read_log(cut)
    assert partial.outcome.reason == "interrupted" and len(partial.steps) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n{oops\n" + lines[1] + "\n")
    with pytest.raises(TaskFileError, match="bad.jsonl:2"):
        read_log(bad)
